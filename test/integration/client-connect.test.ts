// connect() over real loopback sockets: through a small SOCKS server (test/helpers/mini-socks.ts),
// chains, and fake proxies that misbehave — garbage, silence, early close, abort.
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { connect } from '../../src/client/connect.js';
import type { ClientAuthMethod } from '../../src/client/auth-method.js';
import {
  SocksAbortError,
  SocksAuthError,
  SocksConnectionError,
  SocksError,
  SocksProtocolError,
  SocksReplyError,
  SocksTimeoutError,
} from '../../src/errors.js';
import { startMiniSocks, type MiniSocks } from '../helpers/mini-socks.js';
import { startEchoServer, startFakeProxy, type Closable } from '../helpers/servers.js';

/** Writes `data`, ends, and collects everything until the peer ends. */
async function roundTrip(socket: Duplex, data: string): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.end(data);
  await once(socket, 'end');
  return Buffer.concat(chunks).toString();
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) =>
    s.close(() => {
      r();
    }),
  );
  return port;
}

/** A fake SOCKS5 proxy: accepts "no auth", then answers the request with `reply`. */
function answeringProxy(reply: Uint8Array, thenEnd = false) {
  return startFakeProxy((socket) => {
    let seen = 0;
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen === chunk.length)
        socket.write(Uint8Array.of(0x05, 0x00)); // VER, METHOD none
      else if (thenEnd) socket.end(reply);
      else socket.write(reply);
    });
  });
}

