// curl's SOCKS5 GSS-API client (--socks5-gssapi, and the NEC variant with --socks5-gssapi-nec)
// against `ferry serve --gssapi-*` (the CLI, flags and access log included) with a live MIT KDC
// and a local HTTP server behind.
//
// curl needs no further option: its default service is `rcmd` (--socks5-gssapi-service would
// name another), combined with the proxy's host name into rcmd@localhost. It proposes level 00
// ("clear": curl 7.88 forces it; newer curls propose 02 and still need 00 answered, having no
// encapsulation), so the server allows clear.
//
// Two bugs of curl 7.88 (Debian 12) shape this test; both are in curl's SOCKS state machine,
// not in its GSS-API exchange, which is what this test is about:
// 1. `allow_gssapi` is a local variable set only in the state that sends the greeting. Unless
//    the proxy's method selection is already readable when curl first reads — right after it
//    sends the greeting, before any proxy can answer except by luck of scheduling (one attempt
//    in four to none in a hundred here) — curl re-enters its state machine later with it false
//    and gives up: "SOCKS5 GSSAPI per-message authentication is not supported". So curl runs
//    under strace, which only delays each recvfrom() by 50 ms (syscall fault injection,
//    `delay_enter`): by then ferry has answered, and curl always reaches the GSS-API exchange.
//    (5 ms was enough on an idle machine but lost the race under a load average of 6.)
//    Nothing else about curl changes.
// 2. After a successful GSS-API negotiation, curl 7.88 falls through to "Undocumented SOCKS5
//    mode attempted to be used by server" instead of sending its request (fixed in curl's
//    rewritten SOCKS filter). With such a curl the test checks everything up to that point and
//    says so; with a curl that completes, it checks the page too.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { kdcSkipReason, startKdc, type Kdc } from '../helpers/kdc.js';
import { loadGssapiForTests } from '../helpers/gssapi.js';
import { requireTool } from '../helpers/tools.js';
import { startHttp } from '../helpers/http.js';
import { serve, type LogLines } from '../helpers/cli.js';

const curlSkip =
  requireTool('curl') || requireTool('strace', 'strace is not installed (Debian strace)');
const kdcSkip = kdcSkipReason();
const loaded = await loadGssapiForTests();
const skip = curlSkip || loaded.skip || kdcSkip || false;

const CURL_FALLS_THROUGH = 'Undocumented SOCKS5 mode attempted to be used by server';

interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** curl bug 1: an attempt that never reached the GSS-API exchange. */
const LOST_THE_RACE = /SOCKS5 GSSAPI per-message authentication is not supported/;

