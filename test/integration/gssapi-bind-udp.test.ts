// GSS-API protection of BIND and UDP ASSOCIATE (RFC 1961 §5, RFC 1928 §7), with a live MIT KDC:
// - ferry's client against ferry's server at integrity and at confidentiality: BIND (both replies,
//   data both ways through the layer) and UDP round trips;
// - by hand on the wire (headers written here, tokens from an in-test initiator): the wrapped
//   BIND replies, a tampered message ending the session (between the replies and in the relay),
//   the exact form of a protected datagram both ways (`01 03 LEN token`, the token unwrapping to
//   the whole §7 datagram), and tampered, replayed, unwrapped and unencrypted datagrams dropped
//   and counted as `protection` while the association goes on;
// - ferry's client dropping a tampered datagram from its relay, counted, never fatal.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { PassThrough, type Duplex } from 'node:stream';
import { kdcSkipReason, startKdc, type Kdc } from '../helpers/kdc.js';
import { establish, loadGssapiForTests } from '../helpers/gssapi.js';
import { Reader, startFerry } from '../helpers/net.js';
import { ChannelLog } from '../helpers/events.js';
import { startUdpEcho, UdpEndpoint } from '../helpers/udp.js';
import {
  establishRaw,
  frame,
  negotiateLevel,
  readWrapped,
  wrapped,
  type RawGssapiSession,
} from '../helpers/gssapi-wire.js';
import { bind } from '../../src/client/bind.js';
import { associate, SocksUdpAssociation } from '../../src/client/associate.js';
import { GssapiSocket } from '../../src/gssapi/stream.js';
import { Encapsulation } from '../../src/gssapi/encapsulation.js';
import { ProtectionLevel } from '../../src/protocol/gssapi.js';
import { socksAddress } from '../../src/protocol/address.js';
import type { GssAcceptor, GssInitiator } from '../../src/gssapi/index.js';
import type { SessionEvent } from '../../src/observability/channels.js';

const kdcSkip = kdcSkipReason();
const loaded = await loadGssapiForTests();
const skip = loaded.skip ?? kdcSkip ?? false;

type Ferry = Awaited<ReturnType<typeof startFerry>>;
const KiB = 1024;
const levels = [
  ['integrity', 1],
  ['confidentiality', 2],
] as const;

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Collects everything `socket` sends until it ends. */
async function readAll(socket: Duplex): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await once(socket, 'end');
  return Buffer.concat(chunks);
}

/** `00 00 | 00 | 01 | 7f 00 00 01 | PORT`: the RFC 1928 §7 header for 127.0.0.1:port, by hand. */
function udpHeader(port: number): Buffer {
  return Buffer.from([0x00, 0x00, 0x00, 0x01, 127, 0, 0, 1, port >> 8, port & 0xff]);
}

