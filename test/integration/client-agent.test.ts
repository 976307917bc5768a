// SocksAgent / SocksHttpsAgent with node:http(s), and the undici dispatcher with fetch, to local
// HTTP and HTTPS (self-signed, test-only certificate) servers through a SOCKS server.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { fetch as undiciFetch } from 'undici';
import { SocksAgent, SocksHttpsAgent } from '../../src/client/agent.js';
import { createSocksDispatcher } from '../../src/client/undici.js';
import { SocksReplyError } from '../../src/errors.js';
import { startMiniSocks, type MiniSocks } from '../helpers/mini-socks.js';
import { startHttpServer, startHttpsServer, TEST_CERT, type Closable } from '../helpers/servers.js';

type Counting = Closable & { connections: number };

function get(
  mod: typeof http | typeof https,
  url: string,
  options: https.RequestOptions,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = mod.get(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

describe('SocksAgent and SocksHttpsAgent', () => {
  let proxy: MiniSocks;
  let web: Counting;
  let secure: Counting;
  before(async () => {
    [proxy, web, secure] = await Promise.all([
      startMiniSocks(),
      startHttpServer(),
      startHttpsServer(),
    ]);
  });
  after(async () => {
    await Promise.all([proxy.close(), web.close(), secure.close()]);
  });

  it('http.get through socks5h, keep-alive reusing one tunnel', async () => {
    const agent = new SocksAgent({ proxy: proxy.url, keepAlive: true });
    try {
      const before = { proxy: proxy.connections, web: web.connections };
      const url = `http://localhost:${web.port}/one`;
      const first = await get(http, url, { agent });
      assert.equal(first.status, 200);
      assert.equal(first.body, `hello from GET /one host=localhost:${web.port}`);
      const second = await get(http, `http://localhost:${web.port}/two`, { agent });
      assert.equal(second.body, `hello from GET /two host=localhost:${web.port}`);
      assert.equal(proxy.connections - before.proxy, 1, 'one tunnel for both requests');
      assert.equal(web.connections - before.web, 1);
      assert.equal(proxy.requests.at(-1), `connect localhost:${web.port}`);
    } finally {
      agent.destroy();
    }
  });

  it('http.get through socks4a', async () => {
    const agent = new SocksAgent({ proxy: `socks4a://127.0.0.1:${proxy.port}` });
    const res = await get(http, `http://localhost:${web.port}/four`, { agent });
    assert.equal(res.body, `hello from GET /four host=localhost:${web.port}`);
    assert.equal(proxy.requests.at(-1), `socks4 localhost:${web.port} `);
    agent.destroy();
  });

  it('https.get: TLS over the tunnel, certificate checked against the origin name', async () => {
    const agent = new SocksHttpsAgent({ proxy: proxy.url, ca: TEST_CERT, keepAlive: true });
    try {
      const res = await get(https, `https://localhost:${secure.port}/tls`, { agent });
      assert.equal(res.status, 200);
      assert.equal(res.body, `hello from GET /tls host=localhost:${secure.port}`);
      // Without the test CA the same request fails verification: TLS really is end to end.
      const strict = new SocksHttpsAgent({ proxy: proxy.url });
      await assert.rejects(get(https, `https://localhost:${secure.port}/`, { agent: strict }), {
        code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      });
      strict.destroy();
    } finally {
      agent.destroy();
    }
  });

  it('a refused tunnel is the request error', async () => {
    const agent = new SocksAgent({ proxy: proxy.url });
    await assert.rejects(get(http, 'http://127.0.0.1:1/', { agent }), SocksReplyError);
    agent.destroy();
  });
});

describe('undici dispatcher', () => {
  let proxy: MiniSocks;
  let web: Counting;
  let secure: Counting;
  before(async () => {
    [proxy, web, secure] = await Promise.all([
      startMiniSocks({ users: { u: 'p' } }),
      startHttpServer(),
      startHttpsServer(),
    ]);
  });
  after(async () => {
    await Promise.all([proxy.close(), web.close(), secure.close()]);
  });

  it('fetch over http through socks5h with credentials; the name goes to the proxy', async () => {
    const dispatcher = createSocksDispatcher({ proxy: `socks5h://u:p@127.0.0.1:${proxy.port}` });
    try {
      const res = await undiciFetch(`http://localhost:${web.port}/fetch`, { dispatcher });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), `hello from GET /fetch host=localhost:${web.port}`);
      assert.equal(proxy.requests.at(-1), `connect localhost:${web.port}`);
    } finally {
      await dispatcher.close();
    }
  });

  it("Node's global fetch takes the same dispatcher", async () => {
    const dispatcher = createSocksDispatcher({ proxy: `socks5h://u:p@127.0.0.1:${proxy.port}` });
    try {
      // The global fetch's types come from undici-types; the dispatcher is undici 7's.
      const init = { dispatcher } as unknown as RequestInit;
      const res = await fetch(`http://localhost:${web.port}/global`, init);
      assert.equal(await res.text(), `hello from GET /global host=localhost:${web.port}`);
    } finally {
      await dispatcher.close();
    }
  });

  it('fetch over https, with the test CA', async () => {
    const dispatcher = createSocksDispatcher({
      proxy: `socks5h://u:p@127.0.0.1:${proxy.port}`,
      tls: { ca: TEST_CERT },
    });
    try {
      const res = await undiciFetch(`https://localhost:${secure.port}/tls`, { dispatcher });
      assert.equal(await res.text(), `hello from GET /tls host=localhost:${secure.port}`);
    } finally {
      await dispatcher.close();
    }
  });

  it('fetch through socks4a', async () => {
    const open = await startMiniSocks();
    const dispatcher = createSocksDispatcher({ proxy: `socks4a://127.0.0.1:${open.port}` });
    try {
      const res = await undiciFetch(`http://localhost:${web.port}/4a`, { dispatcher });
      assert.equal(await res.text(), `hello from GET /4a host=localhost:${web.port}`);
      assert.equal(open.requests.at(-1), `socks4 localhost:${web.port} `);
    } finally {
      await dispatcher.close();
      await open.close();
    }
  });

  it('a failing tunnel rejects fetch with our error as the cause', async () => {
    const dispatcher = createSocksDispatcher({
      proxy: `socks5h://u:wrong@127.0.0.1:${proxy.port}`,
    });
    try {
      await assert.rejects(
        undiciFetch(`http://localhost:${web.port}/`, { dispatcher }),
        (e: unknown) => {
          assert.ok(e instanceof TypeError);
          assert.equal((e.cause as { code?: string }).code, 'ERR_SOCKS_AUTH_FAILED');
          return true;
        },
      );
    } finally {
      await dispatcher.close();
    }
  });
});