/** curl, with each recvfrom() delayed by 50 ms (see curl bug 1 above). */
function curl(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CurlResult> {
  const started = Date.now();
  const delayed = ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=recvfrom'];
  delayed.push('-e', 'inject=recvfrom:delay_enter=50000');
  return new Promise((resolve) => {
    execFile(
      'strace',
      [...delayed, 'curl', '-sS', '-v', '--max-time', '10', ...args],
      { env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        assert.doesNotMatch(stderr, /^strace: /m, 'strace could not run curl');
        assert.doesNotMatch(stderr, LOST_THE_RACE, 'curl never reached the GSS-API exchange');
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

describe('curl --socks5-gssapi against ferry serve', { skip }, () => {
  let kdc: Kdc;
  let web: Awaited<ReturnType<typeof startHttp>>;
  const children: ChildProcessWithoutNullStreams[] = [];

  async function ferry(args: string[]): Promise<{ port: number; logs: LogLines }> {
    const started = await serve([
      '--gssapi-keytab',
      kdc.keytab,
      '--gssapi-service',
      'rcmd',
      ...args,
    ]);
    children.push(started.child);
    return { port: started.port, logs: started.logs };
  }

  before(async () => {
    kdc = await startKdc();
    // `ferry serve` (a child) and curl read KRB5_CONFIG, KRB5CCNAME... from their environment.
    Object.assign(process.env, kdc.env);
    web = await startHttp();
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await web.close();
    await kdc.stop();
  });

  async function expectAuthenticatedClear(
    t: TestContext,
    curlArgs: string[],
    serveArgs: string[],
  ): Promise<void> {
    const { port, logs } = await ferry(serveArgs);
    const r = await curl([
      ...curlArgs,
      '--proxy',
      `socks5h://localhost:${port}`,
      `http://127.0.0.1:${web.port}/gss`,
    ]);
    // curl's own account of the RFC 1961 exchange: context, then level 00 granted.
    assert.match(r.stderr, /SOCKS5 server authenticated user alice@FERRY\.TEST with GSS-API/);
    assert.match(r.stderr, /SOCKS5 access without GSS-API data protection granted/);
    const access = await logs.waitFor((l) => l.event === 'access' && l.user !== undefined);
    assert.equal(access.method, 'gssapi');
    assert.equal(access.protection, 'clear');
    assert.equal(access.user, kdc.user.principal);
    if (r.code === 0) {
      assert.equal(r.stdout, 'hello from /gss');
      assert.equal(access.destination, `127.0.0.1:${web.port}`);
    } else {
      assert.match(r.stderr, new RegExp(CURL_FALLS_THROUGH), r.stderr);
      t.diagnostic(`this curl stops after GSS-API succeeds ("${CURL_FALLS_THROUGH}"): curl bug 2`);
    }
  }

  it('--socks5-gssapi: context and wrapped level negotiation, clear granted', async (t) => {
    await expectAuthenticatedClear(t, ['--socks5-gssapi'], ['--gssapi-levels', 'clear']);
  });

  it('--socks5-gssapi-nec: the bare level octet, accepted with --gssapi-nec', async (t) => {
    await expectAuthenticatedClear(
      t,
      ['--socks5-gssapi', '--socks5-gssapi-nec'],
      ['--gssapi-levels', 'clear,integrity', '--gssapi-nec'],
    );
  });

  it('--socks5-gssapi-nec against a server without --gssapi-nec: refused with 01 FF', async () => {
    const { port, logs } = await ferry(['--gssapi-levels', 'clear']);
    const r = await curl([
      '--socks5-gssapi',
      '--socks5-gssapi-nec',
      '--proxy',
      `socks5h://localhost:${port}`,
      `http://127.0.0.1:${web.port}/`,
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /SOCKS5 server authenticated user alice@FERRY\.TEST/);
    const access = await logs.waitFor((l) => l.event === 'access' && l.end === 'auth-failed');
    assert.equal(access.error, 'ERR_SOCKS_BAD_MESSAGE');
  });

  it('a refused principal: a ticket for a service ferry holds no key for gets 01 FF, promptly', async () => {
    // The KDC knows other/localhost, so curl gets a ticket; ferry's keytab has only rcmd's key,
    // so gss_accept_sec_context refuses the initiator's token and ferry aborts (RFC 1961 §3.8).
    await kdc.addPrincipal('other/localhost');
    const { port, logs } = await ferry(['--gssapi-levels', 'clear']);
    const r = await curl([
      '--socks5-gssapi',
      '--socks5-gssapi-service',
      'other',
      '--proxy',
      `socks5h://localhost:${port}`,
      `http://127.0.0.1:${web.port}/`,
    ]);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stderr, /authenticated user/, 'never authenticated');
    assert.ok(r.ms < 8000, `curl gave up on its own (${r.ms} ms), not at --max-time`);
    const access = await logs.waitFor((l) => l.event === 'access');
    assert.equal(access.method, 'gssapi');
    assert.equal(access.user, undefined);
    assert.equal(access.end, 'auth-failed');
  });

  it('no ticket: curl fails at once, ferry records a client that left — no hang', async () => {
    const { port, logs } = await ferry(['--gssapi-levels', 'clear']);
    const r = await curl(
      [
        '--socks5-gssapi',
        '--proxy',
        `socks5h://localhost:${port}`,
        `http://127.0.0.1:${web.port}/`,
      ],
      { KRB5CCNAME: `FILE:${join(kdc.dir, 'no-such-ccache')}` },
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /gss_init_sec_context/);
    assert.ok(r.ms < 8000, `curl gave up on its own (${r.ms} ms), not at --max-time`);
    // Every attempt ends the same way on ferry's side: method 01 selected, nobody authenticated.
    const access = await logs.waitFor((l) => l.event === 'access');
    assert.equal(access.method, 'gssapi');
    assert.equal(access.user, undefined);
    assert.equal(access.end, 'client-closed');
  });
});
