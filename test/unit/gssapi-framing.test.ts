// RFC 1961 framing: hand-written vectors (never produced by our encoder), every prefix, every
// split point, and fast-check properties. Tokens are opaque here; see
// test/fixtures/gssapi-wrapped.ts for frames around tokens made by the real library.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  GSSAPI_ABORT,
  GSSAPI_HEADER_LENGTH,
  GSSAPI_VERSION,
  GssapiMessageType,
  MAX_GSSAPI_TOKEN_LENGTH,
  ProtectionLevel,
  decodeGssapiMessage,
  decodeProtectionLevel,
  encodeGssapiMessage,
  encodeProtectionLevel,
  protectionLevelNames,
  type GssapiMessage,
} from '../../src/protocol/gssapi.js';
import { NEED_MORE } from '../../src/protocol/decode.js';
import {
  ProtocolErrorCode,
  SocksProtocolError,
  SocksUsageError,
  UsageErrorCode,
} from '../../src/errors.js';
import { gssapiFrameFixtures } from '../fixtures/gssapi-wrapped.js';

const bytes = (...octets: number[]) => Uint8Array.from(octets);
const filled = (n: number, f: (i: number) => number) =>
  Uint8Array.from({ length: n }, (_, i) => f(i));

interface Vector {
  readonly name: string;
  readonly wire: Uint8Array;
  readonly message: GssapiMessage;
}

const vectors: Vector[] = [
  {
    name: 'client context token (MTYP 01), 5 octets',
    // VER=01 | MTYP=01 context | LEN=00 05 | TOKEN a0 b1 c2 d3 e4
    wire: bytes(0x01, 0x01, 0x00, 0x05, 0xa0, 0xb1, 0xc2, 0xd3, 0xe4),
    message: { type: 'context', token: bytes(0xa0, 0xb1, 0xc2, 0xd3, 0xe4) },
  },
  {
    name: 'server "ready" context message with a zero-length token',
    // VER=01 | MTYP=01 | LEN=00 00 (RFC 1961 §3: no output token -> zero length token)
    wire: bytes(0x01, 0x01, 0x00, 0x00),
    message: { type: 'context', token: bytes() },
  },
  {
    name: 'protection level, NEC variant: bare octet 02',
    // VER=01 | MTYP=02 protection level | LEN=00 01 | TOKEN=02 (confidentiality, unwrapped)
    wire: bytes(0x01, 0x02, 0x00, 0x01, 0x02),
    message: { type: 'protection-level', token: bytes(0x02) },
  },
  {
    name: 'encapsulated data (MTYP 03) with LEN 0x0100: big-endian length',
    // VER=01 | MTYP=03 encapsulated | LEN=01 00 (256) | TOKEN 00 01 02 .. ff
    wire: Uint8Array.from([0x01, 0x03, 0x01, 0x00, ...filled(256, (i) => i)]),
    message: { type: 'encapsulated', token: filled(256, (i) => i) },
  },
  {
    name: 'encapsulated data with the largest LEN, ff ff',
    // VER=01 | MTYP=03 | LEN=ff ff (65535) | TOKEN of 65535 octets
    wire: Uint8Array.from([0x01, 0x03, 0xff, 0xff, ...filled(0xffff, (i) => i & 0xff)]),
    message: { type: 'encapsulated', token: filled(0xffff, (i) => i & 0xff) },
  },
  {
    name: 'abort',
    // VER=01 | MTYP=ff — nothing else (RFC 1961 §3.8)
    wire: bytes(0x01, 0xff),
    message: { type: 'abort' },
  },
  ...gssapiFrameFixtures.map((f) => ({
    name: `library token: ${f.name}`,
    wire: f.wire,
    message: f.message,
  })),
];

