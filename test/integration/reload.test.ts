/** Hot reload: SIGHUP (and --watch) swap config and users under live tunnels; bad configs are refused. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, serve } from '../helpers/cli.js';
import { connectTo, Reader, startEcho } from '../helpers/net.js';
import {
  connectIPv4,
  GREETING_NOAUTH,
  GREETING_USERPASS,
  hex,
  parseReply,
  userPass,
} from '../helpers/socks5.js';
import { hashPassword } from '../../src/auth/password.js';

async function tunnel(port: number, echoPort: number): Promise<Reader> {
  const socket = await connectTo(port);
  const reader = new Reader(socket);
  socket.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', echoPort)]));
  assert.deepEqual(await reader.read(2), hex('05 00'));
  assert.equal(parseReply(await reader.read(10)).rep, 0);
  return reader;
}

async function greet(port: number, greeting: Buffer): Promise<Buffer> {
  const socket = await connectTo(port);
  const reader = new Reader(socket);
  socket.write(greeting);
  const got = await reader.read(2);
  socket.destroy();
  return got;
}

describe('hot reload', () => {
  it('SIGHUP: users appear, old tunnels keep flowing, a broken config is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-reload-'));
    const config = join(dir, 'ferry.yaml');
    const users = join(dir, 'users');
    const echo = await startEcho();
    await writeFile(config, 'timeouts: { handshake: 5s }\n');
    const { child, port, logs } = await serve(['--config', config]);
    try {
      const old = await tunnel(port, echo.port);
      // Require authentication from now on.
      await writeFile(users, `zoe:${await hashPassword('pw')}\n`);
      await writeFile(config, `users: ${users}\n`);
      child.kill('SIGHUP');
      await logs.waitFor((l) => l.event === 'reloaded');
      assert.deepEqual(
        await greet(port, GREETING_NOAUTH),
        hex('05 ff'),
        'new sessions see the new rules',
      );
      const s = await connectTo(port);
      const r = new Reader(s);
      s.write(Buffer.concat([GREETING_USERPASS, userPass('zoe', 'pw')]));
      assert.deepEqual(await r.read(4), hex('05 02 01 00'));
      s.destroy();
      old.socket.write('still flowing');
      assert.equal((await old.read(13)).toString(), 'still flowing', 'the old tunnel is untouched');

      // A broken file is rejected with a log line naming the problem; the old config stays.
      await writeFile(config, `users: ${users}\nlimits: { maxConnections: zero }\n`);
      child.kill('SIGHUP');
      const rejected = await logs.waitFor((l) => l.event === 'reload-rejected');
      assert.match(String(rejected.error), /ferry\.yaml:2:\d+: limits\.maxConnections/);
      assert.deepEqual(
        await greet(port, GREETING_NOAUTH),
        hex('05 ff'),
        'the previous config is still in force',
      );

      // A users file that fails to parse is rejected the same way.
      await writeFile(config, `users: ${users}\n`);
      await writeFile(users, 'zoe:not-a-hash\n');
      child.kill('SIGHUP');
      await logs.waitFor(
        (l) => l.event === 'reload-rejected' && String(l.error).includes('not a PHC scrypt hash'),
      );
      old.socket.end();
      await old.readToEnd();
      child.kill('SIGTERM');
      await once(child, 'exit');
    } finally {
      child.kill('SIGKILL');
      await echo.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('SIGHUP: new rules apply to new sessions while an old tunnel keeps flowing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-rules-reload-'));
    const config = join(dir, 'ferry.yaml');
    const echo = await startEcho();
    await writeFile(config, 'access:\n  default: allow\n');
    const { child, port, logs } = await serve(['--config', config]);
    try {
      const old = await tunnel(port, echo.port);
      await writeFile(
        config,
        [
          'access:',
          '  default: allow',
          '  rules:',
          '    - { name: lock-down, action: deny, destination: private }',
          '',
        ].join('\n'),
      );
      child.kill('SIGHUP');
      await logs.waitFor((l) => l.event === 'reloaded');
      const s = await connectTo(port);
      const r = new Reader(s);
      s.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', echo.port)]));
      await r.read(2);
      assert.equal(parseReply(await r.read(10)).rep, 0x02, 'new sessions see the new rule');
      s.destroy();
      old.socket.write('unaffected');
      assert.equal((await old.read(10)).toString(), 'unaffected');
      const denied = await logs.waitFor((l) => l.event === 'access' && l.reply === 2);
      assert.equal(denied.rule, 'lock-down');
      // A bad rule is refused with its line; the lock-down stays.
      await writeFile(
        config,
        [
          'access:',
          '  default: allow',
          '  rules:',
          '    - { action: deny, destination: 10.0.0.1/8 }',
          '',
        ].join('\n'),
      );
      child.kill('SIGHUP');
      const rejected = await logs.waitFor((l) => l.event === 'reload-rejected');
      assert.match(
        String(rejected.error),
        /ferry\.yaml:4:\d+: access\.rules\.0\.destination: .*host bits/,
      );
      old.socket.end();
      await old.readToEnd();
    } finally {
      child.kill('SIGKILL');
      await echo.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('SIGHUP: what only a restart can change is named in a warning; the rest applies', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-reload-'));
    const config = join(dir, 'ferry.yaml');
    await writeFile(config, 'timeouts: { handshake: 5s }\n');
    const { child, logs } = await serve(['--config', config]);
    try {
      await writeFile(config, 'timeouts: { handshake: 6s }\nworkers: 2\nbalance: kernel\n');
      child.kill('SIGHUP');
      const warned = await logs.waitFor((l) => l.event === 'reload-needs-restart');
      assert.deepEqual(warned.keys, ['workers', 'balance']);
      assert.match(String(warned.msg), /^workers, balance change only on restart/);
      await logs.waitFor((l) => l.event === 'reloaded');
      // A reload that touches none of them says nothing of a restart.
      await writeFile(config, 'timeouts: { handshake: 7s }\nworkers: 2\nbalance: kernel\n');
      child.kill('SIGHUP');
      await logs.waitFor(
        (l) =>
          l.event === 'reloaded' && logs.lines.filter((x) => x.event === 'reloaded').length === 2,
      );
      assert.equal(logs.lines.filter((l) => l.event === 'reload-needs-restart').length, 1);
    } finally {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('--watch reloads when the file is replaced by rename, as editors save', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-watch-'));
    const config = join(dir, 'ferry.yaml');
    await writeFile(config, 'watch: true\n');
    const { child, port, logs } = await serve(['--config', config]);
    try {
      assert.deepEqual(await greet(port, GREETING_NOAUTH), hex('05 00'));
      const users = join(dir, 'users');
      await writeFile(users, `amy:${await hashPassword('pw')}\n`);
      await writeFile(join(dir, 'new.yaml'), `watch: true\nusers: ${users}\n`);
      await rename(join(dir, 'new.yaml'), config);
      await logs.waitFor((l) => l.event === 'reloaded' && l.trigger === 'watch');
      assert.deepEqual(await greet(port, GREETING_NOAUTH), hex('05 ff'));
    } finally {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('ferry check-config', () => {
  it('prints the effective configuration and exits 0; names line and field and exits 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-check-'));
    try {
      const good = join(dir, 'good.yaml');
      await writeFile(good, 'listen: ["127.0.0.1:1099"]\ntimeouts:\n  idle: 30m\n');
      const ok = await run(['check-config', good]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /idle: 30m/);
      assert.match(ok.stdout, /handshake: 10s/, 'defaults are filled in');
      assert.match(ok.stdout, /balance: round-robin/);
      const bad = join(dir, 'bad.yaml');
      await writeFile(
        bad,
        'listen: ["127.0.0.1:1099"]\ntimeouts:\n  idle: 30 minutes\n  bogus: 1\n',
      );
      const ko = await run(['check-config', bad]);
      assert.equal(ko.code, 2);
      assert.match(ko.stderr, /bad\.yaml:3:9: timeouts\.idle: /);
      assert.match(ko.stderr, /bad\.yaml:4:3: timeouts\.bogus: unknown key/);
      assert.equal((await run(['check-config', join(dir, 'missing.yaml')])).code, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
