/** The `ferry` command line: serve, drain on SIGTERM, users, and its error messages. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
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

describe('ferry serve', () => {
  it('logs its address, one access line per session, and drains on SIGTERM', async () => {
    const echo = await startEcho();
    const { child, port, logs } = await serve(['--drain-timeout', '5s']);
    try {
      const socket = await connectTo(port);
      const reader = new Reader(socket);
      socket.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', echo.port)]));
      assert.equal(parseReply((await reader.read(12)).subarray(2)).rep, 0);
      child.kill('SIGTERM');
      await logs.waitFor((l) => l.event === 'draining');
      // The live tunnel keeps working during the drain, and its data is not truncated.
      socket.write('during drain');
      assert.equal((await reader.read(12)).toString(), 'during drain');
      socket.end();
      await reader.readToEnd();
      const [code] = (await once(child, 'exit')) as [number];
      assert.equal(code, 0);
      const access = await logs.waitFor((l) => l.event === 'access');
      assert.equal(access.command, 'connect');
      assert.equal(access.destination, `127.0.0.1:${echo.port}`);
      assert.equal(access.reply, 0);
      assert.equal(access.bytesUp, 12);
      assert.equal(access.bytesDown, 12);
      assert.equal(access.dialect, 'socks5');
      assert.match(String(access.remote), /^127\.0\.0\.1:\d+$/);
      assert.equal(typeof access.durationMs, 'number');
    } finally {
      child.kill('SIGKILL');
      await echo.close();
    }
  });

  it('with --users: right password passes, wrong fails, and no password is ever logged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cli-'));
    const file = join(dir, 'users');
    try {
      assert.equal((await run(['users', 'add', file, 'alice'], 'correct horse\n')).code, 0);
      const { child, port, logs } = await serve(['--users', file]);
      try {
        for (const [pass, status] of [
          ['correct horse', '01 00'],
          ['wrong horse', '01 01'],
        ] as const) {
          const socket = await connectTo(port);
          const reader = new Reader(socket);
          socket.write(Buffer.concat([GREETING_USERPASS, userPass('alice', pass)]));
          assert.deepEqual(await reader.read(4), hex(`05 02 ${status}`));
          socket.destroy();
        }
        await logs.waitFor((l) => l.event === 'access' && l.end === 'auth-failed');
        child.kill('SIGTERM');
        await once(child, 'exit');
        const all = JSON.stringify(logs.lines);
        assert.ok(!all.includes('horse'), 'passwords never appear in logs');
      } finally {
        child.kill('SIGKILL');
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('command-line mistakes print one sentence and exit 2', async () => {
    for (const args of [
      ['serve', '--bogus'],
      ['serve', '--listen', 'nonsense'],
      ['serve', '--listen', '[::1:1080'],
      ['serve', '--idle-timeout', '10 parsecs'],
      ['serve', '--max-connections', '-4'],
      ['serve', '--users', '/nonexistent/users'],
      ['serve', '--listen', '0.0.0.0:0'],
      ['frobnicate'],
    ]) {
      const { code, stderr } = await run(args);
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.equal(
        stderr.trim().split('\n').length,
        1,
        `one line for ${args.join(' ')}: ${stderr}`,
      );
      assert.match(stderr, /^ferry: /);
    }
    const open = await run(['serve', '--listen', '0.0.0.0:0']);
    assert.match(open.stderr, /open proxy/);
  });

  it('--help and --version exit 0', async () => {
    assert.equal((await run(['--version'])).code, 0);
    const help = await run(['serve', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--handshake-timeout/);
  });
});

describe('ferry users', () => {
  it('add, list, change, remove; the file is 0600 and holds no password', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-users-'));
    const file = join(dir, 'users');
    try {
      assert.equal((await run(['users', 'add', file, 'alice'], 'pw-one\n')).code, 0);
      assert.equal((await run(['users', 'add', file, 'bob'], 'pw-two\n')).code, 0);
      assert.equal((await run(['users', 'list', file])).stdout, 'alice\nbob\n');
      const text = await readFile(file, 'utf8');
      assert.match(text, /^alice:\$scrypt\$ln=\d+,r=8,p=1\$/m);
      assert.ok(!text.includes('pw-one'));
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.equal((await run(['users', 'add', file, 'alice'], 'pw-three\n')).code, 0);
      assert.equal(
        (await run(['users', 'list', file])).stdout,
        'alice\nbob\n',
        'changing a password keeps one entry',
      );
      assert.equal((await run(['users', 'remove', file, 'alice'])).code, 0);
      assert.equal((await run(['users', 'list', file])).stdout, 'bob\n');
      assert.equal((await run(['users', 'remove', file, 'nobody'])).code, 1);
      assert.equal((await run(['users', 'add', file, 'bad:name'], 'x\n')).code, 2);
      assert.equal(
        (await run(['users', 'add', file, 'carol'], '\n')).code,
        2,
        'empty password refused',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
