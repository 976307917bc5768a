// GSS-API (RFC 1961) end to end: ferry's client against ferry's server, with a live MIT KDC on
// loopback — CONNECT at integrity and confidentiality with 10 MiB both ways, the clear level,
// the principal as the session's user (rules, records), tickets missing, the level negotiation
// and the NEC variant, method preference, no fallback to no-auth, chains of protected hops, and
// a library that cannot be loaded.
//
// The krb5 library reads KRB5_CONFIG etc. from this process's environment: the KDC's env is
// copied into process.env before the first call (node:test runs each file in its own process).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { kdcSkipReason, startKdc, type Kdc } from '../helpers/kdc.js';
import { loadGssapiForTests } from '../helpers/gssapi.js';
import { startFerry } from '../helpers/net.js';
import {
  startEchoServer,
  startHttpServer,
  startHttpsServer,
  TEST_CERT,
  type Closable,
} from '../helpers/servers.js';
import http from 'node:http';
import https from 'node:https';
import { fetch as undiciFetch } from 'undici';
import { SocksAgent, SocksHttpsAgent } from '../../src/client/agent.js';
import { createSocksDispatcher } from '../../src/client/undici.js';
import { ChannelLog } from '../helpers/events.js';
import { connect } from '../../src/client/connect.js';
import { GssapiSocket } from '../../src/gssapi/stream.js';
import { createServer, hashPassword, UserDatabase } from '../../src/server/index.js';
import type { SessionEvent } from '../../src/observability/channels.js';
import type { GssapiServerOptions } from '../../src/server/gssapi-options.js';
import { compilePolicy } from '../../src/rules/index.js';
import { SocksAuthError, SocksGssapiError, SocksReplyError } from '../../src/errors.js';

const kdcSkip = kdcSkipReason();
const loaded = await loadGssapiForTests();
const skip = loaded.skip ?? kdcSkip ?? false;

type Ferry = Awaited<ReturnType<typeof startFerry>>;
const MiB = 1024 * 1024;

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Writes `data`, ends, and collects everything until the other side ends. */
async function roundTrip(socket: Duplex, data: Uint8Array): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.end(data);
  await once(socket, 'end');
  socket.destroy();
  return Buffer.concat(chunks);
}

