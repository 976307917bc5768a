/** fast-check properties of the codec: round trips, arbitrary chunking, garbage never crashes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeGreeting,
  decodeMethodSelection,
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
  MAX_REQUEST_LENGTH,
} from '../../src/protocol/socks5.js';
import {
  decodeUserPassRequest,
  decodeUserPassResponse,
  MAX_USER_PASS_REQUEST_LENGTH,
} from '../../src/protocol/user-pass.js';
import { decodeUdpDatagram, encodeUdpDatagram } from '../../src/protocol/udp.js';
import { formatIPv6, type SocksAddress } from '../../src/protocol/address.js';
import { NEED_MORE } from '../../src/protocol/decode.js';
import { NEED_DATA, PAUSED, ServerSession } from '../../src/protocol/server-session.js';
import { SocksProtocolError } from '../../src/errors.js';

const port = fc.integer({ min: 0, max: 0xffff });
const address: fc.Arbitrary<SocksAddress> = fc.oneof(
  fc
    .tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), port)
    .map(([b, p]) => ({ type: 'ipv4' as const, host: [...b].join('.'), port: p })),
  fc
    .tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), port)
    .map(([b, p]) => ({ type: 'ipv6' as const, host: formatIPv6(b), port: p })),
  fc
    .tuple(fc.stringMatching(/^[a-z0-9.-]{1,255}$/), port)
    .map(([h, p]) => ({ type: 'domain' as const, host: h, port: p })),
);

/** Splits bytes into chunks at arbitrary cut points. */
function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  return out;
}

const onlyProtocolErrors = (fn: () => unknown): void => {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof SocksProtocolError)) throw err;
  }
};

describe('codec properties', () => {
  it('request and reply round-trip', () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 3), address, (command, destination) => {
        const bytes = encodeRequest({ command: command, destination });
        assert.deepEqual(decodeRequest(bytes), {
          value: { command, destination },
          length: bytes.length,
        });
        const reply = encodeReply({ reply: command, bound: destination });
        assert.deepEqual(decodeReply(reply), {
          value: { reply: command, bound: destination },
          length: reply.length,
        });
      }),
    );
  });

  it('UDP datagrams round-trip', () => {
    fc.assert(
      fc.property(
        address,
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 64 }),
        (addr, frag, data) => {
          const d = decodeUdpDatagram(encodeUdpDatagram({ address: addr, data, frag }));
          assert.deepEqual(
            { frag: d.frag, address: d.address, data: Buffer.from(d.data) },
            { frag, address: addr, data: Buffer.from(data) },
          );
        },
      ),
    );
  });

  it('random garbage only ever raises SocksProtocolError', () => {
    const decoders = [
      decodeGreeting,
      decodeMethodSelection,
      decodeRequest,
      decodeReply,
      decodeUserPassRequest,
      decodeUserPassResponse,
      decodeUdpDatagram,
    ];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        for (const d of decoders) onlyProtocolErrors(() => d(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('a decoder needs at most its maximum message length to decide', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({
          minLength: MAX_USER_PASS_REQUEST_LENGTH,
          maxLength: MAX_USER_PASS_REQUEST_LENGTH + 4,
        }),
        (bytes) => {
          bytes[0] = 0x05;
          onlyProtocolErrors(() =>
            assert.notEqual(decodeRequest(bytes.subarray(0, MAX_REQUEST_LENGTH)), NEED_MORE),
          );
          bytes[0] = 0x01;
          onlyProtocolErrors(() => assert.notEqual(decodeUserPassRequest(bytes), NEED_MORE));
        },
      ),
    );
  });

  it('any chunking of a pipelined handshake gives the same events and keeps the payload', () => {
    fc.assert(
      fc.property(
        address,
        fc.uint8Array({ maxLength: 100 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (dest, payload, cuts) => {
          const stream = Buffer.concat([
            Buffer.from([5, 1, 0]),
            encodeRequest({ command: 1, destination: dest }),
            payload,
          ]);
          const s = new ServerSession();
          const events: unknown[] = [];
          for (const chunk of chunked(stream, cuts)) {
            s.receiveData(chunk);
            for (let e = s.nextEvent(); e !== NEED_DATA && e !== PAUSED; e = s.nextEvent()) {
              events.push(e);
              if (typeof e === 'object' && e.type === 'greeting')
                s.send({ type: 'method', method: 0 });
            }
          }
          assert.deepEqual(events, [
            { type: 'greeting', methods: [0] },
            { type: 'request', command: 1, destination: dest },
          ]);
          s.send({ type: 'reply', reply: 0, bound: { type: 'ipv4', host: '0.0.0.0', port: 0 } });
          assert.deepEqual(Buffer.from(s.takeTrailingData()), Buffer.from(payload));
        },
      ),
    );
  });

  it('garbage into a session ends in an event or a protocol-error, with bounded buffering', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (bytes, cuts) => {
          const s = new ServerSession();
          const failed = (): boolean => s.state === 'failed';
          for (const chunk of chunked(bytes, cuts)) {
            if (failed()) break;
            s.receiveData(chunk);
            for (let e = s.nextEvent(); e !== NEED_DATA && e !== PAUSED; e = s.nextEvent()) {
              if (e.type === 'greeting') s.send({ type: 'method', method: 2 });
              if (e.type === 'credentials') s.send({ type: 'auth-result', success: true });
              if (e.type === 'protocol-error') break;
            }
            if (!failed() && s.nextEvent() === NEED_DATA) {
              assert.ok(
                s.bufferedLength < MAX_USER_PASS_REQUEST_LENGTH,
                `buffered ${s.bufferedLength}`,
              );
            }
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