/** `05 CMD 00 01 00 00 00 00 00 00`: BIND (02) or UDP ASSOCIATE (03) for 0.0.0.0:0, by hand. */
function zeroRequest(command: 0x02 | 0x03): Buffer {
  return Buffer.from([0x05, command, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
}

/** Checks a SOCKS5 success reply with an IPv4 BND (`05 00 00 01 A.B.C.D PORT`); returns BND. */
function successReply(reply: Uint8Array): { host: string; port: number } {
  assert.equal(reply.length, 10, 'an IPv4 reply');
  assert.deepEqual(reply.subarray(0, 4), Uint8Array.of(0x05, 0x00, 0x00, 0x01), 'succeeded, IPv4');
  return { host: [...reply.subarray(4, 8)].join('.'), port: (reply[8]! << 8) | reply[9]! };
}

/** Flips one bit in the middle of a token (the framing stays valid). */
function tampered(token: Uint8Array): Buffer {
  const copy = Buffer.from(token);
  copy[copy.length >> 1]! ^= 0x01;
  return copy;
}

describe('GSS-API protection of BIND and UDP ASSOCIATE', { skip, timeout: 60_000 }, () => {
  let kdc: Kdc;
  let server: Ferry;
  const sessions = new ChannelLog<SessionEvent>('ferry:session:end');
  const drops = new ChannelLog<{ reason: string; count: number }>('ferry:udp:dropped');
  const gss = () => loaded.binding!;
  const url = (query = ''): string => `socks5h+gssapi://localhost:${server.port}${query}`;
  const endOf = async (clientPort: number | undefined) =>
    (await sessions.waitFor((m) => m.session.clientPort === clientPort)).session;

  before(async () => {
    kdc = await startKdc();
    Object.assign(process.env, kdc.env);
    server = await startFerry({
      gssapi: { keytab: kdc.keytab, serviceName: 'rcmd', levels: ['integrity', 'confidentiality'] },
    });
  });
  after(async () => {
    sessions.close();
    drops.close();
    await server.close();
    await kdc.stop();
  });

  for (const [level] of levels) {
    it(`BIND at ${level}: both replies and 256 KiB each way through the layer`, async () => {
      const pending = await bind({
        proxy: url(`?level=${level}`),
        destination: { host: '127.0.0.1', port: 0 },
      });
      assert.equal(pending.bound.host, '127.0.0.1', 'first reply: where ferry listens');
      const peer = net.connect(pending.bound.port, pending.bound.host);
      await once(peer, 'connect');
      const { socket, remote } = await pending.incoming;
      assert.ok(socket instanceof GssapiSocket, 'the accepted connection comes through the layer');
      assert.equal(socket.protection, level);
      const clientPort = socket.localPort; // read now: a closed socket has no port
      assert.deepEqual(
        { host: remote.host, port: remote.port },
        { host: '127.0.0.1', port: peer.localPort },
        'second reply: the peer',
      );
      const up = randomBytes(256 * KiB);
      const down = randomBytes(256 * KiB);
      const atPeer = readAll(peer);
      const atClient = readAll(socket);
      socket.end(up);
      peer.end(down);
      const [gotUp, gotDown] = await Promise.all([atPeer, atClient]);
      assert.equal(sha256(gotUp), sha256(up), 'client → peer intact');
      assert.equal(sha256(gotDown), sha256(down), 'peer → client intact');
      peer.destroy();
      socket.destroy();
      const session = await endOf(clientPort);
      assert.equal(session.command, 'bind');
      assert.equal(session.protection, level);
      assert.equal(session.user, kdc.user.principal);
      assert.equal(session.bytesUp, up.length, 'application bytes, not wrapped ones');
      assert.equal(session.bytesDown, down.length);
    });

    it(`UDP ASSOCIATE at ${level}: round trips of 1 to 8000 octets, nothing dropped`, async () => {
      const echo = await startUdpEcho();
      const udp = await associate({ proxy: url(`?level=${level}`) });
      try {
        assert.ok(udp.methodOverhead > 4, 'RFC 1928 §7 method_dependent: framing + wrap token');
        for (const size of [1, 100, 1400, 8000]) {
          const data = randomBytes(size);
          const got = once(udp, 'message') as Promise<[Buffer, { port: number }]>;
          await udp.send(data, echo.port, '127.0.0.1');
          const [back, from] = await got;
          assert.equal(sha256(back), sha256(data), `${size} octets back intact`);
          assert.equal(from.port, echo.port);
        }
        assert.equal(udp.droppedDatagrams, 0);
      } finally {
        udp.close();
        echo.close();
      }
      const session = await sessions.waitFor(
        (m) => m.session.command === 'udp' && m.session.protection === level,
      );
      const counters = session.session.udp;
      assert.ok(counters !== undefined);
      assert.equal(counters.datagramsUp, 4);
      assert.equal(counters.datagramsDown, 4);
      assert.deepEqual(counters.dropped, {});
    });
  }

  it('UDP through a chain of two protected hops: datagrams wrapped for the last hop', async () => {
    using ends = new ChannelLog<SessionEvent>('ferry:session:end');
    const echo = await startUdpEcho();
    // The same server twice: the first hop carries the second hop's handshake in its layer.
    const udp = await associate({
      proxies: [url('?level=integrity'), url('?level=confidentiality')],
    });
    try {
      const got = once(udp, 'message') as Promise<[Buffer]>;
      await udp.send('through two hops', echo.port, '127.0.0.1');
      const [back] = await got;
      assert.equal(back.toString(), 'through two hops');
    } finally {
      udp.close();
      echo.close();
    }
    const last = await ends.waitFor(
      (m) => m.session.command === 'udp' && m.session.protection === 'confidentiality',
    );
    assert.equal(last.session.udp?.datagramsUp, 1, 'the last hop relayed it');
  });

  /** A raw session at `level` (1 or 2) that has sent `request` and read its (first) reply. */
  async function rawRequest(level: 1 | 2, request: Buffer): Promise<RawGssapiSession> {
    const session = await establishRaw(gss(), server.port);
    assert.equal(await negotiateLevel(session, level), level);
    session.socket.write(wrapped(session.initiator, level, request));
    return session;
  }

  it('BIND by hand at integrity: two wrapped replies, wrapped data, then tampering ends it', async () => {
    const raw = await rawRequest(1, zeroRequest(0x02));
    const first = successReply(await readWrapped(raw));
    const peer = net.connect(first.port, first.host);
    await once(peer, 'connect');
    const second = successReply(await readWrapped(raw));
    assert.deepEqual(second, { host: '127.0.0.1', port: peer.localPort });
    const peerReader = new Reader(peer);
    peer.write('from the peer');
    assert.equal(Buffer.from(await readWrapped(raw)).toString(), 'from the peer');
    raw.socket.write(wrapped(raw.initiator, 1, Buffer.from('to the peer')));
    assert.equal((await peerReader.read(11)).toString(), 'to the peer');
    // One bit flipped in the next message: the relay ends, the peer's connection with it.
    const forged = raw.initiator.wrap(Buffer.from('forged'), { confidential: false }).token;
    raw.socket.write(frame(0x03, tampered(forged)));
    const [clientClosed, peerClosed] = await Promise.all([
      raw.reader.closed(),
      peerReader.closed(),
    ]);
    assert.ok(clientClosed, 'the client connection closed');
    assert.ok(peerClosed, "the peer's connection closed with it");
    const session = await endOf(raw.socket.localPort);
    assert.equal(session.command, 'bind');
    assert.equal(session.error, 'ERR_SOCKS_GSSAPI_PROTECTION');
    raw.initiator.dispose();
  });

  it('BIND by hand at confidentiality: a tampered message between the replies closes the listener', async () => {
    const raw = await rawRequest(2, zeroRequest(0x02));
    const first = successReply(await readWrapped(raw));
    const token = raw.initiator.wrap(Buffer.from('early'), { confidential: true }).token;
    raw.socket.write(frame(0x03, tampered(token)));
    assert.ok(await raw.reader.closed(), 'the client connection closed');
    const session = await endOf(raw.socket.localPort);
    assert.equal(session.error, 'ERR_SOCKS_GSSAPI_PROTECTION');
    // Nobody waits for a peer any more.
    const late = net.connect(first.port, first.host);
    const [err] = (await once(late, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNREFUSED');
    raw.initiator.dispose();
  });

  for (const [level, octet] of levels) {
    it(`UDP by hand at ${level}: 01 03 LEN wrap(header + data) both ways; bad datagrams dropped, not fatal`, async () => {
      const echo = await startUdpEcho();
      const client = await UdpEndpoint.open('127.0.0.1');
      const raw = await rawRequest(octet, zeroRequest(0x03));
      const { initiator } = raw;
      const relay = successReply(await readWrapped(raw));
      const confidential = octet === 2;
      const datagram = (data: string): Buffer =>
        Buffer.concat([udpHeader(echo.port), Buffer.from(data)]);
      const good = (data: string): Buffer =>
        frame(0x03, initiator.wrap(datagram(data), { confidential }).token);

      const first = good('first');
      await client.send(first, relay.port, relay.host);
      const back = await client.receive();
      // The relay's answer, octet by octet: VER 01, MTYP 03, LEN = the rest; the token unwraps
      // to the §7 header naming the echo server, then the data.
      assert.equal(back.msg[0], 0x01, 'RFC 1961 VER');
      assert.equal(back.msg[1], 0x03, 'MTYP 03: encapsulated user data');
      assert.equal(back.msg.readUInt16BE(2), back.msg.length - 4, 'LEN: the whole rest');
      const unwrapped = initiator.unwrap(back.msg.subarray(4));
      assert.equal(unwrapped.confidential, confidential);
      assert.deepEqual(Buffer.from(unwrapped.data), datagram('first'));

      const bad: [string, Buffer][] = [
        ['tampered', frame(0x03, tampered(initiator.wrap(datagram('x'), { confidential }).token))],
        ['replayed', first],
        ['not wrapped', datagram('plain')],
        ['two messages in one', Buffer.concat([good('a'), good('b')])],
      ];
      if (confidential) {
        const clear = initiator.wrap(datagram('clear'), { confidential: false }).token;
        bad.push(['unencrypted at confidentiality', frame(0x03, clear)]);
      }
      for (const [, msg] of bad) await client.send(msg, relay.port, relay.host);
      // A good datagram after them all still goes through: the association is intact.
      await client.send(good('last'), relay.port, relay.host);
      const last = await client.receive();
      assert.deepEqual(Buffer.from(initiator.unwrap(last.msg.subarray(4)).data), datagram('last'));
      assert.equal(echo.received(), 2, 'only the two good datagrams reached the destination');
      assert.equal(client.queued, 0);

      raw.socket.end();
      const session = await endOf(raw.socket.localPort);
      assert.equal(session.command, 'udp');
      assert.equal(session.protection, level);
      assert.deepEqual(session.udp?.dropped, { protection: bad.length });
      assert.ok(drops.messages.some((m) => m.reason === 'protection'));
      client.close();
      echo.close();
      initiator.dispose();
    });
  }

  it("ferry's client drops a tampered, unwrapped or replayed datagram from its relay, and counts it", async () => {
    const serverCred = await gss().acquireAcceptorCredential({
      keytab: kdc.keytab,
      serviceName: kdc.serviceName,
    });
    const clientCred = await gss().acquireInitiatorCredential({ ccache: kdc.ccache });
    const initiator: GssInitiator = gss().createInitiator({
      target: kdc.serviceName,
      credential: clientCred,
    });
    const acceptor: GssAcceptor = gss().createAcceptor(serverCred);
    await establish(initiator, acceptor);
    serverCred.dispose();
    clientCred.dispose();

    // The association as associate() builds it, with a stand-in relay socket in this test.
    const relay = await UdpEndpoint.open('127.0.0.1');
    const socket = dgram.createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    const udp = new SocksUdpAssociation(
      new PassThrough(),
      socket,
      socksAddress('127.0.0.1', relay.port),
      [],
      new Encapsulation(initiator, ProtectionLevel.Integrity),
    );
    const received: string[] = [];
    udp.on('message', (data) => received.push(data.toString()));
    const port = socket.address().port;
    const fromRelay = (data: string): Buffer =>
      frame(
        0x03,
        acceptor.wrap(Buffer.concat([udpHeader(4242), Buffer.from(data)]), { confidential: false })
          .token,
      );
    const first = fromRelay('one');
    await relay.send(first, port, '127.0.0.1');
    await relay.send(
      frame(0x03, tampered(acceptor.wrap(udpHeader(4242), { confidential: false }).token)),
      port,
      '127.0.0.1',
    );
    await relay.send(Buffer.concat([udpHeader(4242), Buffer.from('plain')]), port, '127.0.0.1');
    await relay.send(first, port, '127.0.0.1');
    await relay.send(fromRelay('two'), port, '127.0.0.1');
    for (let i = 0; i < 100 && received.length < 2; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(received, ['one', 'two']);
    assert.deepEqual(udp.dropped, { protection: 3 });
    assert.equal(udp.droppedDatagrams, 3);

    // What the client sends: one message, the whole datagram wrapped.
    await udp.send('out', 9, '127.0.0.1');
    const out = await relay.receive();
    assert.deepEqual(out.msg.subarray(0, 2), Buffer.from([0x01, 0x03]));
    assert.equal(out.msg.readUInt16BE(2), out.msg.length - 4);
    assert.deepEqual(
      Buffer.from(acceptor.unwrap(out.msg.subarray(4)).data),
      Buffer.concat([udpHeader(9), Buffer.from('out')]),
    );
    udp.close();
    relay.close();
    initiator.dispose();
    acceptor.dispose();
  });
});
