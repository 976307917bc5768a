import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressKindOf,
  decodeAddress,
  encodeAddress,
  formatIPv6,
  parseHostPort,
  parseIPv4,
  parseIPv6,
  socksAddress,
  formatHostPort,
} from '../../src/protocol/address.js';
import { checkError, hex } from '../helpers/vectors.js';

describe('IPv4 text', () => {
  it('accepts only strict dotted quads', () => {
    assert.deepEqual(parseIPv4('192.168.0.1'), Uint8Array.of(192, 168, 0, 1));
    assert.deepEqual(parseIPv4('0.0.0.0'), Uint8Array.of(0, 0, 0, 0));
    for (const odd of [
      '127.1',
      '0x7f.0.0.1',
      '017.0.0.1',
      '256.0.0.1',
      '1.2.3.4.',
      '1.2.3',
      '',
      '2130706433',
      '1.2.3.-4',
      ' 1.2.3.4',
    ]) {
      assert.equal(parseIPv4(odd), undefined, odd);
    }
  });
});

describe('IPv6 text (RFC 4291 parse, RFC 5952 format)', () => {
  const canon: [string, string][] = [
    ['::1', '::1'],
    ['::', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['2001:DB8:0:0:8:800:200C:417A', '2001:db8::8:800:200c:417a'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs (RFC 5952 §4.2.3)
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed (§4.2.2)
    ['fe80::', 'fe80::'],
    ['::ffff:127.0.0.1', '::ffff:127.0.0.1'],
    ['::ffff:7f00:1', '::ffff:127.0.0.1'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
  ];
  for (const [input, out] of canon) {
    it(`${input} → ${out}`, () => {
      const bytes = parseIPv6(input);
      assert.ok(bytes, input);
      assert.equal(formatIPv6(bytes), out);
    });
  }
  it('rejects malformed addresses', () => {
    for (const bad of [
      ':',
      ':::',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      '12345::',
      'g::1',
      '1:2:3:4:5:6:7',
      '::1%lo',
      '[::1]',
      '::256.0.0.1',
    ]) {
      assert.equal(parseIPv6(bad), undefined, bad);
    }
  });
});

describe('address kinds and host:port', () => {
  it('classifies', () => {
    assert.equal(addressKindOf('10.1.2.3'), 'ipv4');
    assert.equal(addressKindOf('::1'), 'ipv6');
    assert.equal(addressKindOf('localhost'), 'domain');
    assert.equal(addressKindOf('127.1'), 'domain'); // odd spellings are names here; rules normalise them
  });
  it('socksAddress strips brackets and normalises IPv6', () => {
    assert.deepEqual(socksAddress('[0::1]', 80), { type: 'ipv6', host: '::1', port: 80 });
  });
  it('parses host:port and [v6]:port', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:1080'), { host: '127.0.0.1', port: 1080 });
    assert.deepEqual(parseHostPort('[::1]:1080'), { host: '::1', port: 1080 });
    assert.deepEqual(parseHostPort('localhost:0'), { host: 'localhost', port: 0 });
    for (const bad of [
      '::1:1080',
      '[::1]',
      '[::1]1080',
      'host',
      'host:',
      ':80',
      'host:65536',
      'host:-1',
      '[nope]:80',
    ]) {
      assert.throws(() => parseHostPort(bad), { code: 'ERR_SOCKS_INVALID_ARGUMENT' }, bad);
    }
  });
  it('formats host:port', () => {
    assert.equal(formatHostPort('::1', 80), '[::1]:80');
    assert.equal(formatHostPort('a.b', 80), 'a.b:80');
  });
});

describe('address codec (RFC 1928 §5)', () => {
  it('decodes at an offset', () => {
    // two junk octets, then ATYP=IPv4 1.2.3.4 port 258
    const r = decodeAddress(hex('aa bb 01 01020304 0102'), 2);
    assert.deepEqual(r, { value: { type: 'ipv4', host: '1.2.3.4', port: 258 }, length: 7 });
  });
  it('encodes a domain with its length octet', () => {
    assert.deepEqual(
      encodeAddress({ type: 'domain', host: 'ab', port: 1 }),
      hex('03 02 6162 0001'),
    );
  });
  it('refuses to encode what the wire cannot carry', () => {
    assert.throws(() => encodeAddress({ type: 'domain', host: '', port: 1 }), {
      code: 'ERR_SOCKS_INVALID_ARGUMENT',
    });
    assert.throws(() => encodeAddress({ type: 'domain', host: 'a'.repeat(256), port: 1 }), {
      code: 'ERR_SOCKS_INVALID_ARGUMENT',
    });
    assert.throws(() => encodeAddress({ type: 'ipv4', host: '1.2.3.4', port: 65536 }), {
      code: 'ERR_SOCKS_INVALID_ARGUMENT',
    });
    assert.throws(() => encodeAddress({ type: 'ipv4', host: '::1', port: 1 }), {
      code: 'ERR_SOCKS_INVALID_ARGUMENT',
    });
  });
  it('rejects unknown ATYP', () => {
    checkError(() => decodeAddress(hex('00'), 0), 'ERR_SOCKS_UNSUPPORTED_ADDRESS_TYPE', 0x08);
  });
});
