// The SOCKS4/4a server session: hand-written bytes fed one octet at a time, replies checked
// against hand-written vectors, BIND's two replies, pipelined payload, refusals and misuse.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  NEED_DATA,
  PAUSED,
  Socks4ServerSession,
  socks4ReplyAddress,
  type Socks4ServerEvent,
} from '../../src/protocol/socks4-server-session.js';
import { SocksProtocolError, SocksUsageError } from '../../src/errors.js';
import { hex } from '../helpers/vectors.js';

type Next = ReturnType<Socks4ServerSession['nextEvent']>;

function feedBytewise(session: Socks4ServerSession, bytes: Uint8Array): Next[] {
  const out: Next[] = [];
  for (const b of bytes) {
    session.receiveData(Uint8Array.of(b));
    const e = session.nextEvent();
    if (e !== NEED_DATA) out.push(e);
    if (e === PAUSED || (typeof e === 'object' && e.type === 'protocol-error')) return out;
  }
  return out;
}

// prettier-ignore
const CONNECT_V4 = hex(
  '04' +        // VN: SOCKS4
  '01' +        // CD: CONNECT
  '0050' +      // DSTPORT: 80
  '7f000001' +  // DSTIP: 127.0.0.1
  '616c696365' + // USERID: "alice"
  '00',         // NULL
);

// prettier-ignore
const CONNECT_4A = hex(
  '04' +        // VN
  '01' +        // CD: CONNECT
  '01bb' +      // DSTPORT: 443
  '00000007' +  // DSTIP: 0.0.0.7 — a domain name follows (SOCKS4a)
  '00' +        // USERID empty, NULL
  '6578616d706c652e636f6d' + // "example.com"
  '00',         // NULL
);

// prettier-ignore
const BIND_V4 = hex(
  '04' +        // VN
  '02' +        // CD: BIND
  '0015' +      // DSTPORT: 21 (the application server's port)
  'c000020a' +  // DSTIP: 192.0.2.10
  '00',         // USERID empty, NULL
);

