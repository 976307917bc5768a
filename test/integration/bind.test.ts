/** BIND over real loopback sockets, IPv4 and IPv6, with hand-written client bytes. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { connectTo, hasIPv6Loopback, Reader, startFerry } from '../helpers/net.js';
import { GREETING_NOAUTH, hex } from '../helpers/socks5.js';
import { CMD_BIND, command, longIPv6, readReply, request } from '../helpers/socks5-commands.js';
import { ChannelLog } from '../helpers/events.js';
import type { BindRefusedEvent, SessionEvent } from '../../src/observability/channels.js';

/** Resolves true once nothing accepts connections on host:port (polled up to `ms`). */
async function refusesConnections(port: number, host: string, ms = 1000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host });
      s.once('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(true));
    });
    if (refused) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The application server's side: connects to the BND address, from `localAddress`. */
async function peerConnect(port: number, host: string, localAddress?: string): Promise<Reader> {
  const socket = await connectTo(port, host, localAddress === undefined ? {} : { localAddress });
  return new Reader(socket);
}

describe('BIND', async () => {
  const v6 = await hasIPv6Loopback();
  let ferry: Awaited<ReturnType<typeof startFerry>>;
  before(async () => {
    ferry = await startFerry({ bindTimeout: 5000 });
  });
  after(async () => {
    await ferry.close();
  });

  it('IPv4: both replies carry the real addresses; data both ways with half-close', async () => {
    // VER=05 CMD=02 BIND RSV=00 ATYP=01 127.0.0.1 PORT=0
    const { reader, reply } = await command(ferry.port, hex('05 02 00 01 7f000001 0000'));
    assert.deepEqual([reply.ver, reply.rep, reply.atyp], [5, 0, 0x01]);
    assert.equal(reply.host, '127.0.0.1', 'the address toward 127.0.0.1 is 127.0.0.1');
    assert.ok(reply.port > 0);

    const peer = await peerConnect(reply.port, reply.host);
    const second = await readReply(reader);
    assert.deepEqual([second.rep, second.atyp], [0, 0x01]);
    assert.equal(second.host, '127.0.0.1');
    assert.equal(second.port, peer.socket.localPort, "the second reply names the peer's port");

    reader.socket.write('from client');
    assert.equal((await peer.read(11)).toString(), 'from client');
    peer.socket.write('from peer');
    assert.equal((await reader.read(9)).toString(), 'from peer');
    // Half-close: the client's FIN reaches the peer, which can still answer.
    reader.socket.end();
    assert.equal((await peer.readToEnd()).length, 0, 'peer sees the FIN');
    peer.socket.end('after FIN');
    assert.equal((await reader.readToEnd()).toString(), 'after FIN');
  });

  it(
    'IPv6: both replies are IPv6 ([::1])',
    { skip: !v6 && 'no IPv6 loopback on this machine' },
    async () => {
      const ferry6 = await startFerry({}, '::1');
      try {
        // VER=05 CMD=02 RSV=00 ATYP=04 ::1 PORT=0
        const { reader, reply } = await command(
          ferry6.port,
          hex('05 02 00 04 00000000000000000000000000000001 0000'),
          '::1',
        );
        assert.deepEqual([reply.rep, reply.atyp, reply.host], [0, 0x04, longIPv6('::1')]);
        const peer = await peerConnect(reply.port, '::1');
        const second = await readReply(reader);
        assert.deepEqual([second.rep, second.atyp, second.host], [0, 0x04, longIPv6('::1')]);
        assert.equal(second.port, peer.socket.localPort);
        peer.socket.write('six');
        assert.equal((await reader.read(3)).toString(), 'six');
        reader.socket.write('xis');
        assert.equal((await peer.read(3)).toString(), 'xis');
        peer.socket.end();
        assert.equal((await reader.readToEnd()).length, 0);
        reader.socket.end();
      } finally {
        await ferry6.close();
      }
    },
  );

  it('a peer from another IP (127.0.0.2) is refused and counted; the right one gets through', async () => {
    using refused = new ChannelLog<BindRefusedEvent>('ferry:bind:refused');
    using ended = new ChannelLog<SessionEvent>('ferry:session:end');
    const { reader, reply } = await command(ferry.port, request(CMD_BIND, '127.0.0.1', 21));
    assert.equal(reply.rep, 0);
    const clientPort = reader.socket.localPort;

    // On loopback the reset can beat the connect callback: either way the intruder is closed.
    const intruder = net.connect({ port: reply.port, host: reply.host, localAddress: '127.0.0.2' });
    intruder.on('error', () => undefined);
    intruder.resume();
    await new Promise((resolve) => intruder.once('close', resolve));
    const event = await refused.waitFor((e) => e.peerAddress === '127.0.0.2');
    assert.deepEqual(event.expected, ['127.0.0.1']);
    assert.equal(event.session.command, 'bind');
    assert.equal(reader.buffered, 0, 'no second reply for a refused peer');

    const peer = await peerConnect(reply.port, reply.host, '127.0.0.1');
    const second = await readReply(reader);
    assert.deepEqual(
      [second.rep, second.host, second.port],
      [0, '127.0.0.1', peer.socket.localPort],
    );
    peer.socket.write('ok');
    assert.equal((await reader.read(2)).toString(), 'ok');
    const peerPort = peer.socket.localPort;
    reader.socket.destroy();
    peer.socket.destroy();
    const end = await ended.waitFor((e) => e.session.clientPort === clientPort);
    assert.equal(end.session.remote, `127.0.0.1:${peerPort}`);
    assert.equal(end.session.bindRefused, 1);
  });

  it('DST.ADDR 0.0.0.0 accepts a peer from any address', async () => {
    const { reader, reply } = await command(ferry.port, request(CMD_BIND, '0.0.0.0', 0));
    assert.deepEqual([reply.rep, reply.host], [0, '127.0.0.1'], 'the address the client reached');
    const peer = await peerConnect(reply.port, reply.host, '127.0.0.2');
    const second = await readReply(reader);
    assert.deepEqual([second.rep, second.host], [0, '127.0.0.2']);
    peer.socket.destroy();
    reader.socket.destroy();
  });

  it('DST.ADDR as a name (localhost): a peer from its address is accepted', async () => {
    const { reader, reply } = await command(ferry.port, request(CMD_BIND, 'localhost', 0));
    assert.equal(reply.rep, 0);
    const peer = await peerConnect(reply.port, reply.atyp === 0x04 ? '::1' : reply.host);
    const second = await readReply(reader);
    assert.equal(second.rep, 0);
    assert.equal(second.port, peer.socket.localPort);
    peer.socket.destroy();
    reader.socket.destroy();
  });

  it('bytes the client sends while waiting are delivered to the peer first', async () => {
    const socket = await connectTo(ferry.port);
    const reader = new Reader(socket);
    // Greeting, request and payload in one write: the payload must survive the wait.
    socket.write(
      Buffer.concat([GREETING_NOAUTH, request(CMD_BIND, '127.0.0.1', 0), Buffer.from('early')]),
    );
    assert.deepEqual(await reader.read(2), hex('05 00'));
    const reply = await readReply(reader);
    socket.write(' and late');
    const peer = await peerConnect(reply.port, reply.host);
    assert.equal((await readReply(reader)).rep, 0);
    assert.equal((await peer.read(14)).toString(), 'early and late');
    socket.destroy();
    peer.socket.destroy();
  });

  it('timeout: a full-length 06 reply, then close', async () => {
    const quick = await startFerry({ bindTimeout: 300 });
    try {
      const { reader, reply } = await command(quick.port, request(CMD_BIND, '127.0.0.1', 0));
      assert.equal(reply.rep, 0);
      // VER=05 REP=06 TTL expired RSV=00 ATYP=01 0.0.0.0 port 0: ten octets, nothing after.
      assert.deepEqual(await reader.read(10, 5000), hex('05 06 00 01 00000000 0000'));
      assert.equal((await reader.readToEnd()).length, 0);
      assert.ok(await refusesConnections(reply.port, reply.host), 'listener closed');
    } finally {
      await quick.close();
    }
  });

  for (const how of ['destroy', 'end'] as const) {
    it(`the client closing (${how}) while waiting closes the listener at once`, async () => {
      using ended = new ChannelLog<SessionEvent>('ferry:session:end');
      const { socket, reply } = await command(ferry.port, request(CMD_BIND, '127.0.0.1', 0));
      assert.equal(reply.rep, 0);
      const clientPort = socket.localPort;
      if (how === 'destroy') socket.destroy();
      else socket.end();
      // Probing the port before the server saw the close would race (the probe could be taken
      // for the peer), so wait for the session to end — within a second — then probe once.
      const end = await ended.waitFor((e) => e.session.clientPort === clientPort, 1000);
      assert.equal(end.session.endReason, 'client-closed');
      assert.equal(end.session.remote, undefined, 'no peer was accepted');
      assert.ok(await refusesConnections(reply.port, reply.host, 0), 'listener closed');
      if (how === 'end') socket.destroy();
    });
  }

  it('externalAddress is advertised in the first reply', async () => {
    const natted = await startFerry({ externalAddress: ['203.0.113.7', '2001:db8::7'] });
    try {
      const { reader, reply } = await command(natted.port, request(CMD_BIND, '127.0.0.1', 0));
      assert.deepEqual([reply.rep, reply.atyp, reply.host], [0, 0x01, '203.0.113.7']);
      // The real socket still listens on the loopback address, on the advertised port.
      const peer = await peerConnect(reply.port, '127.0.0.1');
      assert.equal((await readReply(reader)).rep, 0);
      peer.socket.destroy();
      reader.socket.destroy();
    } finally {
      await natted.close();
    }
  });

  it('the server closing (drain deadline) closes a waiting listener', async () => {
    const draining = await startFerry();
    const { reader, reply } = await command(draining.port, request(CMD_BIND, '127.0.0.1', 0));
    await draining.server.close({ drainTimeout: 0 });
    assert.ok(await reader.closed(), 'the client connection is closed');
    assert.ok(await refusesConnections(reply.port, reply.host, 0), 'and the listener with it');
    reader.socket.destroy();
  });
});
