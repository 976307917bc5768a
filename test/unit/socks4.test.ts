// SOCKS4/4a codec: hand-written vectors (never produced by our encoder), decode / encode / mirror /
// split-at-every-byte, error vectors, and fast-check properties over garbage and chunking.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeSocks4Reply,
  decodeSocks4Request,
  describeSocks4Reply,
  encodeSocks4Reply,
  encodeSocks4Request,
  MAX_SOCKS4_REQUEST_LENGTH,
  Socks4Command,
  Socks4Reply,
} from '../../src/protocol/socks4.js';
import { NEED_MORE, type DecodeResult } from '../../src/protocol/decode.js';
import { SocksProtocolError, SocksUsageError } from '../../src/errors.js';

const bytes = (...parts: (number | string)[]): Uint8Array =>
  Uint8Array.from(
    parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : [p])),
  );

// prettier-ignore
const connectV4 = bytes(
  0x04,             // VN: SOCKS4
  0x01,             // CD: CONNECT
  0x00, 0x50,       // DSTPORT: 80
  0xc0, 0x00, 0x02, 0x0a, // DSTIP: 192.0.2.10
  'fred',           // USERID
  0x00,             // NULL
);

// prettier-ignore
const bindV4EmptyUser = bytes(
  0x04,             // VN
  0x02,             // CD: BIND
  0x1f, 0x90,       // DSTPORT: 8080
  0x7f, 0x00, 0x00, 0x01, // DSTIP: 127.0.0.1
  0x00,             // USERID empty, NULL
);

// prettier-ignore
const connect4a = bytes(
  0x04,             // VN
  0x01,             // CD: CONNECT
  0x01, 0xbb,       // DSTPORT: 443
  0x00, 0x00, 0x00, 0x01, // DSTIP: 0.0.0.1 — "a domain name follows" (SOCKS4a)
  'bob',            // USERID
  0x00,             // NULL
  'example.com',    // domain name
  0x00,             // NULL
);

// prettier-ignore
const connect4aOtherMarker = bytes(
  0x04, 0x01,       // VN, CD: CONNECT
  0x00, 0x16,       // DSTPORT: 22
  0x00, 0x00, 0x00, 0xff, // DSTIP: 0.0.0.255 — any x ≠ 0 marks SOCKS4a
  0x00,             // USERID empty
  'h', 0x00,        // domain "h", NULL
);

// prettier-ignore
const grantedReply = bytes(
  0x00,             // VN: 0 (reply version)
  0x5a,             // CD: 90 granted
  0x04, 0xd2,       // DSTPORT: 1234
  0x0a, 0x00, 0x00, 0x07, // DSTIP: 10.0.0.7
);

// prettier-ignore
const rejectedReply = bytes(
  0x00,             // VN
  0x5b,             // CD: 91 rejected or failed
  0x00, 0x00,       // DSTPORT (ignored)
  0x00, 0x00, 0x00, 0x00, // DSTIP (ignored)
);

const requestVectors = [
  {
    name: 'SOCKS4 CONNECT with a user-id',
    wire: connectV4,
    value: {
      command: Socks4Command.Connect,
      destination: { type: 'ipv4', host: '192.0.2.10', port: 80 },
      userId: 'fred',
    },
  },
  {
    name: 'SOCKS4 BIND with an empty user-id',
    wire: bindV4EmptyUser,
    value: {
      command: Socks4Command.Bind,
      destination: { type: 'ipv4', host: '127.0.0.1', port: 8080 },
      userId: '',
    },
  },
  {
    name: 'SOCKS4a CONNECT to a domain',
    wire: connect4a,
    value: {
      command: Socks4Command.Connect,
      destination: { type: 'domain', host: 'example.com', port: 443 },
      userId: 'bob',
    },
  },
] as const;

function decoded<T>(r: DecodeResult<T>): { value: T; length: number } {
  assert.notEqual(r, NEED_MORE);
  return r as { value: T; length: number };
}

