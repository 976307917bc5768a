// `ferry connect` as a process: a file piped through a SOCKS proxy (and a chain) to an echo
// server comes back byte for byte; a refusal exits 1 with one sentence naming the reply code.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMiniSocks, type MiniSocks } from '../helpers/mini-socks.js';
import { startFerry } from '../helpers/net.js';
import { hashPassword, UserDatabase } from '../../src/server/index.js';
import { startEchoServer, type Closable } from '../helpers/servers.js';

const cli = new URL('../../src/cli/main.ts', import.meta.url).pathname;

interface Result {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `ferry connect ...args` with stdin from `input` (a file path) or an empty stream. */
function ferryConnect(args: string[], input?: string): Promise<Result> {
  const stdin = input === undefined ? 'ignore' : openSync(input, 'r');
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'connect', ...args], {
    stdio: [stdin, 'pipe', 'pipe'],
  });
  if (typeof stdin === 'number') closeSync(stdin);
  const out: Buffer[] = [];
  let err = '';
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000); // a hang fails, never blocks
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
  });
}

describe('ferry connect', () => {
  let dir: string;
  let file: string;
  let payload: Buffer;
  let echo: Closable;
  // ferry's own server (with a user) is the proxy; the in-test server adds a SOCKS4a hop.
  let proxy: Awaited<ReturnType<typeof startFerry>>;
  let second: MiniSocks;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-connect-'));
    file = join(dir, 'payload.bin');
    payload = randomBytes(1024 * 1024 + 7); // a little over 1 MiB, not a round number
    writeFileSync(file, payload);
    const users = UserDatabase.parse(`me:${await hashPassword('secret')}\n`);
    [echo, proxy, second] = await Promise.all([
      startEchoServer(),
      startFerry({ users }),
      startMiniSocks(),
    ]);
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await Promise.all([echo.close(), proxy.close(), second.close()]);
  });

  it('pipes a file through ferry to an echo server, byte for byte, and exits 0', async () => {
    const url = `socks5h://me:secret@127.0.0.1:${proxy.port}`;
    const r = await ferryConnect(['--proxy', url, 'localhost', String(echo.port)], file);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal(r.stdout.length, payload.length);
    assert.ok(r.stdout.equals(payload), 'the same bytes came back');
  });

  it('through a chain of two proxies, in order', async () => {
    const r = await ferryConnect(
      [
        '--proxy',
        `socks4a://127.0.0.1:${second.port}`,
        '--proxy',
        `socks5h://me:secret@127.0.0.1:${proxy.port}`,
        '127.0.0.1',
        String(echo.port),
      ],
      file,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.equals(payload));
    assert.equal(second.requests.at(-1), `socks4 127.0.0.1:${proxy.port} `);
  });

  it('a refusal: exit 1, one sentence naming the reply code', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const { port } = s.address() as net.AddressInfo;
    await new Promise<void>((r) =>
      s.close(() => {
        r();
      }),
    );
    const r = await ferryConnect([
      '--proxy',
      `socks5h://127.0.0.1:${second.port}`,
      '127.0.0.1',
      String(port),
    ]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.length, 0);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /^ferry connect: CONNECT 127\.0\.0\.1:\d+ via SOCKS5 proxy .* failed: connection refused \(SOCKS5 reply 0x05\)\.$/,
    );
  });

  it('wrong credentials and a bad port are one-line failures too', async () => {
    const bad = await ferryConnect([
      '--proxy',
      `socks5h://me:nope@127.0.0.1:${proxy.port}`,
      'localhost',
      String(echo.port),
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^ferry connect: .*rejected the username\/password of user "me".*\n$/);
    assert.ok(!bad.stderr.includes('nope'));
    const noProxy = await ferryConnect(['localhost', '80']);
    assert.equal(noProxy.code, 1);
    assert.match(noProxy.stderr, /no proxy given/);
    const badPort = await ferryConnect(['--proxy', 'socks5h://127.0.0.1:1', 'localhost', '70000']);
    assert.notEqual(badPort.code, 0);
    assert.match(badPort.stderr, /port/);
  });
});
