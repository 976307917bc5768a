/** UDP ASSOCIATE over real loopback sockets: relay, filtering, bad datagrams, lifetime. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasIPv6Loopback, startFerry } from '../helpers/net.js';
import { hex } from '../helpers/socks5.js';
import {
  CMD_UDP,
  command,
  longIPv6,
  parseUdpDatagram,
  request,
  udpDatagram,
} from '../helpers/socks5-commands.js';
import { startUdpEcho, udpPortFree, UdpEndpoint } from '../helpers/udp.js';
import { ChannelLog } from '../helpers/events.js';
import type { SessionEvent, UdpDroppedEvent } from '../../src/observability/channels.js';

type Ferry = Awaited<ReturnType<typeof startFerry>>;

/** Associates from `client` (declaring its port, or all zeros) and returns the relay address. */
async function associate(ferry: Ferry, declare: { host: string; port: number }) {
  const { reader, reply } = await command(
    ferry.port,
    request(CMD_UDP, declare.host, declare.port),
    ferry.host,
  );
  assert.equal(reply.rep, 0, 'UDP ASSOCIATE succeeds');
  return { reader, reply };
}

describe('UDP ASSOCIATE', async () => {
  const v6 = await hasIPv6Loopback();
  let ferry: Ferry;
  let echo: Awaited<ReturnType<typeof startUdpEcho>>;
  before(async () => {
    ferry = await startFerry();
    echo = await startUdpEcho('127.0.0.1');
  });
  after(async () => {
    await ferry.close();
    echo.close();
  });

  it('IPv4: the reply names where to send; a datagram goes to the echo and back with its header', async () => {
    // VER=05 CMD=03 RSV=00 ATYP=01 0.0.0.0 PORT=0: "I do not know my address yet"
    const { reader, reply } = await command(ferry.port, hex('05 03 00 01 00000000 0000'));
    assert.deepEqual([reply.rep, reply.atyp, reply.host], [0, 0x01, '127.0.0.1']);
    assert.ok(reply.port > 0);
    const client = await UdpEndpoint.open('127.0.0.1');
    try {
      const port = Buffer.alloc(2);
      port.writeUInt16BE(echo.port);
      // RSV=0000 FRAG=00 ATYP=01 127.0.0.1 PORT DATA="ping"
      await client.send(
        Buffer.concat([hex('0000 00 01 7f000001'), port, Buffer.from('ping')]),
        reply.port,
        '127.0.0.1',
      );
      const back = await client.receive();
      assert.equal(back.port, reply.port, 'the relay answers from the port it advertised');
      // The relay names the sender: RSV=0000 FRAG=00 ATYP=01 127.0.0.1 echo-port, then DATA.
      assert.deepEqual(
        back.msg,
        Buffer.concat([hex('0000 00 01 7f000001'), port, Buffer.from('ping')]),
      );
    } finally {
      client.close();
      reader.socket.destroy();
    }
  });

  it(
    'IPv6: client, relay and destination on [::1]',
    { skip: !v6 && 'no IPv6 loopback' },
    async () => {
      const ferry6 = await startFerry({}, '::1');
      const echo6 = await startUdpEcho('::1');
      const client = await UdpEndpoint.open('::1');
      try {
        const { reader, reply } = await associate(ferry6, { host: '::', port: client.port });
        assert.deepEqual([reply.atyp, reply.host], [0x04, longIPv6('::1')]);
        await client.send(udpDatagram('::1', echo6.port, 'six'), reply.port, '::1');
        const back = parseUdpDatagram((await client.receive()).msg);
        assert.deepEqual([back.atyp, back.host, back.port], [0x04, longIPv6('::1'), echo6.port]);
        assert.equal(back.data.toString(), 'six');
        reader.socket.destroy();
      } finally {
        client.close();
        echo6.close();
        await ferry6.close();
      }
    },
  );

  it(
    'an IPv4 client can reach an IPv6 destination (dual-stack relay socket)',
    { skip: !v6 && 'no IPv6 loopback' },
    async () => {
      const echo6 = await startUdpEcho('::1');
      const client = await UdpEndpoint.open('127.0.0.1');
      try {
        const { reader, reply } = await associate(ferry, { host: '0.0.0.0', port: 0 });
        await client.send(udpDatagram('::1', echo6.port, 'cross'), reply.port, reply.host);
        const back = parseUdpDatagram((await client.receive()).msg);
        assert.deepEqual(
          [back.host, back.port, back.data.toString()],
          [longIPv6('::1'), echo6.port, 'cross'],
        );
        reader.socket.destroy();
      } finally {
        client.close();
        echo6.close();
      }
    },
  );

  it('a domain destination (localhost) is resolved; the reply names the address it went to', async () => {
    // A dual-stack echo hears whichever address localhost resolves to.
    const dualEcho = await startUdpEcho(v6 ? '::' : '127.0.0.1');
    const client = await UdpEndpoint.open('127.0.0.1');
    try {
      const { reader, reply } = await associate(ferry, { host: '0.0.0.0', port: 0 });
      for (const text of ['one', 'two']) {
        await client.send(udpDatagram('localhost', dualEcho.port, text), reply.port, reply.host);
        const back = parseUdpDatagram((await client.receive()).msg);
        assert.ok(['127.0.0.1', longIPv6('::1')].includes(back.host), back.host);
        assert.equal(back.port, dualEcho.port);
        assert.equal(back.data.toString(), text);
      }
      reader.socket.destroy();
    } finally {
      client.close();
      dualEcho.close();
    }
  });

  it('a name that does not resolve is dropped and counted', async () => {
    using drops = new ChannelLog<UdpDroppedEvent>('ferry:udp:dropped');
    const client = await UdpEndpoint.open('127.0.0.1');
    try {
      const { reader, reply } = await associate(ferry, { host: '0.0.0.0', port: 0 });
      await client.send(udpDatagram('nonexistent.invalid', 9, 'x'), reply.port, reply.host);
      const drop = await drops.waitFor((d) => d.reason === 'resolve');
      assert.equal(drop.session.udp?.dropped.resolve, 1);
      reader.socket.destroy();
    } finally {
      client.close();
    }
  });

  it('declared port: datagrams from another port of the client IP are dropped', async () => {
    using drops = new ChannelLog<UdpDroppedEvent>('ferry:udp:dropped');
    const client = await UdpEndpoint.open('127.0.0.1');
    const other = await UdpEndpoint.open('127.0.0.1');
    try {
      const { reader, reply } = await associate(ferry, { host: '127.0.0.1', port: client.port });
      await other.send(udpDatagram('127.0.0.1', echo.port, 'sneaky'), reply.port, reply.host);
      const drop = await drops.waitFor((d) => d.reason === 'source');
      assert.equal(drop.from, `127.0.0.1:${other.port}`);
      // The declared port still works, and only its datagram reached the echo.
      const before = echo.received();
      await client.send(udpDatagram('127.0.0.1', echo.port, 'legit'), reply.port, reply.host);
      assert.equal(parseUdpDatagram((await client.receive()).msg).data.toString(), 'legit');
      assert.equal(echo.received(), before + 1);
      assert.equal(other.queued, 0);
      reader.socket.destroy();
    } finally {
      client.close();
      other.close();
    }
  });

  it('all-zero request: the first datagram locks the port; other ports and 127.0.0.2 are dropped', async () => {
    using drops = new ChannelLog<UdpDroppedEvent>('ferry:udp:dropped');
    const client = await UdpEndpoint.open('127.0.0.1');
    const otherPort = await UdpEndpoint.open('127.0.0.1');
    const otherIp = await UdpEndpoint.open('127.0.0.2');
    try {
      const { reader, reply } = await associate(ferry, { host: '0.0.0.0', port: 0 });
      await client.send(udpDatagram('127.0.0.1', echo.port, 'first'), reply.port, reply.host);
      assert.equal(parseUdpDatagram((await client.receive()).msg).data.toString(), 'first');
      await otherPort.send(udpDatagram('127.0.0.1', echo.port, 'x'), reply.port, reply.host);
      await otherIp.send(udpDatagram('127.0.0.1', echo.port, 'y'), reply.port, reply.host);
      await drops.waitFor((d) => d.from === `127.0.0.1:${otherPort.port}` && d.reason === 'source');
      const d2 = await drops.waitFor((d) => d.from === `127.0.0.2:${otherIp.port}`);
      assert.equal(d2.reason, 'source');
      const udp = d2.session.udp;
      assert.ok(udp);
      assert.equal(udp.dropped.source, 2);
      assert.equal(udp.datagramsUp, 1);
      reader.socket.destroy();
    } finally {
      client.close();
      otherPort.close();
      otherIp.close();
    }
  });

  it('a host the client never sent to cannot inject datagrams toward the client', async () => {
    using drops = new ChannelLog<UdpDroppedEvent>('ferry:udp:dropped');
    const client = await UdpEndpoint.open('127.0.0.1');
    const stranger = await UdpEndpoint.open('127.0.0.2');
    try {
      const { reader, reply } = await associate(ferry, { host: '127.0.0.1', port: client.port });
      await client.send(udpDatagram('127.0.0.1', echo.port, 'hi'), reply.port, reply.host);
      await client.receive();
      await stranger.send(Buffer.from('injected'), reply.port, reply.host);
      await drops.waitFor((d) => d.from === `127.0.0.2:${stranger.port}` && d.reason === 'source');
      assert.equal(client.queued, 0, 'nothing reached the client');
      reader.socket.destroy();
    } finally {
      client.close();
      stranger.close();
    }
  });

  it('malformed headers are dropped and counted; the association keeps working', async () => {
    using drops = new ChannelLog<UdpDroppedEvent>('ferry:udp:dropped');
    const client = await UdpEndpoint.open('127.0.0.1');
    try {
      const { reader, reply } = await associate(ferry, { host: '127.0.0.1', port: client.port });
      const bad = [
        hex('0000 00'), // shorter than any header
        hex('0001 00 01 7f000001 0035 6869'), // RSV not zero
        hex('0000 00 07 7f000001 0035 6869'), // ATYP 07 does not exist
        hex('0000 00 03 05 6162'), // domain length 5, only 2 octets follow
        hex('0000 00 04 0000'), // IPv6 address cut short
      ];
      for (const b of bad) await client.send(Buffer.from(b), reply.port, reply.host);
      await drops.waitFor(
        (d) => d.reason === 'malformed' && d.session.udp?.dropped.malformed === bad.length,
      );
      await client.send(udpDatagram('127.0.0.1', echo.port, 'still fine'), reply.port, reply.host);
      assert.equal(parseUdpDatagram((await client.receive()).msg).data.toString(), 'still fine');
      reader.socket.destroy();
    } finally {
      client.close();
    }
  });

  it('a flood from a stranger is dropped and counted; the client is still served', async () => {
    const client = await UdpEndpoint.open('127.0.0.1');
    const stranger = await UdpEndpoint.open('127.0.0.2');
    try {
      const { reader, reply } = await associate(ferry, { host: '127.0.0.1', port: client.port });
      const junk = udpDatagram('127.0.0.1', echo.port, Buffer.alloc(512));
      // Bounded: 2000 datagrams, in batches so the sender's own buffer does not refuse them.
      for (let i = 0; i < 20; i++) {
        await Promise.all(
          Array.from({ length: 100 }, () => stranger.send(junk, reply.port, reply.host)),
        );
      }
      // UDP is lossy: while the relay's receive buffer is full the kernel drops anything, the
      // client's datagrams too. Once it drains, the client gets through (a few tries, bounded).
      let answer: string | undefined;
      for (let i = 0; i < 10 && answer === undefined; i++) {
        await client.send(udpDatagram('127.0.0.1', echo.port, 'after'), reply.port, reply.host);
        answer = await client
          .receive(500)
          .then((r) => parseUdpDatagram(r.msg).data.toString())
          .catch(() => undefined);
      }
      assert.equal(answer, 'after');
      const record = ferry.server.sessions().find((s) => s.clientPort === reader.socket.localPort);
      assert.ok(record?.udp);
      assert.ok((record.udp.dropped.source ?? 0) > 0, 'the flood was counted');
      const up = record.udp.datagramsUp;
      assert.ok(up >= 1 && up <= 10, `only the client's own tries were relayed (${up})`);
      reader.socket.destroy();
    } finally {
      client.close();
      stranger.close();
    }
  });

  for (const how of ['destroy', 'end'] as const) {
    it(`the association ends with its TCP connection (${how}): UDP socket closed within 1 s`, async () => {
      using ended = new ChannelLog<SessionEvent>('ferry:session:end');
      const client = await UdpEndpoint.open('127.0.0.1');
      try {
        const { reader, reply } = await associate(ferry, { host: '0.0.0.0', port: 0 });
        await client.send(udpDatagram('127.0.0.1', echo.port, 'abc'), reply.port, reply.host);
        await client.receive();
        if (how === 'destroy') reader.socket.destroy();
        else reader.socket.end();
        assert.ok(await udpPortFree(reply.port, v6 ? '::' : '0.0.0.0', 1000), 'port released');
        const end = await ended.waitFor((e) => e.session.remote === `127.0.0.1:${reply.port}`);
        assert.equal(end.session.endReason, 'client-closed');
        assert.deepEqual(end.session.udp, {
          datagramsUp: 1,
          bytesUp: 3,
          datagramsDown: 1,
          bytesDown: 3,
          dropped: {},
        });
        reader.socket.destroy();
      } finally {
        client.close();
      }
    });
  }

  it('idle timeout: the association and its TCP connection are closed', async () => {
    const idle = await startFerry({ udpIdleTimeout: 300 });
    using ended = new ChannelLog<SessionEvent>('ferry:session:end');
    try {
      const { reader, reply } = await associate(idle, { host: '0.0.0.0', port: 0 });
      assert.ok(await reader.closed(5000), 'the server closes the TCP connection');
      const end = await ended.waitFor((e) => e.session.command === 'udp');
      assert.equal(end.session.endReason, 'udp-idle-timeout');
      assert.ok(await udpPortFree(reply.port, v6 ? '::' : '0.0.0.0', 1000));
      reader.socket.destroy();
    } finally {
      await idle.close();
    }
  });

  it('udpPorts: the relay port is drawn from the range; a full range is a 01 reply', async () => {
    // Find two free adjacent ports to make a range of them.
    const probe = await UdpEndpoint.open('127.0.0.1');
    const base = probe.port;
    probe.close();
    const ranged = await startFerry({ udpPorts: { from: base, to: base } });
    try {
      const first = await associate(ranged, { host: '0.0.0.0', port: 0 });
      assert.equal(first.reply.port, base);
      // The only port is taken now: the next association cannot have one.
      const { reader, reply } = await command(ranged.port, request(CMD_UDP, '0.0.0.0', 0));
      assert.equal(reply.rep, 0x01);
      assert.ok(await reader.closed());
      first.reader.socket.destroy();
    } finally {
      await ranged.close();
    }
  });

  it('externalAddress: the reply advertises it', async () => {
    const natted = await startFerry({ externalAddress: '198.51.100.4' });
    try {
      const { reader, reply } = await associate(natted, { host: '0.0.0.0', port: 0 });
      assert.deepEqual([reply.atyp, reply.host], [0x01, '198.51.100.4']);
      reader.socket.destroy();
    } finally {
      await natted.close();
    }
  });
});