describe('Socks4ServerSession', () => {
  it('SOCKS4 CONNECT fed one byte at a time, then 5A with the bound address', () => {
    const s = new Socks4ServerSession();
    const [request] = feedBytewise(s, CONNECT_V4);
    assert.deepEqual(request, {
      type: 'request',
      command: 1,
      destination: { type: 'ipv4', host: '127.0.0.1', port: 80 },
      userId: 'alice',
    });
    assert.equal(s.state, 'replying');
    assert.equal(s.nextEvent(), PAUSED);
    assert.deepEqual(
      s.send({ type: 'reply', granted: true, bound: { address: '10.0.0.5', port: 0x1234 } }),
      // VN=00, CD=5A granted, DSTPORT=1234, DSTIP=10.0.0.5
      hex('00 5a 1234 0a000005'),
    );
    assert.equal(s.state, 'established');
    assert.equal(s.takeTrailingData().length, 0);
  });

  it('SOCKS4a: the domain name after USERID', () => {
    const s = new Socks4ServerSession();
    const [request] = feedBytewise(s, CONNECT_4A);
    assert.deepEqual(request, {
      type: 'request',
      command: 1,
      destination: { type: 'domain', host: 'example.com', port: 443 },
      userId: '',
    });
  });

  it('keeps bytes pipelined after the request for the relay', () => {
    const s = new Socks4ServerSession();
    s.receiveData(Uint8Array.from([...CONNECT_V4, ...hex('47455420')])); // request + "GET "
    assert.equal((s.nextEvent() as Socks4ServerEvent).type, 'request');
    assert.equal(s.bufferedLength, 4);
    s.send({ type: 'reply', granted: true });
    assert.deepEqual(s.takeTrailingData(), hex('47455420'));
  });

  it('BIND: two replies, the first where the server listens, the second the peer', () => {
    const s = new Socks4ServerSession();
    s.receiveData(BIND_V4);
    assert.equal((s.nextEvent() as Socks4ServerEvent).type, 'request');
    assert.deepEqual(
      s.send({ type: 'reply', granted: true, bound: { address: '127.0.0.1', port: 40000 } }),
      hex('00 5a 9c40 7f000001'), // listening on 127.0.0.1:40000
    );
    assert.equal(s.state, 'bind-accepting');
    assert.deepEqual(
      s.send({ type: 'reply', granted: true, bound: { address: '192.0.2.10', port: 20 } }),
      hex('00 5a 0014 c000020a'), // the peer 192.0.2.10:20 connected
    );
    assert.equal(s.state, 'established');
  });

  it('BIND whose peer never comes: the second reply is 5B and the session closes', () => {
    const s = new Socks4ServerSession();
    s.receiveData(BIND_V4);
    s.nextEvent();
    s.send({ type: 'reply', granted: true, bound: { address: '127.0.0.1', port: 40000 } });
    assert.deepEqual(s.send({ type: 'reply', granted: false }), hex('00 5b 0000 00000000'));
    assert.equal(s.state, 'closed');
  });

  it('a refusal is a full 8-octet 5B and closes', () => {
    const s = new Socks4ServerSession();
    s.receiveData(CONNECT_V4);
    s.nextEvent();
    assert.deepEqual(s.send({ type: 'reply', granted: false }), hex('00 5b 0000 00000000'));
    assert.equal(s.state, 'closed');
    assert.throws(() => s.send({ type: 'reply', granted: true }), SocksUsageError);
  });

  it('an unknown command is a protocol error answered with 5B', () => {
    const s = new Socks4ServerSession();
    s.receiveData(hex('04 03 0050 7f000001 00')); // CD 03 does not exist in SOCKS4
    const e = s.nextEvent() as Extract<Socks4ServerEvent, { type: 'protocol-error' }>;
    assert.equal(e.type, 'protocol-error');
    assert.equal(e.error.code, 'ERR_SOCKS_UNSUPPORTED_COMMAND');
    assert.deepEqual(e.response, hex('00 5b 0000 00000000'));
    assert.equal(s.state, 'failed');
    assert.throws(() => s.receiveData(hex('00')), SocksUsageError);
  });

  it('a USERID that never ends is refused at 256 octets, not buffered', () => {
    const s = new Socks4ServerSession();
    s.receiveData(hex('04 01 0050 7f000001'));
    s.receiveData(new Uint8Array(255).fill(0x61));
    assert.equal(s.nextEvent(), NEED_DATA);
    s.receiveData(hex('61'));
    const e = s.nextEvent() as Extract<Socks4ServerEvent, { type: 'protocol-error' }>;
    assert.equal(e.error.code, 'ERR_SOCKS_MESSAGE_TOO_LARGE');
  });

  it('reply addresses: IPv4 kept, IPv4-mapped unwrapped, other IPv6 becomes 0.0.0.0', () => {
    assert.deepEqual(socks4ReplyAddress('192.0.2.1', 7), {
      type: 'ipv4',
      host: '192.0.2.1',
      port: 7,
    });
    assert.equal(socks4ReplyAddress('::ffff:127.0.0.1', 7).host, '127.0.0.1');
    assert.equal(socks4ReplyAddress('::1', 7).host, '0.0.0.0');
    assert.equal(socks4ReplyAddress('2001:db8::1', 7).port, 7);
  });

  it('sending before the request is misuse', () => {
    assert.throws(
      () => new Socks4ServerSession().send({ type: 'reply', granted: true }),
      SocksUsageError,
    );
  });

  it('garbage after VN 04 only ever yields NEED_DATA, a request, or a protocol-error event', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat()), (tail, cuts) => {
        const s = new Socks4ServerSession();
        const bytes = Uint8Array.of(0x04, ...tail);
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        let prev = 0;
        for (const p of [...points, bytes.length]) {
          s.receiveData(bytes.subarray(prev, p));
          prev = p;
          const e = s.nextEvent();
          if (e === NEED_DATA) continue;
          if (e === PAUSED) return;
          if (e.type === 'protocol-error') {
            assert.ok(e.error instanceof SocksProtocolError);
            return;
          }
          assert.equal(e.type, 'request');
          return;
        }
        // Still incomplete: never more than one maximal request is buffered.
        assert.ok(s.bufferedLength <= 8 + 256 + 256);
      }),
    );
  });
});