describe('connect() through a SOCKS server', () => {
  let echo: Closable & { connections: number };
  let plain: MiniSocks;
  let authed: MiniSocks;
  before(async () => {
    echo = await startEchoServer();
    plain = await startMiniSocks();
    authed = await startMiniSocks({ users: { alice: 'wonder land' } });
  });
  after(async () => {
    await Promise.all([echo.close(), plain.close(), authed.close()]);
  });

  it('SOCKS5 CONNECT: bytes both ways, the half-close, the bound address', async () => {
    const { socket, bound, proxies } = await connect({
      proxy: plain.url,
      destination: { host: '127.0.0.1', port: echo.port },
    });
    assert.ok(socket instanceof net.Socket);
    assert.equal(socket.remotePort, plain.port);
    assert.equal(bound.type, 'ipv4');
    assert.equal(bound.host, '127.0.0.1');
    assert.ok(bound.port > 0);
    assert.equal(String(proxies[0]), plain.url);
    assert.equal(await roundTrip(socket, 'ping through the tunnel'), 'ping through the tunnel');
  });

  it('socks5h sends the name to the proxy; socks5 resolves it here', async () => {
    const remote = await connect({
      proxy: plain.url,
      destination: { host: 'localhost', port: echo.port },
    });
    remote.socket.destroy();
    assert.equal(plain.requests.at(-1), `connect localhost:${echo.port}`);
    const local = await connect({
      proxy: plain.url.replace('socks5h:', 'socks5:'),
      destination: { host: 'localhost', port: echo.port },
    });
    local.socket.destroy();
    assert.match(
      plain.requests.at(-1) ?? '',
      new RegExp(`^connect (127\\.0\\.0\\.1|::1):${echo.port}$`),
    );
  });

  it('SOCKS4 and SOCKS4a, with the user-id', async () => {
    const url4a = `socks4a://bob@127.0.0.1:${plain.port}`;
    const a = await connect({ proxy: url4a, destination: { host: 'localhost', port: echo.port } });
    assert.equal(await roundTrip(a.socket, 'four-a'), 'four-a');
    assert.equal(plain.requests.at(-1), `socks4 localhost:${echo.port} bob`);
    const url4 = `socks4://127.0.0.1:${plain.port}`;
    const b = await connect({ proxy: url4, destination: { host: 'localhost', port: echo.port } });
    assert.equal(await roundTrip(b.socket, 'four'), 'four');
    assert.equal(plain.requests.at(-1), `socks4 127.0.0.1:${echo.port} `);
  });

  it('username/password: right, wrong, and none offered', async () => {
    const base = `127.0.0.1:${authed.port}`;
    const ok = await connect({
      proxy: `socks5h://alice:wonder%20land@${base}`,
      destination: { host: '127.0.0.1', port: echo.port },
    });
    assert.equal(await roundTrip(ok.socket, 'authed'), 'authed');
    await assert.rejects(
      connect({
        proxy: `socks5h://alice:nope@${base}`,
        destination: { host: '127.0.0.1', port: echo.port },
      }),
      (e: unknown) =>
        e instanceof SocksAuthError &&
        e.code === 'ERR_SOCKS_AUTH_FAILED' &&
        e.message.includes(`socks5h://alice@${base}`) &&
        !e.message.includes('nope'),
    );
    await assert.rejects(
      connect({ proxy: `socks5h://${base}`, destination: { host: '127.0.0.1', port: echo.port } }),
      (e: unknown) => e instanceof SocksAuthError && e.code === 'ERR_SOCKS_NO_ACCEPTABLE_METHOD',
    );
  });

  it('a failure reply is a SocksReplyError naming the code, the proxy and the destination', async () => {
    const port = await closedPort();
    await assert.rejects(
      connect({ proxy: plain.url, destination: { host: '127.0.0.1', port } }),
      (e: unknown) => {
        assert.ok(e instanceof SocksReplyError);
        assert.equal(e.code, 'ERR_SOCKS_REPLY');
        assert.equal(e.reply, 0x05);
        assert.equal(e.version, 5);
        assert.match(e.message, /connection refused \(SOCKS5 reply 0x05\)/);
        assert.ok(e.message.includes(plain.url));
        assert.ok(e.message.includes(`127.0.0.1:${port}`));
        return true;
      },
    );
    await assert.rejects(
      connect({
        proxy: `socks4://127.0.0.1:${plain.port}`,
        destination: { host: '127.0.0.1', port },
      }),
      (e: unknown) =>
        e instanceof SocksReplyError && e.reply === 0x5b && /SOCKS4 reply 0x5b/.test(e.message),
    );
  });

  it('chains of two and three hops, mixing SOCKS5 and SOCKS4a, credentials per hop', async () => {
    const a = await startMiniSocks();
    const b = await startMiniSocks({ users: { hop: 'two' } });
    try {
      const two = await connect({
        proxies: [a.url, `socks5h://hop:two@127.0.0.1:${b.port}`],
        destination: { host: 'localhost', port: echo.port },
      });
      assert.equal(await roundTrip(two.socket, 'two hops'), 'two hops');
      assert.equal(a.requests.at(-1), `connect 127.0.0.1:${b.port}`);
      assert.equal(b.requests.at(-1), `connect localhost:${echo.port}`);

      const three = await connect({
        proxies: [
          `socks4a://127.0.0.1:${a.port}`,
          `socks5h://hop:two@127.0.0.1:${b.port}`,
          plain.url,
        ],
        destination: { host: 'localhost', port: echo.port },
      });
      assert.equal(await roundTrip(three.socket, 'three hops'), 'three hops');
      assert.equal(a.requests.at(-1), `socks4 127.0.0.1:${b.port} `);
      assert.equal(b.requests.at(-1), `connect 127.0.0.1:${plain.port}`);
      assert.equal(plain.requests.at(-1), `connect localhost:${echo.port}`);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a refusal deep in a chain names the hop', async () => {
    const port = await closedPort();
    await assert.rejects(
      connect({ proxies: [plain.url, plain.url], destination: { host: '127.0.0.1', port } }),
      (e: unknown) => e instanceof SocksReplyError && /\(hop 2 of 2\)/.test(e.message),
    );
  });
});

describe('connect() against misbehaving proxies', () => {
  const destination = { host: 'example.test', port: 80 };

  it('keeps the bytes the proxy sends right after its reply, even with a FIN behind them', async () => {
    // VER 05, REP 00, RSV, ATYP 01, 10.0.0.1, port 80 — then payload and the end, in one write.
    const reply = Buffer.concat([
      Buffer.from([5, 0, 0, 1, 10, 0, 0, 1, 0, 80]),
      Buffer.from('early bytes'),
    ]);
    const proxy = await answeringProxy(reply, true);
    try {
      const { socket, bound } = await connect({
        proxy: `socks5h://127.0.0.1:${proxy.port}`,
        destination,
      });
      assert.deepEqual(bound, { type: 'ipv4', host: '10.0.0.1', port: 80 });
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      await once(socket, 'end');
      assert.equal(Buffer.concat(chunks).toString(), 'early bytes');
      socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  const garbage: [string, Uint8Array, string][] = [
    ['an HTTP answer', Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'), 'ERR_SOCKS_BAD_VERSION'],
    ['a method never offered', Uint8Array.of(0x05, 0x02), 'ERR_SOCKS_UNEXPECTED_METHOD'],
    [
      'a SOCKS4 reply to SOCKS5',
      Uint8Array.of(0x00, 0x5a, 0, 0, 0, 0, 0, 0),
      'ERR_SOCKS_BAD_VERSION',
    ],
  ];
  for (const [name, bytes, code] of garbage) {
    it(`a proxy answering the greeting with ${name}: ${code}`, async () => {
      const proxy = await startFakeProxy((s) => s.once('data', () => s.write(bytes)));
      try {
        await assert.rejects(
          connect({ proxy: `socks5h://127.0.0.1:${proxy.port}`, destination, timeout: 5000 }),
          (e: unknown) =>
            e instanceof SocksProtocolError &&
            e.code === code &&
            e.message.includes(`127.0.0.1:${proxy.port}`),
        );
      } finally {
        await proxy.close();
      }
    });
  }

  it('a reply with an unknown address type', async () => {
    const proxy = await answeringProxy(Uint8Array.of(5, 0, 0, 0x09, 1, 2, 3, 4));
    try {
      await assert.rejects(
        connect({ proxy: `socks5h://127.0.0.1:${proxy.port}`, destination }),
        (e: unknown) =>
          e instanceof SocksProtocolError && e.code === 'ERR_SOCKS_UNSUPPORTED_ADDRESS_TYPE',
      );
    } finally {
      await proxy.close();
    }
  });

  it('random garbage always ends in a SocksError, never a crash or a hang', async () => {
    let seed = 42;
    const random = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
    for (let run = 0; run < 25; run++) {
      const bytes = Uint8Array.from({ length: 1 + (run % 12) * 7 }, random);
      const proxy = await startFakeProxy((s) => s.on('data', () => s.write(bytes)));
      try {
        for (const scheme of ['socks5h', 'socks4a']) {
          await assert.rejects(
            connect({ proxy: `${scheme}://127.0.0.1:${proxy.port}`, destination, timeout: 1000 }),
            SocksError,
          );
        }
      } finally {
        await proxy.close();
      }
    }
  });

  it('the proxy closing mid-handshake is a protocol error', async () => {
    const proxy = await startFakeProxy((s) => s.once('data', () => s.end(Uint8Array.of(0x05))));
    try {
      await assert.rejects(
        connect({ proxy: `socks5h://127.0.0.1:${proxy.port}`, destination }),
        (e: unknown) => e instanceof SocksProtocolError && e.code === 'ERR_SOCKS_UNEXPECTED_CLOSE',
      );
    } finally {
      await proxy.close();
    }
  });

  it('a silent proxy: SocksTimeoutError, and the connection is closed', async () => {
    let closed: Promise<unknown> = Promise.resolve();
    const proxy = await startFakeProxy((s) => {
      closed = once(s, 'close');
      s.resume(); // reads (so it sees our FIN) but never answers
    });
    try {
      await assert.rejects(
        connect({ proxy: `socks5h://127.0.0.1:${proxy.port}`, destination, timeout: 200 }),
        (e: unknown) =>
          e instanceof SocksTimeoutError &&
          (e.code as string) === 'ERR_SOCKS_TIMEOUT' &&
          e.timeout === 200 &&
          /example\.test:80 via socks5h:\/\/127\.0\.0\.1:\d+ timed out after 200 ms/.test(
            e.message,
          ),
      );
      await closed;
    } finally {
      await proxy.close();
    }
  });

  it('abort mid-handshake: SocksAbortError with the reason, and the connection is closed', async () => {
    const controller = new AbortController();
    let closed: Promise<unknown> = Promise.resolve();
    const proxy = await startFakeProxy((s) => {
      closed = once(s, 'close');
      s.once('data', () => {
        controller.abort(new Error('user gave up'));
      });
    });
    try {
      await assert.rejects(
        connect({
          proxy: `socks5h://127.0.0.1:${proxy.port}`,
          destination,
          signal: controller.signal,
        }),
        (e: unknown) =>
          e instanceof SocksAbortError &&
          (e.code as string) === 'ERR_SOCKS_ABORTED' &&
          (e.cause as Error).message === 'user gave up',
      );
      await closed;
    } finally {
      await proxy.close();
    }
  });

  it('an already aborted signal never connects', async () => {
    await assert.rejects(
      connect({ proxy: 'socks5h://127.0.0.1:9', destination, signal: AbortSignal.abort() }),
      SocksAbortError,
    );
  });

  it('an unreachable proxy is a SocksConnectionError with the errno as cause', async () => {
    const port = await closedPort();
    await assert.rejects(
      connect({ proxy: `socks5h://127.0.0.1:${port}`, destination }),
      (e: unknown) =>
        e instanceof SocksConnectionError &&
        e.code === 'ERR_SOCKS_PROXY_CONNECTION' &&
        (e.cause as NodeJS.ErrnoException).code === 'ECONNREFUSED',
    );
  });

  it('bad options are rejected before any connection', async () => {
    await assert.rejects(
      connect({ proxy: 'socks5h://127.0.0.1:1', destination: { host: '', port: 1 } }),
      /destination.host: missing/,
    );
    await assert.rejects(
      connect({ proxy: 'socks5h://127.0.0.1:1', destination: { host: 'a', port: 1 }, timeout: -1 }),
      /timeout: must be a positive number/,
    );
    await assert.rejects(
      connect({ proxy: 'socks4://127.0.0.1:1', destination: { host: '::1', port: 1 } }),
      /cannot carry the IPv6 address/,
    );
  });

  it('a multi-round authentication method owns the bytes, then the request goes on', async () => {
    // Proxy side of a made-up method 0x80: two rounds of "challenge n" / "response n+1".
    const proxy = await startFakeProxy((s) => {
      let stage = 0;
      s.on('data', (chunk: Buffer) => {
        if (stage === 0)
          s.write(Uint8Array.of(0x05, 0x80, 0x01)); // METHOD 80, then challenge 1
        else if (stage === 1) {
          assert.deepEqual([...chunk], [0x02]);
          s.write(Uint8Array.of(0x03)); // challenge 3
        } else if (stage === 2) {
          assert.deepEqual([...chunk], [0x04]);
          s.write(Uint8Array.of(0xff)); // "done"
        } else {
          // the request: reply success, bound 127.0.0.1:1
          s.write(Uint8Array.of(5, 0, 0, 1, 127, 0, 0, 1, 0, 1));
        }
        stage++;
      });
    });
    const rounds: number[] = [];
    const method: ClientAuthMethod = {
      method: 0x80,
      name: 'counting',
      start: () => ({
        step(input) {
          if (input.length === 0) return { consumed: 0, done: false };
          const n = input[0]!;
          rounds.push(n);
          if (n === 0xff) return { consumed: 1, done: true };
          return { consumed: 1, done: false, output: Uint8Array.of(n + 1) };
        },
      }),
    };
    try {
      const { socket, bound } = await connect({
        proxy: { host: '127.0.0.1', port: proxy.port, methods: [method] },
        destination,
      });
      socket.destroy();
      assert.deepEqual(rounds, [1, 3, 0xff]);
      assert.equal(bound.port, 1);
    } finally {
      await proxy.close();
    }
  });
});