describe('SOCKS4 request', () => {
  for (const v of requestVectors) {
    it(`decodes: ${v.name}`, () => {
      const r = decoded(decodeSocks4Request(v.wire));
      assert.deepEqual(r.value, v.value);
      assert.equal(r.length, v.wire.length);
    });
    it(`encodes: ${v.name}`, () => {
      assert.deepEqual(encodeSocks4Request(v.value), v.wire);
    });
    it(`mirrors: ${v.name}`, () => {
      assert.deepEqual(decoded(decodeSocks4Request(encodeSocks4Request(v.value))).value, v.value);
    });
    it(`needs more at every split: ${v.name}`, () => {
      for (let i = 0; i < v.wire.length; i++) {
        assert.equal(decodeSocks4Request(v.wire.subarray(0, i)), NEED_MORE, `prefix ${i}`);
      }
    });
    it(`leaves trailing bytes: ${v.name}`, () => {
      const wire = new Uint8Array([...v.wire, 0xde, 0xad]);
      assert.equal(decoded(decodeSocks4Request(wire)).length, v.wire.length);
    });
  }

  it('treats any 0.0.0.x with x ≠ 0 as SOCKS4a', () => {
    assert.deepEqual(decoded(decodeSocks4Request(connect4aOtherMarker)).value.destination, {
      type: 'domain',
      host: 'h',
      port: 22,
    });
  });

  it('treats 0.0.0.0 as a plain SOCKS4 address, not SOCKS4a', () => {
    const wire = bytes(0x04, 0x01, 0x00, 0x50, 0, 0, 0, 0, 0x00);
    assert.deepEqual(decoded(decodeSocks4Request(wire)).value.destination, {
      type: 'ipv4',
      host: '0.0.0.0',
      port: 80,
    });
  });

  const errors: [string, Uint8Array, string][] = [
    ['VN 05', bytes(0x05), 'ERR_SOCKS_BAD_VERSION'],
    ['VN 00', bytes(0x00, 0x01), 'ERR_SOCKS_BAD_VERSION'],
    ['CD 03 (no UDP in SOCKS4)', bytes(0x04, 0x03), 'ERR_SOCKS_UNSUPPORTED_COMMAND'],
    ['CD 00', bytes(0x04, 0x00, 0x00), 'ERR_SOCKS_UNSUPPORTED_COMMAND'],
    [
      'a 256-octet user-id with no NULL',
      bytes(0x04, 0x01, 0x00, 0x50, 1, 2, 3, 4, ...new Array<number>(256).fill(0x61)),
      'ERR_SOCKS_MESSAGE_TOO_LARGE',
    ],
    [
      'a 256-octet SOCKS4a domain with no NULL',
      bytes(0x04, 0x01, 0x00, 0x50, 0, 0, 0, 1, 0x00, ...new Array<number>(256).fill(0x61)),
      'ERR_SOCKS_MESSAGE_TOO_LARGE',
    ],
    [
      'an empty SOCKS4a domain',
      bytes(0x04, 0x01, 0x00, 0x50, 0, 0, 0, 1, 0x00, 0x00),
      'ERR_SOCKS_BAD_ADDRESS',
    ],
  ];
  for (const [name, wire, code] of errors) {
    it(`rejects ${name} with ${code}`, () => {
      assert.throws(
        () => decodeSocks4Request(wire),
        (e: unknown) => e instanceof SocksProtocolError && e.code === code,
      );
    });
  }

  it('accepts fields of exactly 255 octets', () => {
    const user = 'u'.repeat(255);
    const host = 'd'.repeat(255);
    const wire = bytes(0x04, 0x01, 0x00, 0x50, 0, 0, 0, 9, user, 0, host, 0);
    assert.equal(wire.length, MAX_SOCKS4_REQUEST_LENGTH);
    const r = decoded(decodeSocks4Request(wire));
    assert.equal(r.value.userId, user);
    assert.equal(r.value.destination.host, host);
    assert.deepEqual(
      encodeSocks4Request({ ...r.value, destination: { ...r.value.destination } }),
      bytes(0x04, 0x01, 0x00, 0x50, 0, 0, 0, 1, user, 0, host, 0),
    );
  });

  it('refuses to encode what SOCKS4 cannot carry', () => {
    const bad = [
      { command: Socks4Command.Connect, destination: { type: 'ipv6', host: '::1', port: 1 } },
      { command: Socks4Command.Connect, destination: { type: 'ipv4', host: 'x', port: 1 } },
      { command: Socks4Command.Connect, destination: { type: 'domain', host: '', port: 1 } },
      { command: Socks4Command.Connect, destination: { type: 'domain', host: 'a\0b', port: 1 } },
      { command: Socks4Command.Connect, destination: { type: 'ipv4', host: '1.2.3.4', port: 1e5 } },
      {
        command: Socks4Command.Connect,
        destination: { type: 'ipv4', host: '1.2.3.4', port: 1 },
        userId: 'x'.repeat(256),
      },
      {
        command: Socks4Command.Connect,
        destination: { type: 'ipv4', host: '1.2.3.4', port: 1 },
        userId: 'a\0',
      },
    ] as const;
    for (const request of bad) {
      assert.throws(() => encodeSocks4Request(request), SocksUsageError, JSON.stringify(request));
    }
  });
});

