// The client against ferry's own server (createServer from src/server): every command,
// IPv4/IPv6/domain destinations, the proxy on IPv6, authentication right and wrong, chains of
// two and three hops (several servers on port 0), agents and fetch through it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { once } from 'node:events';
import { fetch as undiciFetch } from 'undici';
import { connect } from '../../src/client/connect.js';
import { bind } from '../../src/client/bind.js';
import { associate } from '../../src/client/associate.js';
import { SocksAgent, SocksHttpsAgent } from '../../src/client/agent.js';
import { createSocksDispatcher } from '../../src/client/undici.js';
import { UserDatabase, hashPassword } from '../../src/server/index.js';
import { SocksAuthError, SocksReplyError } from '../../src/errors.js';
import { Reply } from '../../src/protocol/constants.js';
import { closedPort, hasIPv6Loopback, startFerry } from '../helpers/net.js';
import {
  startEchoServer,
  startHttpServer,
  startHttpsServer,
  startUdpEchoServer,
  TEST_CERT,
  type Closable,
} from '../helpers/servers.js';

type Ferry = Awaited<ReturnType<typeof startFerry>>;

async function echoThrough(socket: net.Socket, text: string): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.end(text);
  await once(socket, 'end');
  socket.destroy();
  return Buffer.concat(chunks).toString();
}

