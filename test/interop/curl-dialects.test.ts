/**
 * curl as an independent SOCKS4, SOCKS4a and HTTP proxy client, against one ferry port: all four
 * modes, with and without --proxy-user, fetching from a local origin.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startFerry } from '../helpers/net.js';
import { startOrigin, type Origin } from '../helpers/http-raw.js';
import { requireTool } from '../helpers/tools.js';
import { UserDatabase } from '../../src/auth/users.js';
import { hashPassword } from '../../src/auth/password.js';

const exec = promisify(execFile);
const skip = requireTool('curl');

async function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec('curl', ['-sS', '--max-time', '10', ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('curl in every dialect on one port', { skip }, () => {
  let origin: Origin;
  let open: Awaited<ReturnType<typeof startFerry>>;
  let authed: Awaited<ReturnType<typeof startFerry>>;
  let url: (path: string) => string;
  before(async () => {
    origin = await startOrigin();
    open = await startFerry();
    authed = await startFerry({
      users: UserDatabase.parse(`alice:${await hashPassword('s3cret pass')}\n`),
    });
    url = (path) => `http://localhost:${origin.port}${path}`;
  });
  after(async () => {
    await Promise.all([origin.close(), open.close(), authed.close()]);
  });

  const modes = (port: () => number): [string, () => string[]][] => [
    ['--socks4', () => ['--socks4', `127.0.0.1:${port()}`]],
    ['--socks4a', () => ['--socks4a', `127.0.0.1:${port()}`]],
    ['-x http:// (forwarding)', () => ['-x', `http://127.0.0.1:${port()}`]],
    ['-p -x http:// (CONNECT tunnel)', () => ['-p', '-x', `http://127.0.0.1:${port()}`]],
  ];

  for (const [name, flags] of modes(() => open.port)) {
    it(`${name} without credentials`, async () => {
      const r = await curl([...flags(), url(`/${name.length}`)]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `hello from /${name.length}`);
    });
  }

  it('-x http:// fetches several URLs over one kept-alive proxy connection', async () => {
    const r = await curl(['-v', '-x', `http://127.0.0.1:${open.port}`, url('/k1'), url('/k2')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello from /k1hello from /k2');
    assert.match(r.stderr, /Re-using existing connection/);
  });

  it('-x http:// uploads a chunked body', async () => {
    const r = await curl([
      '-x',
      `http://127.0.0.1:${open.port}`,
      '-H',
      'Transfer-Encoding: chunked',
      '--data-binary',
      'some posted bytes',
      url('/sha'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout) as { length: number; te: string };
    assert.deepEqual([body.length, body.te], [17, 'chunked']);
  });

  for (const [name, flags] of modes(() => authed.port).slice(2)) {
    it(`${name} with --proxy-user`, async () => {
      const r = await curl([...flags(), '--proxy-user', 'alice:s3cret pass', url('/auth')]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'hello from /auth');
    });
  }

  it('-x http:// with a wrong password or none: 407', async () => {
    for (const extra of [['--proxy-user', 'alice:nope'], []]) {
      const r = await curl([
        '-x',
        `http://127.0.0.1:${authed.port}`,
        ...extra,
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        url('/x'),
      ]);
      assert.equal(r.stdout, '407', r.stderr);
    }
  });

  it('-p -x http:// without credentials: the CONNECT fails with 407', async () => {
    const r = await curl(['-p', '-x', `http://127.0.0.1:${authed.port}`, url('/x')]);
    assert.equal(r.code, 56, r.stderr);
    assert.match(r.stderr, /407/);
  });

  it('--socks4 / --socks4a are refused when authentication is required, even with --proxy-user', async () => {
    for (const mode of ['--socks4', '--socks4a']) {
      for (const extra of [[], ['--proxy-user', 'alice:s3cret pass']]) {
        const r = await curl([mode, `127.0.0.1:${authed.port}`, ...extra, url('/x')]);
        assert.equal(r.code, 97, `${mode} ${extra.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /rejected|failed/i);
      }
    }
  });
});
