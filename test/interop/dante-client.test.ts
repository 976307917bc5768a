// ferry's client against Dante (Debian's dante-server): CONNECT with and without
// username/password, SOCKS4, BIND, UDP ASSOCIATE and a chain — how we know the client speaks
// SOCKS and not just ferry's dialect. Dante is started by test/helpers/dante.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import { connect } from '../../src/client/connect.js';
import { bind } from '../../src/client/bind.js';
import { associate } from '../../src/client/associate.js';
import { SocksAuthError } from '../../src/errors.js';
import {
  DANTE_PASSWORD,
  DANTE_USER,
  danteUnavailable,
  ensureDanteUser,
  startDante,
  type Dante,
} from '../helpers/dante.js';
import { startEchoServer, startUdpEchoServer, type Closable } from '../helpers/servers.js';

const skip = danteUnavailable();

async function echoThrough(socket: Duplex, text: string): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.end(text);
  await once(socket, 'end');
  socket.destroy();
  return Buffer.concat(chunks).toString();
}

describe('client against Dante, socksmethod none', { skip }, () => {
  let dante: Dante;
  let echo: Closable;
  let udpEcho: Closable;
  const cleanup: (() => Promise<void>)[] = [];
  before(async () => {
    echo = await startEchoServer();
    cleanup.push(() => echo.close());
    udpEcho = await startUdpEchoServer();
    cleanup.push(() => udpEcho.close());
    dante = await startDante('none');
    cleanup.push(() => dante.stop());
  });
  after(async () => {
    await Promise.all(cleanup.map((f) => f()));
  });

  it('CONNECT (socks5, socks5h) with the bound address Dante reports', async () => {
    for (const scheme of ['socks5', 'socks5h']) {
      const { socket, bound } = await connect({
        proxy: `${scheme}://127.0.0.1:${dante.port}`,
        destination: { host: 'localhost', port: echo.port },
      });
      assert.equal(bound.host, '127.0.0.1'); // Dante's "external" address
      assert.ok(bound.port > 0);
      assert.equal(await echoThrough(socket, `hello via ${scheme}`), `hello via ${scheme}`);
    }
  });

  it('SOCKS4 CONNECT', async () => {
    const { socket } = await connect({
      proxy: `socks4://nobody@127.0.0.1:${dante.port}`,
      destination: { host: '127.0.0.1', port: echo.port },
    });
    assert.equal(await echoThrough(socket, 'four'), 'four');
  });

  it('a chain of two Dantes, SOCKS5 then SOCKS4', async () => {
    // Dante refuses to CONNECT to its own listening address (reply 02), so: a second one.
    const second = await startDante('none');
    try {
      const { socket } = await connect({
        proxies: [`socks5://127.0.0.1:${dante.port}`, `socks4://127.0.0.1:${second.port}`],
        destination: { host: '127.0.0.1', port: echo.port },
      });
      assert.equal(await echoThrough(socket, 'chained'), 'chained');
    } finally {
      await second.stop();
    }
  });

  it('BIND: the first reply says where to connect, the second who did', async () => {
    const b = await bind({ proxy: `socks5://127.0.0.1:${dante.port}` });
    assert.equal(b.bound.host, '127.0.0.1');
    assert.ok(b.bound.port > 0);
    const peer = net.connect(b.bound.port, b.bound.host);
    await once(peer, 'connect');
    peer.write('from the peer');
    const { socket, remote } = await b.incoming;
    assert.equal(remote.host, '127.0.0.1');
    assert.equal(remote.port, peer.localPort);
    const got: Buffer[] = [];
    socket.on('data', (c: Buffer) => got.push(c));
    socket.write('to the peer');
    const [back] = (await once(peer, 'data')) as [Buffer];
    assert.equal(back.toString(), 'to the peer');
    peer.end();
    await once(socket, 'end');
    assert.equal(Buffer.concat(got).toString(), 'from the peer');
    socket.destroy();
  });

  it('BIND: close() before the peer comes rejects the incoming promise', async () => {
    const b = await bind({ proxy: `socks5://127.0.0.1:${dante.port}` });
    b.close();
    await assert.rejects(b.incoming, { code: 'ERR_SOCKS_ABORTED' });
  });

  it('UDP ASSOCIATE: datagrams out and back, with the sender address', async () => {
    const udp = await associate({ proxy: `socks5://127.0.0.1:${dante.port}` });
    try {
      assert.equal(udp.relay.type, 'ipv4');
      assert.equal(udp.headerLength('127.0.0.1'), 10);
      assert.equal(udp.headerLength('::1'), 22);
      assert.equal(udp.maxHeaderLength, 262);
      const message = once(udp, 'message');
      await udp.send('ping', udpEcho.port, '127.0.0.1');
      const [data, from] = (await message) as [Buffer, { address: string; port: number }];
      assert.equal(data.toString(), 'echo:ping');
      assert.equal(from.address, '127.0.0.1');
      assert.equal(from.port, udpEcho.port);
    } finally {
      const closed = once(udp, 'close');
      udp.close();
      await closed;
    }
    await assert.rejects(udp.send('late', udpEcho.port, '127.0.0.1'), {
      code: 'ERR_SOCKS_INVALID_STATE',
    });
  });
});

describe('client against Dante, socksmethod username', { skip }, () => {
  let dante: Dante;
  let echo: Closable;
  let userSkip: string | undefined;
  const cleanup: (() => Promise<void>)[] = [];
  before(async () => {
    userSkip = ensureDanteUser();
    echo = await startEchoServer();
    cleanup.push(() => echo.close());
    dante = await startDante('username');
    cleanup.push(() => dante.stop());
  });
  after(async () => {
    await Promise.all(cleanup.map((f) => f()));
  });

  it('right credentials: CONNECT works', async (t) => {
    if (userSkip !== undefined) {
      t.skip(userSkip);
      return;
    }
    const { socket } = await connect({
      proxy: {
        protocol: 'socks5',
        host: '127.0.0.1',
        port: dante.port,
        username: DANTE_USER,
        password: DANTE_PASSWORD,
      },
      destination: { host: '127.0.0.1', port: echo.port },
    });
    assert.equal(await echoThrough(socket, 'authenticated'), 'authenticated');
  });

  it('wrong credentials: SocksAuthError', async (t) => {
    if (userSkip !== undefined) {
      t.skip(userSkip);
      return;
    }
    await assert.rejects(
      connect({
        proxy: `socks5://${DANTE_USER}:wrong@127.0.0.1:${dante.port}`,
        destination: { host: '127.0.0.1', port: echo.port },
      }),
      (e: unknown) => e instanceof SocksAuthError && e.code === 'ERR_SOCKS_AUTH_FAILED',
    );
  });

  it('no credentials: no acceptable method', async () => {
    await assert.rejects(
      connect({
        proxy: `socks5://127.0.0.1:${dante.port}`,
        destination: { host: '127.0.0.1', port: echo.port },
      }),
      (e: unknown) => e instanceof SocksAuthError && e.code === 'ERR_SOCKS_NO_ACCEPTABLE_METHOD',
    );
  });
});