describe('client against ferry', async () => {
  const v6 = await hasIPv6Loopback();
  let open: Ferry;
  let authed: Ferry;
  let echo: Closable;
  let echo6: Closable | undefined;
  const url = (f: Ferry, scheme = 'socks5h'): string =>
    `${scheme}://${f.host.includes(':') ? `[${f.host}]` : f.host}:${f.port}`;

  before(async () => {
    const hash = await hashPassword('correct horse');
    const users = UserDatabase.parse(`alice:${hash}\n`);
    [open, authed, echo] = await Promise.all([
      startFerry(),
      startFerry({ users }),
      startEchoServer(),
    ]);
    if (v6) echo6 = await startEchoServer('::1');
  });
  after(async () => {
    await Promise.all([open.close(), authed.close(), echo.close(), echo6?.close()]);
  });

  it('CONNECT to an IPv4 address, with the bound address of the outgoing socket', async () => {
    const { socket, bound } = await connect({
      proxy: url(open),
      destination: { host: '127.0.0.1', port: echo.port },
    });
    assert.equal(bound.type, 'ipv4');
    assert.equal(bound.host, '127.0.0.1');
    assert.ok(bound.port > 0 && bound.port !== echo.port);
    assert.equal(await echoThrough(socket, 'v4'), 'v4');
  });

  it('CONNECT to a domain: socks5h sends it, socks5 resolves it here', async () => {
    for (const scheme of ['socks5h', 'socks5']) {
      const { socket } = await connect({
        proxy: url(open, scheme),
        destination: { host: 'localhost', port: echo.port },
      });
      assert.equal(await echoThrough(socket, scheme), scheme);
    }
  });

  it('CONNECT to an IPv6 address, through a proxy listening on [::1]', async (t) => {
    if (!v6 || !echo6) {
      t.skip('no IPv6 loopback on this machine');
      return;
    }
    const ferry6 = await startFerry({}, '::1');
    try {
      const { socket, bound } = await connect({
        proxy: url(ferry6),
        destination: { host: '::1', port: echo6.port },
      });
      assert.equal(socket.remoteAddress, '::1');
      assert.equal(bound.type, 'ipv6');
      assert.equal(await echoThrough(socket, 'v6'), 'v6');
    } finally {
      await ferry6.close();
    }
  });

  it('username/password: right, wrong, missing', async () => {
    const base = `127.0.0.1:${authed.port}`;
    const ok = await connect({
      proxy: `socks5h://alice:correct%20horse@${base}`,
      destination: { host: '127.0.0.1', port: echo.port },
    });
    assert.equal(await echoThrough(ok.socket, 'authed'), 'authed');
    await assert.rejects(
      connect({
        proxy: `socks5h://alice:battery@${base}`,
        destination: { host: '127.0.0.1', port: echo.port },
      }),
      (e: unknown) => e instanceof SocksAuthError && e.code === 'ERR_SOCKS_AUTH_FAILED',
    );
    await assert.rejects(
      connect({ proxy: `socks5h://${base}`, destination: { host: '127.0.0.1', port: echo.port } }),
      (e: unknown) => e instanceof SocksAuthError && e.code === 'ERR_SOCKS_NO_ACCEPTABLE_METHOD',
    );
  });

  it("ferry's failure replies arrive as SocksReplyError", async () => {
    const port = await closedPort();
    await assert.rejects(
      connect({ proxy: url(open), destination: { host: '127.0.0.1', port } }),
      (e: unknown) => e instanceof SocksReplyError && e.reply === Reply.ConnectionRefused,
    );
  });

  it('chains of two and three ferry servers, credentials on one hop', async () => {
    const hops = await Promise.all([startFerry(), startFerry()]);
    try {
      const [a, b] = hops;
      const two = await connect({
        proxies: [url(a), `socks5h://alice:correct%20horse@127.0.0.1:${authed.port}`],
        destination: { host: 'localhost', port: echo.port },
      });
      assert.equal(await echoThrough(two.socket, 'two'), 'two');
      const three = await connect({
        proxies: [url(a), url(b, 'socks5'), url(open)],
        destination: { host: 'localhost', port: echo.port },
      });
      assert.equal(await echoThrough(three.socket, 'three'), 'three');
    } finally {
      await Promise.all(hops.map((h) => h.close()));
    }
  });

  it('SOCKS4a', async () => {
    const { socket } = await connect({
      proxy: url(open, 'socks4a'),
      destination: { host: 'localhost', port: echo.port },
      timeout: 5000,
    });
    assert.equal(await echoThrough(socket, '4a'), '4a');
  });

  it('BIND', async () => {
    const b = await bind({ proxy: url(open) });
    const peer = net.connect(b.bound.port, b.bound.host);
    await once(peer, 'connect');
    const { socket, remote } = await b.incoming;
    assert.equal(remote.port, peer.localPort);
    peer.end('from peer');
    assert.equal(await echoThrough(socket, ''), 'from peer');
  });

  it('UDP ASSOCIATE', async () => {
    const udpEcho = await startUdpEchoServer();
    try {
      const udp = await associate({ proxy: url(open) });
      const message = once(udp, 'message');
      await udp.send('ping', udpEcho.port, '127.0.0.1');
      const [data] = (await message) as [Buffer];
      assert.equal(data.toString(), 'echo:ping');
      udp.close();
    } finally {
      await udpEcho.close();
    }
  });

  it('http.get, https.get and fetch through ferry', async () => {
    const [web, secure] = await Promise.all([startHttpServer(), startHttpsServer()]);
    const agent = new SocksAgent({ proxy: url(open) });
    const tlsAgent = new SocksHttpsAgent({ proxy: url(open), ca: TEST_CERT });
    const dispatcher = createSocksDispatcher({ proxy: url(open), tls: { ca: TEST_CERT } });
    try {
      const body = (mod: typeof http | typeof https, u: string, a: http.Agent): Promise<string> =>
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
      assert.equal(
        await body(http, `http://localhost:${web.port}/a`, agent),
        `hello from GET /a host=localhost:${web.port}`,
      );
      assert.equal(
        await body(https, `https://localhost:${secure.port}/b`, tlsAgent),
        `hello from GET /b host=localhost:${secure.port}`,
      );
      const res = await undiciFetch(`https://localhost:${secure.port}/c`, { dispatcher });
      assert.equal(await res.text(), `hello from GET /c host=localhost:${secure.port}`);
    } finally {
      agent.destroy();
      tlsAgent.destroy();
      await dispatcher.close();
      await Promise.all([web.close(), secure.close()]);
    }
  });
});
