import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeGreeting,
  encodeGreeting,
  decodeMethodSelection,
  encodeMethodSelection,
  decodeRequest,
  encodeRequest,
  decodeReply,
  encodeReply,
  type Request,
  type ReplyMessage,
} from '../../src/protocol/socks5.js';
import { NEED_MORE } from '../../src/protocol/decode.js';
import { checkError, checkVector, hex } from '../helpers/vectors.js';

describe('SOCKS5 greeting (RFC 1928 §3)', () => {
  it('decodes and encodes a hand-written greeting', () => {
    checkVector(
      hex(
        `05    | VER 5
           03    | NMETHODS 3
           00 02 80 | no-auth, username/password, a private method`.replace(/\|[^\n]*/g, ''),
      ),
      { methods: [0x00, 0x02, 0x80] },
      decodeGreeting,
      encodeGreeting,
    );
  });
  it('takes all 255 methods', () => {
    const bytes = new Uint8Array(257);
    bytes[0] = 0x05;
    bytes[1] = 0xff;
    for (let i = 0; i < 255; i++) bytes[2 + i] = i;
    checkVector(
      bytes,
      { methods: Array.from({ length: 255 }, (_, i) => i) },
      decodeGreeting,
      encodeGreeting,
    );
  });
  it('rejects a wrong version at the first byte', () => {
    checkError(() => decodeGreeting(hex('04')), 'ERR_SOCKS_BAD_VERSION');
    checkError(() => decodeGreeting(hex('47 45 54')), 'ERR_SOCKS_BAD_VERSION');
  });
  it('rejects zero methods', () => {
    checkError(() => decodeGreeting(hex('05 00')), 'ERR_SOCKS_NO_METHODS');
  });
  it('refuses to encode 0 or 256 methods', () => {
    assert.throws(() => encodeGreeting({ methods: [] }), { code: 'ERR_SOCKS_INVALID_ARGUMENT' });
    assert.throws(() => encodeGreeting({ methods: new Array<number>(256).fill(0) }), {
      code: 'ERR_SOCKS_INVALID_ARGUMENT',
    });
  });
});

describe('SOCKS5 method selection (RFC 1928 §3)', () => {
  it('decodes 05 02 (username/password) and 05 FF (no acceptable)', () => {
    checkVector(hex('05 02'), { method: 0x02 }, decodeMethodSelection, encodeMethodSelection);
    checkVector(hex('05 ff'), { method: 0xff }, decodeMethodSelection, encodeMethodSelection);
  });
  it('rejects a wrong version', () => {
    checkError(() => decodeMethodSelection(hex('01 00')), 'ERR_SOCKS_BAD_VERSION');
  });
});

