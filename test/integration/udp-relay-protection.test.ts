// The UDP relay's protection path on its own, over real loopback sockets, with a stand-in for
// the GSS-API encapsulation (the relay sees only wrapDatagram/unwrapDatagram/maxChunk, so the
// logic is checked here without a KDC; test/integration/gssapi-bind-udp does it with MIT's
// library): what fails to unwrap is dropped as `protection` and the relay goes on; replies too
// big to wrap, or whose wrapped form outgrows a UDP payload, are `too-large`; a wrap that fails
// is `protection`; without protection datagrams pass untouched.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UdpRelay, type DatagramProtection, type UdpCounters } from '../../src/relay/udp.js';
import { openAssociationSocket } from '../../src/relay/udp-socket.js';
import { compilePolicy } from '../../src/rules/index.js';
import { startUdpEcho, UdpEndpoint } from '../helpers/udp.js';

/** `00 00 | 00 | 01 | 7f 00 00 01 | PORT`: the RFC 1928 §7 header for 127.0.0.1:port, by hand. */
function udpHeader(port: number): Buffer {
  return Buffer.from([0x00, 0x00, 0x00, 0x01, 127, 0, 0, 1, port >> 8, port & 0xff]);
}

const MARK = 0xaa;
const noResolver = {
  resolve: () => Promise.reject(new Error('no names in this test')),
};

/** "Wraps" by prefixing MARK and `padding` octets; unwraps only what carries the MARK. */
function standIn(maxChunk: number, padding = 0, failWrap = false): DatagramProtection {
  return {
    maxChunk,
    wrapDatagram(datagram) {
      if (failWrap) throw new Error('the library refused');
      return Buffer.concat([Buffer.from([MARK]), Buffer.alloc(padding), datagram]);
    },
    unwrapDatagram(payload) {
      if (payload[0] !== MARK) throw new Error('fails its check');
      return payload.subarray(1 + padding);
    },
  };
}

async function relayWith(protection: DatagramProtection | undefined) {
  const opened = await openAssociationSocket();
  const counters: UdpCounters = {
    datagramsUp: 0,
    bytesUp: 0,
    datagramsDown: 0,
    bytesDown: 0,
    dropped: {},
  };
  const relay = new UdpRelay(opened.socket, {
    clientAddress: '127.0.0.1',
    clientPort: undefined,
    dual: opened.dual,
    idleTimeout: 0,
    reassembly: undefined,
    resolver: noResolver,
    policy: compilePolicy({ rules: [], default: 'allow' }).session({
      client: '127.0.0.1',
      user: undefined,
      command: 'udp',
      dialect: 'socks5',
    }),
    protection,
    counters,
    onIdle: () => undefined,
  });
  return { relay, port: opened.port, counters };
}

/** Waits until `check()` holds (bounded: 100 × 20 ms). */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(check(), 'condition reached');
}

describe('UDP relay: datagram protection', () => {
  it('drops what does not unwrap as `protection`, relays what does, wraps the answer whole', async () => {
    const echo = await startUdpEcho();
    const client = await UdpEndpoint.open('127.0.0.1');
    const { relay, port, counters } = await relayWith(standIn(65_000));
    try {
      const plain = Buffer.concat([udpHeader(echo.port), Buffer.from('hello')]);
      await client.send(plain, port, '127.0.0.1'); // not wrapped: dropped
      await client.send(Buffer.concat([Buffer.from([MARK]), plain]), port, '127.0.0.1');
      const back = await client.receive();
      assert.deepEqual(back.msg, Buffer.concat([Buffer.from([MARK]), plain]), 'header and data');
      assert.deepEqual(counters.dropped, { protection: 1 });
      assert.equal(echo.received(), 1);
      assert.equal(counters.datagramsUp, 1);
      assert.equal(counters.bytesDown, 5, 'application octets, not wrapped ones');
    } finally {
      relay.close();
      client.close();
      echo.close();
    }
  });

  it('a reply too big to wrap in one message, or wrapped beyond a UDP payload, is `too-large`', async () => {
    // maxChunk 100: a 200-octet answer (plus its header) cannot be wrapped in one message.
    const small = await relayWith(standIn(100));
    // maxChunk is no limit here, but 100 octets of wrapping push a 65 450-octet answer past
    // the 65 507 octets an IPv4 UDP payload can carry.
    const padded = await relayWith(standIn(70_000, 100));
    const peer = await UdpEndpoint.open('127.0.0.1');
    const client = await UdpEndpoint.open('127.0.0.1');
    try {
      for (const [r, size] of [
        [small, 200],
        [padded, 65_450],
      ] as const) {
        const out = Buffer.concat([
          Buffer.from([MARK]),
          ...(r === padded ? [Buffer.alloc(100)] : []),
        ]);
        await client.send(
          Buffer.concat([out, udpHeader(peer.port), Buffer.from('hi')]),
          r.port,
          '127.0.0.1',
        );
        const got = await peer.receive();
        assert.equal(got.msg.toString(), 'hi');
        await peer.send(Buffer.alloc(size), r.port, '127.0.0.1');
        await until(() => r.counters.dropped['too-large'] === 1);
        // A small answer still goes through.
        await peer.send(Buffer.from('ok'), r.port, '127.0.0.1');
        const back = await client.receive();
        assert.equal(back.msg.subarray(back.msg.length - 2).toString(), 'ok');
      }
    } finally {
      small.relay.close();
      padded.relay.close();
      peer.close();
      client.close();
    }
  });

  it('a wrap that fails drops the answer as `protection`', async () => {
    const { relay, port, counters } = await relayWith(standIn(65_000, 0, true));
    const peer = await UdpEndpoint.open('127.0.0.1');
    const client = await UdpEndpoint.open('127.0.0.1');
    try {
      await client.send(
        Buffer.concat([Buffer.from([MARK]), udpHeader(peer.port), Buffer.from('hi')]),
        port,
        '127.0.0.1',
      );
      await peer.receive();
      await peer.send(Buffer.from('answer'), port, '127.0.0.1');
      await until(() => counters.dropped.protection === 1);
      assert.equal(client.queued, 0);
    } finally {
      relay.close();
      peer.close();
      client.close();
    }
  });

  it('without protection the datagram goes as it is (the fast path)', async () => {
    const echo = await startUdpEcho();
    const client = await UdpEndpoint.open('127.0.0.1');
    const { relay, port, counters } = await relayWith(undefined);
    try {
      const plain = Buffer.concat([udpHeader(echo.port), Buffer.from('hello')]);
      await client.send(plain, port, '127.0.0.1');
      assert.deepEqual((await client.receive()).msg, plain);
      assert.deepEqual(counters.dropped, {});
    } finally {
      relay.close();
      client.close();
      echo.close();
    }
  });
});