describe('SOCKS4 reply', () => {
  const vectors = [
    {
      name: 'granted',
      wire: grantedReply,
      value: { code: Socks4Reply.Granted, bound: { type: 'ipv4', host: '10.0.0.7', port: 1234 } },
    },
    {
      name: 'rejected',
      wire: rejectedReply,
      value: { code: Socks4Reply.Rejected, bound: { type: 'ipv4', host: '0.0.0.0', port: 0 } },
    },
  ] as const;
  for (const v of vectors) {
    it(`decodes, encodes, mirrors and splits: ${v.name}`, () => {
      const r = decoded(decodeSocks4Reply(v.wire));
      assert.deepEqual(r.value, v.value);
      assert.equal(r.length, 8);
      assert.deepEqual(encodeSocks4Reply(v.value), v.wire);
      for (let i = 0; i < v.wire.length; i++) {
        assert.equal(decodeSocks4Reply(v.wire.subarray(0, i)), NEED_MORE);
      }
    });
  }

  it('defaults the address of a reply to 0.0.0.0:0', () => {
    assert.deepEqual(encodeSocks4Reply({ code: Socks4Reply.Rejected }), rejectedReply);
  });

  it('rejects a reply whose VN is not 0 (e.g. a SOCKS5 reply)', () => {
    assert.throws(
      () => decodeSocks4Reply(bytes(0x05, 0x00)),
      (e: unknown) => e instanceof SocksProtocolError && e.code === 'ERR_SOCKS_BAD_VERSION',
    );
  });

  it('refuses to encode an IPv6 bound address', () => {
    assert.throws(
      () => encodeSocks4Reply({ code: 0x5a, bound: { type: 'ipv6', host: '::1', port: 1 } }),
      SocksUsageError,
    );
  });

  it('describes every code', () => {
    assert.equal(describeSocks4Reply(0x5a), 'request granted');
    assert.equal(describeSocks4Reply(0x5b), 'request rejected or failed');
    assert.match(describeSocks4Reply(0x5c), /identd/);
    assert.match(describeSocks4Reply(0x5d), /identd/);
    assert.equal(describeSocks4Reply(0x01), 'unassigned SOCKS4 reply 0x01');
  });
});

describe('SOCKS4 properties', () => {
  const onlyOurErrors = (f: () => unknown): void => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof SocksProtocolError)) throw e;
    }
  };

  it('garbage never throws anything but a protocol error, and never consumes past the input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (garbage) => {
        onlyOurErrors(() => {
          const r = decodeSocks4Request(garbage);
          if (r !== NEED_MORE) assert.ok(r.length <= garbage.length);
        });
        onlyOurErrors(() => decodeSocks4Reply(garbage));
      }),
    );
  });

  it('never asks for more than MAX_SOCKS4_REQUEST_LENGTH octets', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({
          minLength: MAX_SOCKS4_REQUEST_LENGTH,
          maxLength: MAX_SOCKS4_REQUEST_LENGTH + 20,
        }),
        (tail) => {
          const wire = new Uint8Array(tail);
          wire[0] = 0x04;
          wire[1] = 0x01;
          onlyOurErrors(() => {
            assert.notEqual(decodeSocks4Request(wire), NEED_MORE);
          });
        },
      ),
    );
  });

  it('round-trips any request, at any split', () => {
    const field = fc.stringMatching(/^[a-z0-9.-]{1,40}$/);
    const request = fc
      .record({
        command: fc.constantFrom(Socks4Command.Connect, Socks4Command.Bind),
        destination: fc.oneof(
          fc.record({
            type: fc.constant('ipv4' as const),
            host: fc.ipV4().filter((h) => !h.startsWith('0.0.0.') || h === '0.0.0.0'),
            port: fc.integer({ min: 0, max: 0xffff }),
          }),
          fc.record({
            type: fc.constant('domain' as const),
            host: field,
            port: fc.integer({ min: 0, max: 0xffff }),
          }),
        ),
        userId: fc.oneof(fc.constant(''), field),
      })
      .map((r) => structuredClone(r)); // fast-check records have a null prototype
    fc.assert(
      fc.property(request, fc.nat(), (value, cut) => {
        const wire = encodeSocks4Request(value);
        const at = cut % wire.length;
        assert.equal(decodeSocks4Request(wire.subarray(0, at)), NEED_MORE);
        const r = decoded(decodeSocks4Request(wire));
        assert.deepEqual(r.value, value);
        assert.equal(r.length, wire.length);
      }),
    );
  });
});