describe('SOCKS5 request (RFC 1928 §4)', () => {
  const cases: [string, string, Request][] = [
    [
      'CONNECT 127.0.0.1:80',
      // VER CMD RSV ATYP | 127.0.0.1 | port 80
      '05 01 00 01 | 7f 00 00 01 | 00 50',
      { command: 0x01, destination: { type: 'ipv4', host: '127.0.0.1', port: 80 } },
    ],
    [
      'BIND [::1]:8080',
      // VER CMD=BIND RSV ATYP=IPv6 | ::1 | port 8080
      '05 02 00 04 | 00000000000000000000000000000001 | 1f 90',
      { command: 0x02, destination: { type: 'ipv6', host: '::1', port: 8080 } },
    ],
    [
      'UDP ASSOCIATE example.com:443',
      // VER CMD=UDP RSV ATYP=domain | len 11 | "example.com" | port 443
      '05 03 00 03 | 0b | 6578616d706c652e636f6d | 01 bb',
      { command: 0x03, destination: { type: 'domain', host: 'example.com', port: 443 } },
    ],
    [
      'CONNECT 2001:db8::1 (RFC 5952 form)',
      '05 01 00 04 | 20010db8000000000000000000000001 | ff ff',
      { command: 0x01, destination: { type: 'ipv6', host: '2001:db8::1', port: 65535 } },
    ],
    [
      'CONNECT to the all-zero UDP placeholder 0.0.0.0:0',
      '05 03 00 01 | 00 00 00 00 | 00 00',
      { command: 0x03, destination: { type: 'ipv4', host: '0.0.0.0', port: 0 } },
    ],
  ];
  for (const [name, bytes, value] of cases) {
    it(name, () => {
      checkVector(hex(bytes), value, decodeRequest, encodeRequest);
    });
  }
  it('a 255-octet domain', () => {
    const name = 'a'.repeat(255);
    const bytes = hex(`05 01 00 03 ff ${Buffer.from(name).toString('hex')} 00 16`);
    checkVector(
      bytes,
      { command: 0x01, destination: { type: 'domain', host: name, port: 22 } },
      decodeRequest,
      encodeRequest,
    );
  });
  it('unknown CMD → 07, as soon as the octet arrives', () => {
    checkError(() => decodeRequest(hex('05 04')), 'ERR_SOCKS_UNSUPPORTED_COMMAND', 0x07);
    checkError(
      () => decodeRequest(hex('05 00 00 01 7f 00 00 01 00 50')),
      'ERR_SOCKS_UNSUPPORTED_COMMAND',
      0x07,
    );
  });
  it('unknown ATYP → 08', () => {
    checkError(() => decodeRequest(hex('05 01 00 02')), 'ERR_SOCKS_UNSUPPORTED_ADDRESS_TYPE', 0x08);
    checkError(
      () => decodeRequest(hex('05 01 00 05 7f 00 00 01 00 50')),
      'ERR_SOCKS_UNSUPPORTED_ADDRESS_TYPE',
      0x08,
    );
  });
  it('zero-length domain → 01', () => {
    checkError(() => decodeRequest(hex('05 01 00 03 00 00 50')), 'ERR_SOCKS_BAD_ADDRESS', 0x01);
  });
  it('domain containing NUL → 01', () => {
    checkError(
      () => decodeRequest(hex('05 01 00 03 03 61 00 62 00 50')),
      'ERR_SOCKS_BAD_ADDRESS',
      0x01,
    );
  });
  it('wrong VER → error with reply 01', () => {
    checkError(() => decodeRequest(hex('04 01 00 01')), 'ERR_SOCKS_BAD_VERSION', 0x01);
  });
  it('RSV is not checked (Postel: reserved)', () => {
    const r = decodeRequest(hex('05 01 ff 01 7f 00 00 01 00 50'));
    assert.notEqual(r, NEED_MORE);
  });
});

describe('SOCKS5 reply (RFC 1928 §6)', () => {
  const cases: [string, string, ReplyMessage][] = [
    [
      'succeeded, bound 10.0.0.2:40000',
      // VER REP=00 RSV ATYP=IPv4 | 10.0.0.2 | 40000
      '05 00 00 01 | 0a 00 00 02 | 9c 40',
      { reply: 0x00, bound: { type: 'ipv4', host: '10.0.0.2', port: 40000 } },
    ],
    [
      'connection refused, full length with the zero address',
      '05 05 00 01 | 00 00 00 00 | 00 00',
      { reply: 0x05, bound: { type: 'ipv4', host: '0.0.0.0', port: 0 } },
    ],
    [
      'succeeded, bound [fe80::1:2]:1',
      '05 00 00 04 | fe800000000000000000000000010002 | 00 01',
      { reply: 0x00, bound: { type: 'ipv6', host: 'fe80::1:2', port: 1 } },
    ],
    [
      'an unassigned REP is still a reply',
      '05 2a 00 03 | 04 | 68 6f 73 74 | 00 07',
      { reply: 0x2a, bound: { type: 'domain', host: 'host', port: 7 } },
    ],
  ];
  for (const [name, bytes, value] of cases) {
    it(name, () => {
      checkVector(hex(bytes), value, decodeReply, encodeReply);
    });
  }
  it('rejects a wrong version and an unknown ATYP', () => {
    checkError(() => decodeReply(hex('00 5a')), 'ERR_SOCKS_BAD_VERSION');
    checkError(() => decodeReply(hex('05 00 00 09')), 'ERR_SOCKS_UNSUPPORTED_ADDRESS_TYPE');
  });
});