function expectProtocolError(fn: () => unknown, code: ProtocolErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SocksProtocolError, `expected SocksProtocolError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

describe('RFC 1961 framing: constants', () => {
  it('names the wire values', () => {
    assert.equal(GSSAPI_VERSION, 0x01);
    assert.deepEqual(
      [
        GssapiMessageType.Context,
        GssapiMessageType.ProtectionLevel,
        GssapiMessageType.Encapsulated,
        GssapiMessageType.Abort,
      ],
      [0x01, 0x02, 0x03, 0xff],
    );
    assert.deepEqual(
      [
        ProtectionLevel.Clear,
        ProtectionLevel.Integrity,
        ProtectionLevel.Confidentiality,
        ProtectionLevel.SelectivePerMessage,
      ],
      [0x00, 0x01, 0x02, 0x03],
    );
    assert.equal(GSSAPI_HEADER_LENGTH, 4);
    assert.equal(MAX_GSSAPI_TOKEN_LENGTH, 65535);
    assert.deepEqual(GSSAPI_ABORT, bytes(0x01, 0xff));
    assert.equal(protectionLevelNames[ProtectionLevel.Clear], 'clear');
  });
});

describe('RFC 1961 framing: vectors', () => {
  for (const v of vectors) {
    it(`decodes: ${v.name}`, () => {
      const result = decodeGssapiMessage(v.wire);
      assert.notEqual(result, NEED_MORE);
      if (result === NEED_MORE) return;
      assert.equal(result.length, v.wire.length);
      assert.deepEqual(result.value, v.message);
    });

    it(`encodes: ${v.name}`, () => {
      assert.deepEqual(encodeGssapiMessage(v.message), v.wire);
    });

    it(`needs more on every proper prefix: ${v.name}`, () => {
      // Checking all 65539 prefixes of the largest vector is cheap: each is O(1).
      for (let n = 0; n < v.wire.length; n++) {
        assert.equal(decodeGssapiMessage(v.wire.subarray(0, n)), NEED_MORE, `prefix ${n}`);
      }
    });

    it(`leaves what follows alone: ${v.name}`, () => {
      // A pipelined SOCKS request (05 01 00 01 ...) right behind the message must not be eaten.
      const trailing = bytes(0x05, 0x01, 0x00, 0x01);
      const wire = Uint8Array.from([...v.wire, ...trailing]);
      const result = decodeGssapiMessage(wire);
      assert.notEqual(result, NEED_MORE);
      if (result === NEED_MORE) return;
      assert.equal(result.length, v.wire.length);
      assert.deepEqual(wire.subarray(result.length), trailing);
    });
  }

  it('returns the token as a view into the input (no copy)', () => {
    const wire = bytes(0x01, 0x03, 0x00, 0x02, 0xaa, 0xbb);
    const result = decodeGssapiMessage(wire);
    assert.ok(result !== NEED_MORE && result.value.type === 'encapsulated');
    assert.equal(result.value.token.buffer, wire.buffer);
    assert.equal(result.value.token.byteOffset, 4);
  });
});

describe('RFC 1961 framing: malformed input', () => {
  it('rejects a VER other than 01 from its first octet', () => {
    // VER=05: a SOCKS5 request where a GSS-API message was due.
    expectProtocolError(() => decodeGssapiMessage(bytes(0x05)), ProtocolErrorCode.BadVersion);
    expectProtocolError(
      () => decodeGssapiMessage(bytes(0x00, 0x01, 0x00, 0x00)),
      ProtocolErrorCode.BadVersion,
    );
  });

  it('rejects unknown message types as soon as MTYP arrives', () => {
    for (const mtyp of [0x00, 0x04, 0x7f, 0x80, 0xfe]) {
      expectProtocolError(
        () => decodeGssapiMessage(bytes(0x01, mtyp)),
        ProtocolErrorCode.BadMessage,
      );
    }
  });

  it('rejects an empty protection-level or encapsulated token', () => {
    // VER=01 | MTYP=02 | LEN=00 00 and VER=01 | MTYP=03 | LEN=00 00: no gss_wrap output is empty.
    expectProtocolError(
      () => decodeGssapiMessage(bytes(0x01, 0x02, 0x00, 0x00)),
      ProtocolErrorCode.BadMessage,
    );
    expectProtocolError(
      () => decodeGssapiMessage(bytes(0x01, 0x03, 0x00, 0x00)),
      ProtocolErrorCode.BadMessage,
    );
  });
});

describe('RFC 1961 framing: encoder limits', () => {
  const usage = (fn: () => unknown): void => {
    assert.throws(
      fn,
      (err: unknown) =>
        err instanceof SocksUsageError && err.code === UsageErrorCode.InvalidArgument,
    );
  };

  it('refuses a token longer than LEN can say', () => {
    usage(() => encodeGssapiMessage({ type: 'encapsulated', token: new Uint8Array(65536) }));
    usage(() => encodeGssapiMessage({ type: 'context', token: new Uint8Array(65536) }));
  });

  it('refuses an empty protection-level or encapsulated token but allows an empty context token', () => {
    usage(() => encodeGssapiMessage({ type: 'protection-level', token: bytes() }));
    usage(() => encodeGssapiMessage({ type: 'encapsulated', token: bytes() }));
    assert.deepEqual(
      encodeGssapiMessage({ type: 'context', token: bytes() }),
      bytes(0x01, 0x01, 0x00, 0x00),
    );
  });

  it('returns a fresh abort each time', () => {
    const a = encodeGssapiMessage({ type: 'abort' });
    a[1] = 0;
    assert.deepEqual(encodeGssapiMessage({ type: 'abort' }), bytes(0x01, 0xff));
  });
});

describe('RFC 1961 protection level octet', () => {
  it('encodes and decodes the four levels', () => {
    for (const [octet, level] of [
      [0x00, ProtectionLevel.Clear],
      [0x01, ProtectionLevel.Integrity],
      [0x02, ProtectionLevel.Confidentiality],
      [0x03, ProtectionLevel.SelectivePerMessage],
    ] as const) {
      assert.deepEqual(encodeProtectionLevel(level), bytes(octet));
      assert.equal(decodeProtectionLevel(bytes(octet)), level);
    }
  });

  it('rejects other octets and other lengths', () => {
    expectProtocolError(() => decodeProtectionLevel(bytes(0x04)), ProtocolErrorCode.BadMessage);
    expectProtocolError(() => decodeProtectionLevel(bytes(0xff)), ProtocolErrorCode.BadMessage);
    expectProtocolError(() => decodeProtectionLevel(bytes()), ProtocolErrorCode.BadMessage);
    expectProtocolError(
      () => decodeProtectionLevel(bytes(0x01, 0x00)),
      ProtocolErrorCode.BadMessage,
    );
    assert.throws(() => encodeProtectionLevel(7 as ProtectionLevel), SocksUsageError);
  });
});

/** Decodes a stream delivered in the given chunks, the way an adapter would. */
function decodeStream(chunks: readonly Uint8Array[]): GssapiMessage[] {
  const out: GssapiMessage[] = [];
  let buffer = new Uint8Array(0);
  for (const chunk of chunks) {
    buffer = Uint8Array.from([...buffer, ...chunk]);
    for (;;) {
      const result = decodeGssapiMessage(buffer);
      if (result === NEED_MORE) break;
      out.push(result.value);
      buffer = buffer.subarray(result.length);
    }
  }
  assert.equal(buffer.length, 0, 'bytes left over');
  return out;
}

describe('RFC 1961 framing: split at every byte', () => {
  // A whole exchange: client token, server token, empty ready token, wrapped levels, data, abort.
  const exchange = vectors.filter((v) => v.wire.length < 1000);
  const stream = Uint8Array.from(exchange.flatMap((v) => [...v.wire]));
  const expected = exchange.map((v) => v.message);

  it('decodes the same messages wherever the stream is cut in two', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      assert.deepEqual(
        decodeStream([stream.subarray(0, cut), stream.subarray(cut)]),
        expected,
        `cut ${cut}`,
      );
    }
  });

  it('decodes the same messages one byte at a time', () => {
    const single = Array.from(stream, (b) => bytes(b));
    assert.deepEqual(decodeStream(single), expected);
  });
});

const arbitraryMessage: fc.Arbitrary<GssapiMessage> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((token): GssapiMessage => ({ type: 'context', token })),
  fc
    .uint8Array({ minLength: 1, maxLength: 300 })
    .map((token): GssapiMessage => ({ type: 'protection-level', token })),
  fc
    .uint8Array({ minLength: 1, maxLength: 300 })
    .map((token): GssapiMessage => ({ type: 'encapsulated', token })),
  fc.constant<GssapiMessage>({ type: 'abort' }),
);

describe('RFC 1961 framing: properties', () => {
  it('decode(encode(m)) is m, using every octet', () => {
    fc.assert(
      fc.property(arbitraryMessage, (m) => {
        const wire = encodeGssapiMessage(m);
        const result = decodeGssapiMessage(wire);
        assert.ok(result !== NEED_MORE);
        assert.equal(result.length, wire.length);
        assert.deepEqual(result.value, m);
      }),
    );
  });

  it('arbitrary chunking of a message sequence decodes to the same sequence', () => {
    fc.assert(
      fc.property(
        fc.array(arbitraryMessage, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (messages, cuts) => {
          const stream = Uint8Array.from(messages.flatMap((m) => [...encodeGssapiMessage(m)]));
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort(
            (a, b) => a - b,
          );
          const chunks: Uint8Array[] = [];
          let from = 0;
          for (const p of points) {
            chunks.push(stream.subarray(from, p));
            from = p;
          }
          chunks.push(stream.subarray(from));
          assert.deepEqual(decodeStream(chunks), messages);
        },
      ),
    );
  });

  it('garbage never throws anything but a SocksProtocolError, and never over-reads', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (garbage) => {
        try {
          const result = decodeGssapiMessage(garbage);
          if (result !== NEED_MORE) assert.ok(result.length <= garbage.length);
        } catch (err) {
          assert.ok(err instanceof SocksProtocolError, String(err));
        }
      }),
    );
  });

  it('garbage after a valid header: NEED_MORE exactly until 4 + LEN octets are there', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0x01, 0x02, 0x03),
        fc.integer({ min: 1, max: 0xffff }),
        fc.integer({ min: 0, max: 0x1_0003 + 16 }),
        (mtyp, len, have) => {
          const wire = new Uint8Array(Math.min(have, GSSAPI_HEADER_LENGTH + len + 16));
          wire.set([0x01, mtyp, len >> 8, len & 0xff].slice(0, wire.length));
          const result = decodeGssapiMessage(wire);
          // Bounded buffering: a decoder never wants more than 4 + 65535 octets.
          if (wire.length < GSSAPI_HEADER_LENGTH + len) assert.equal(result, NEED_MORE);
          else assert.ok(result !== NEED_MORE && result.length === GSSAPI_HEADER_LENGTH + len);
        },
      ),
    );
  });
});
