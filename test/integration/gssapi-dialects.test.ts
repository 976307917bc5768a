// A server that authenticates with GSS-API alone (no users file) must not let the dialects that
// cannot speak it — SOCKS4/4a (no credentials at all) and HTTP (Basic only) — around Kerberos:
// they are refused unless the access rules' allowUnauthenticated hook lets that client in.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kdcSkipReason, startKdc, type Kdc } from '../helpers/kdc.js';
import { loadGssapiForTests } from '../helpers/gssapi.js';
import { connectTo, Reader, startEcho, startFerry } from '../helpers/net.js';
import { readResponse } from '../helpers/http-raw.js';
import { parseSocks4Reply, socks4Request } from '../helpers/socks4.js';
import type { ServerOptions } from '../../src/server/index.js';

const kdcSkip = kdcSkipReason();
const loaded = await loadGssapiForTests();
const skip = loaded.skip ?? kdcSkip ?? false;

const basic = `Proxy-Authorization: Basic ${Buffer.from('alice:pw').toString('base64')}\r\n`;

describe('GSS-API only: SOCKS4 and HTTP clients cannot go around Kerberos', { skip }, () => {
  let kdc: Kdc;
  let echo: Awaited<ReturnType<typeof startEcho>>;
  before(async () => {
    kdc = await startKdc();
    Object.assign(process.env, kdc.env);
    echo = await startEcho();
  });
  after(async () => {
    await echo.close();
    await kdc.stop();
  });

  async function withFerry(
    extra: Partial<ServerOptions>,
    body: (port: number) => Promise<void>,
  ): Promise<void> {
    const ferry = await startFerry({
      gssapi: { keytab: kdc.keytab, serviceName: 'rcmd' },
      ...extra,
    });
    try {
      await body(ferry.port);
    } finally {
      await ferry.close();
    }
  }

  /** SOCKS4 CONNECT to the echo server: the reply's CD. */
  async function socks4(port: number): Promise<number> {
    const c = new Reader(await connectTo(port));
    c.socket.write(socks4Request(0x01, '127.0.0.1', echo.port, 'alice'));
    const reply = parseSocks4Reply(await c.read(8));
    c.socket.destroy();
    return reply.cd;
  }

  /** HTTP CONNECT to the echo server, with or without Basic credentials: the status. */
  async function httpConnect(port: number, credentials: string): Promise<number> {
    const c = new Reader(await connectTo(port));
    c.socket.write(
      `CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nHost: 127.0.0.1:${echo.port}\r\n${credentials}\r\n`,
    );
    const { status } = await readResponse(c, { head: true }); // CONNECT: no body either way
    c.socket.destroy();
    return status;
  }

  it('refuses SOCKS4 (5B) and HTTP with or without Basic credentials (407)', async () => {
    await withFerry({}, async (port) => {
      assert.equal(await socks4(port), 0x5b, 'SOCKS4: request rejected');
      assert.equal(await httpConnect(port, ''), 407, 'HTTP without credentials');
      assert.equal(await httpConnect(port, basic), 407, 'HTTP Basic: no users to check it against');
    });
  });

  it('lets them in only when the allowUnauthenticated hook says so', async () => {
    await withFerry({ allowUnauthenticated: () => true }, async (port) => {
      assert.equal(await socks4(port), 0x5a, 'SOCKS4: granted');
      assert.equal(await httpConnect(port, ''), 200, 'HTTP CONNECT established');
    });
  });
});
