/** curl, an independent SOCKS5 client, fetching a local page through ferry. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startFerry } from '../helpers/net.js';
import { startHttp } from '../helpers/http.js';
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

describe('curl through ferry', { skip }, () => {
  let web: Awaited<ReturnType<typeof startHttp>>;
  let open: Awaited<ReturnType<typeof startFerry>>;
  let authed: Awaited<ReturnType<typeof startFerry>>;
  before(async () => {
    web = await startHttp();
    open = await startFerry();
    authed = await startFerry({
      users: UserDatabase.parse(`alice:${await hashPassword('s3cret pass')}\n`),
    });
  });
  after(async () => {
    await Promise.all([web.close(), open.close(), authed.close()]);
  });

  it('--socks5 (curl resolves the name)', async () => {
    const r = await curl(['--socks5', `127.0.0.1:${open.port}`, `http://localhost:${web.port}/a`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello from /a');
  });

  it('--socks5-hostname (ferry resolves the name)', async () => {
    const r = await curl([
      '--socks5-hostname',
      `127.0.0.1:${open.port}`,
      `http://localhost:${web.port}/b`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello from /b');
  });

  it('--proxy-user with the right password', async () => {
    const r = await curl([
      '--socks5-hostname',
      `127.0.0.1:${authed.port}`,
      '--proxy-user',
      'alice:s3cret pass',
      `http://localhost:${web.port}/c`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello from /c');
  });

  it('--proxy-user with a wrong password is refused', async () => {
    const r = await curl([
      '--socks5-hostname',
      `127.0.0.1:${authed.port}`,
      '--proxy-user',
      'alice:nope',
      `http://localhost:${web.port}/d`,
    ]);
    assert.equal(r.code, 97, `curl exit 97 = proxy handshake error; got ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, /rejected by the SOCKS5 server \(1 1\)/);
  });

  it('without credentials against the authenticated server: no acceptable method', async () => {
    const r = await curl([
      '--socks5-hostname',
      `127.0.0.1:${authed.port}`,
      `http://localhost:${web.port}/e`,
    ]);
    assert.equal(r.code, 97, r.stderr);
  });

  it("a refused destination surfaces as curl's SOCKS error", async () => {
    const r = await curl(['--socks5', `127.0.0.1:${open.port}`, 'http://127.0.0.1:1/']);
    assert.equal(r.code, 97, r.stderr);
    assert.match(r.stderr, /connection refused|\(5\)/i);
  });
});