describe('GSS-API sessions, ferry client to ferry server', { skip }, () => {
  let kdc: Kdc;
  let echo: Closable;
  const servers: Ferry[] = [];
  const sessions = new ChannelLog<SessionEvent>('ferry:session:end');
  let bobCcache: string;

  /** A server accepting `rcmd` for any host in the test keytab. */
  async function ferry(gssapi: GssapiServerOptions = {}, extra = {}): Promise<Ferry> {
    const server = await startFerry({
      gssapi: { keytab: kdc.keytab, serviceName: 'rcmd', ...gssapi },
      ...extra,
    });
    servers.push(server);
    return server;
  }
  const url = (f: Ferry, query = ''): string => `socks5h+gssapi://localhost:${f.port}${query}`;
  const ended = (port: number) =>
    sessions.waitFor((m) => m.session.localPort === port && m.session.endReason !== undefined);

  before(async () => {
    kdc = await startKdc();
    Object.assign(process.env, kdc.env);
    echo = await startEchoServer();
    const bob = await kdc.addPrincipal('bob', 'ferry-bob-pw');
    bobCcache = `FILE:${join(kdc.dir, 'bob.ccache')}`;
    await kdc.kinit(bob, 'ferry-bob-pw', bobCcache);
  });
  after(async () => {
    sessions.close();
    await Promise.all(servers.map((s) => s.close()));
    await echo.close();
    await kdc.stop();
  });

  for (const level of ['integrity', 'confidentiality'] as const) {
    it(`CONNECT at ${level}: 10 MiB both ways intact, half-close passed on`, async () => {
      const f = await ferry();
      const data = randomBytes(10 * MiB);
      const { socket } = await connect({
        proxy: url(f, `?level=${level}`),
        destination: { host: '127.0.0.1', port: echo.port },
      });
      assert.ok(socket instanceof GssapiSocket, 'a protected tunnel');
      assert.equal(socket.protection, level);
      // The echo server ends only after our end(): its FIN came back through the layer.
      const back = await roundTrip(socket, data);
      assert.equal(back.length, data.length);
      assert.equal(sha256(back), sha256(data));
      const { session } = await ended(f.port);
      assert.equal(session.method, 'gssapi');
      assert.equal(session.protection, level);
      assert.equal(session.user, kdc.user.principal);
      assert.equal(session.bytesUp, data.length, 'application bytes, not wrapped ones');
      assert.equal(session.bytesDown, data.length);
      assert.equal(session.endReason, 'closed');
    });
  }

  it('clear: authenticated, then plain SOCKS5 and a plain socket', async () => {
    const f = await ferry({ levels: ['clear', 'integrity'] });
    const { socket } = await connect({
      proxy: url(f, '?level=clear'),
      destination: { host: '127.0.0.1', port: echo.port },
    });
    assert.ok(socket instanceof net.Socket, 'nothing between the application and TCP');
    assert.equal((await roundTrip(socket, Buffer.from('in the clear'))).toString(), 'in the clear');
    const { session } = await ended(f.port);
    assert.equal(session.protection, 'clear');
    assert.equal(session.user, kdc.user.principal);
  });

  it('the principal is the session user: a rule denies alice and lets bob through', async () => {
    const rules = compilePolicy({
      default: 'allow',
      rules: [{ name: 'no-alice', action: 'deny', user: kdc.user.principal }],
    });
    const f = await ferry({}, { rules });
    const destination = { host: '127.0.0.1', port: echo.port };
    await assert.rejects(connect({ proxy: url(f), destination }), (err: unknown) => {
      // The refusal itself travelled wrapped: the client had to unwrap it to read REP 02.
      assert.ok(err instanceof SocksReplyError, String(err));
      assert.equal(err.reply, 0x02);
      return true;
    });
    const denied = await ended(f.port);
    assert.equal(denied.session.rule, 'no-alice');
    assert.equal(denied.session.user, kdc.user.principal);
    const { socket } = await connect({ proxy: url(f, `?ccache=${bobCcache}`), destination });
    assert.equal((await roundTrip(socket, Buffer.from('bob'))).toString(), 'bob');
  });

  it('maxSessionsPerUser counts sessions per principal', async () => {
    const f = await ferry({}, { maxSessionsPerUser: 1 });
    const destination = { host: '127.0.0.1', port: echo.port };
    const first = await connect({ proxy: url(f), destination });
    await assert.rejects(connect({ proxy: url(f), destination }), SocksReplyError);
    const other = await connect({ proxy: url(f, `?ccache=${bobCcache}`), destination });
    other.socket.destroy();
    first.socket.destroy();
  });

  it('no ticket: the client fails at once, tells the server (01 FF), nothing hangs', async () => {
    const f = await ferry();
    const started = Date.now();
    await assert.rejects(
      connect({
        proxy: url(f, `?ccache=${encodeURIComponent(`FILE:${join(kdc.dir, 'empty.ccache')}`)}`),
        destination: { host: '127.0.0.1', port: echo.port },
        timeout: 10_000,
      }),
      (err: unknown) => {
        assert.ok(err instanceof SocksGssapiError, String(err));
        assert.equal(err.code, 'ERR_SOCKS_GSSAPI');
        assert.match(err.message, /localhost/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 8_000, 'failed well before the handshake timeout');
    const { session } = await ended(f.port);
    assert.equal(session.endReason, 'client-aborted');
    assert.equal(session.user, undefined);
  });

  it('level negotiation: a stronger answer is taken, a weaker one refused (RFC 1961 §4.4)', async () => {
    const destination = { host: '127.0.0.1', port: echo.port };
    const confOnly = await ferry({ levels: ['confidentiality'] });
    const { socket } = await connect({ proxy: url(confOnly, '?level=integrity'), destination });
    assert.ok(socket instanceof GssapiSocket);
    assert.equal(socket.protection, 'confidentiality');
    assert.equal((await roundTrip(socket, Buffer.from('upgraded'))).toString(), 'upgraded');

    const integrityOnly = await ferry({ levels: ['integrity'] });
    await assert.rejects(
      connect({ proxy: url(integrityOnly, '?level=confidentiality'), destination }),
      (err: unknown) => {
        assert.ok(err instanceof SocksGssapiError, String(err));
        assert.equal(err.code, 'ERR_SOCKS_GSSAPI_LEVEL');
        return true;
      },
    );
    const { session } = await ended(integrityOnly.port);
    assert.equal(session.protection, 'integrity', 'what the server answered');
    assert.equal(session.error, 'ERR_SOCKS_GSSAPI_ABORTED', "the client's 01 FF");
  });

  it('NEC variant: a bare level octet is accepted with nec, refused with 01 FF without', async () => {
    const destination = { host: '127.0.0.1', port: echo.port };
    const nec = await ferry({ nec: true });
    for (const level of ['integrity', 'confidentiality'] as const) {
      const { socket } = await connect({ proxy: url(nec, `?nec=1&level=${level}`), destination });
      assert.ok(socket instanceof GssapiSocket);
      assert.equal((await roundTrip(socket, Buffer.from(level))).toString(), level);
    }
    const strict = await ferry();
    await assert.rejects(connect({ proxy: url(strict, '?nec=1'), destination }), SocksAuthError);
    const { session } = await ended(strict.port);
    assert.equal(session.endReason, 'auth-failed');
    assert.equal(session.error, 'ERR_SOCKS_BAD_MESSAGE');
  });

  it('method preference: GSS-API before username/password; username/password alone still works', async () => {
    const users = UserDatabase.parse(`carol:${await hashPassword('pw')}\n`);
    const f = await ferry({}, { users });
    const destination = { host: '127.0.0.1', port: echo.port };
    // Offers 01 and 02: the server picks 01.
    const both = await connect({
      proxy: `socks5h+gssapi://carol:pw@localhost:${f.port}`,
      destination,
    });
    assert.ok(both.socket instanceof GssapiSocket);
    both.socket.destroy();
    const gss = await ended(f.port);
    assert.equal(gss.session.method, 'gssapi');
    const userpass = await connect({
      proxy: `socks5h://carol:pw@localhost:${f.port}`,
      destination,
    });
    assert.equal((await roundTrip(userpass.socket, Buffer.from('pw'))).toString(), 'pw');
  });

  it('a GSS-API client never falls back to no authentication', async () => {
    const open = await startFerry();
    servers.push(open);
    await assert.rejects(
      connect({
        proxy: `socks5h+gssapi://localhost:${open.port}`,
        destination: { host: '127.0.0.1', port: echo.port },
      }),
      (err: unknown) =>
        err instanceof SocksAuthError && err.code === 'ERR_SOCKS_NO_ACCEPTABLE_METHOD',
    );
  });

  it('a chain of two protected hops (integrity, then confidentiality) carries CONNECT', async () => {
    const [first, second] = [await ferry(), await ferry()];
    const data = randomBytes(2 * MiB);
    const { socket } = await connect({
      proxies: [url(first, '?level=integrity'), url(second, '?level=confidentiality')],
      destination: { host: '127.0.0.1', port: echo.port },
    });
    assert.ok(socket instanceof GssapiSocket);
    assert.equal(socket.protection, 'confidentiality');
    assert.ok(socket.socket instanceof GssapiSocket, 'the second layer rides in the first');
    assert.equal(socket.socket.protection, 'integrity');
    assert.equal(sha256(await roundTrip(socket, data)), sha256(data));
    const hop1 = await ended(first.port);
    const hop2 = await ended(second.port);
    assert.equal(hop1.session.destination, `localhost:${second.port}`);
    assert.equal(hop1.session.protection, 'integrity');
    assert.equal(hop2.session.protection, 'confidentiality');
    assert.equal(hop2.session.user, kdc.user.principal);
  });

  it('http.get, https.get and fetch through a protected tunnel (agents and undici take the layer)', async () => {
    const f = await ferry();
    const proxy = url(f, '?level=integrity');
    const [web, secure] = await Promise.all([startHttpServer(), startHttpsServer()]);
    const agent = new SocksAgent({ proxy });
    const tlsAgent = new SocksHttpsAgent({ proxy, ca: TEST_CERT });
    const dispatcher = createSocksDispatcher({ proxy, tls: { ca: TEST_CERT } });
    const get = (mod: typeof http | typeof https, u: string, a: http.Agent): Promise<string> =>
      new Promise((resolve, reject) => {
        mod
          .get(u, { agent: a }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              resolve(Buffer.concat(chunks).toString());
            });
          })
          .on('error', reject);
      });
    try {
      assert.equal(
        await get(http, `http://localhost:${web.port}/a`, agent),
        `hello from GET /a host=localhost:${web.port}`,
      );
      assert.equal(
        await get(https, `https://localhost:${secure.port}/b`, tlsAgent),
        `hello from GET /b host=localhost:${secure.port}`,
      );
      const res = await undiciFetch(`https://localhost:${secure.port}/c`, { dispatcher });
      assert.equal(await res.text(), `hello from GET /c host=localhost:${secure.port}`);
      const res2 = await undiciFetch(`http://localhost:${web.port}/d`, { dispatcher });
      assert.equal(await res2.text(), `hello from GET /d host=localhost:${web.port}`);
    } finally {
      agent.destroy();
      tlsAgent.destroy();
      await dispatcher.close();
      await Promise.all([web.close(), secure.close()]);
    }
    const { session } = await ended(f.port);
    assert.equal(session.protection, 'integrity');
  });

  it('every security context and credential is released once the sessions and servers end', async () => {
    const gss = loaded.binding!;
    await Promise.all(servers.splice(0).map((s) => s.close()));
    // Contexts go with their sessions (a protected stream disposes its own; clear and failures
    // dispose at once), credentials with their server; none is left to a FinalizationRegistry.
    for (let i = 0; i < 50 && gss.liveHandles().contexts + gss.liveHandles().credentials > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(gss.liveHandles(), { credentials: 0, contexts: 0 });
  });

  it('the library API throws a clear error when GSS-API is configured but unusable', async () => {
    const missing = createServer({ gssapi: { library: join(kdc.dir, 'no-such-libgssapi.so') } });
    await assert.rejects(missing.listen({ host: '127.0.0.1', port: 0 }), (err: unknown) => {
      assert.ok(err instanceof SocksGssapiError);
      assert.equal(err.code, 'ERR_SOCKS_GSSAPI_UNAVAILABLE');
      assert.match(err.message, /^GSS-API unavailable: cannot load /);
      return true;
    });
    assert.equal(missing.addresses().length, 0, 'nothing listens');
    const badKeytab = createServer({
      gssapi: { keytab: join(kdc.dir, 'missing.keytab'), serviceName: 'rcmd' },
    });
    await assert.rejects(badKeytab.listen({ host: '127.0.0.1', port: 0 }), (err: unknown) => {
      assert.ok(err instanceof SocksGssapiError);
      assert.equal(err.code, 'ERR_SOCKS_GSSAPI');
      assert.match(err.message, /missing\.keytab/);
      return true;
    });
    await Promise.all([missing.close(), badKeytab.close()]);
  });
});
