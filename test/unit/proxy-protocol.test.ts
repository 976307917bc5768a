import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeProxyHeader,
  startsWithProxyHeader,
  type ProxyHeader,
} from '../../src/protocol/proxy-protocol.js';
import { NEED_MORE } from '../../src/protocol/decode.js';
import { checkError, checkVector, hex } from '../helpers/vectors.js';

const ascii = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));
const SIG = '0d0a0d0a000d0a515549540a';

describe('PROXY protocol v1', () => {
  it('TCP4', () => {
    checkVector<ProxyHeader>(
      ascii('PROXY TCP4 192.0.2.10 198.51.100.1 56324 1080\r\n'),
      {
        version: 1,
        command: 'proxy',
        source: { address: '192.0.2.10', port: 56324 },
        destination: { address: '198.51.100.1', port: 1080 },
      },
      decodeProxyHeader,
    );
  });
  it('TCP6, normalised', () => {
    checkVector<ProxyHeader>(
      ascii('PROXY TCP6 2001:DB8::0:1 ::1 65535 0\r\n'),
      {
        version: 1,
        command: 'proxy',
        source: { address: '2001:db8::1', port: 65535 },
        destination: { address: '::1', port: 0 },
      },
      decodeProxyHeader,
    );
  });
  it('UNKNOWN, with or without addresses', () => {
    const unknown = {
      version: 1,
      command: 'proxy',
      source: undefined,
      destination: undefined,
    } as const;
    checkVector<ProxyHeader>(ascii('PROXY UNKNOWN\r\n'), unknown, decodeProxyHeader);
    checkVector<ProxyHeader>(ascii('PROXY UNKNOWN ffff:: 1:: 1 2\r\n'), unknown, decodeProxyHeader);
  });
  it('malformed lines', () => {
    for (const bad of [
      'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n',
      'PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n',
      'PROXY TCP4 ::1 ::1 1 2\r\n',
      'PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n',
      'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n',
      'GET / HTTP/1.1\r\n',
    ]) {
      checkError(() => decodeProxyHeader(ascii(bad)), 'ERR_SOCKS_BAD_MESSAGE');
    }
  });
  it('a line with no CRLF within 107 octets', () => {
    assert.equal(decodeProxyHeader(ascii(`PROXY TCP4 ${'1'.repeat(90)}`)), NEED_MORE);
    checkError(
      () => decodeProxyHeader(ascii(`PROXY TCP4 ${'1'.repeat(100)}`)),
      'ERR_SOCKS_BAD_MESSAGE',
    );
  });
});

describe('PROXY protocol v2', () => {
  it('PROXY over TCP/IPv4', () => {
    // signature | 21 = v2 PROXY | 11 = INET STREAM | len 12 | 192.0.2.10 | 198.51.100.1 | 56324 | 1080
    checkVector<ProxyHeader>(
      hex(`${SIG} 21 11 000c c000020a c6336401 dc04 0438`),
      {
        version: 2,
        command: 'proxy',
        source: { address: '192.0.2.10', port: 56324 },
        destination: { address: '198.51.100.1', port: 1080 },
      },
      decodeProxyHeader,
    );
  });
  it('PROXY over TCP/IPv6 with a TLV after the addresses', () => {
    // len 36 + TLV (type 04 NOOP, length 0002, 2 octets) = 41
    checkVector<ProxyHeader>(
      hex(
        `${SIG} 21 21 0029 20010db8000000000000000000000001 00000000000000000000000000000001 0050 01bb 04 0002 abcd`,
      ),
      {
        version: 2,
        command: 'proxy',
        source: { address: '2001:db8::1', port: 80 },
        destination: { address: '::1', port: 443 },
      },
      decodeProxyHeader,
    );
  });
  it('LOCAL (health check) and UNSPEC keep the socket addresses', () => {
    checkVector<ProxyHeader>(
      hex(`${SIG} 20 00 0000`),
      { version: 2, command: 'local', source: undefined, destination: undefined },
      decodeProxyHeader,
    );
    checkVector<ProxyHeader>(
      hex(`${SIG} 21 12 000c c000020a c6336401 dc04 0438`),
      { version: 2, command: 'proxy', source: undefined, destination: undefined },
      decodeProxyHeader,
    );
  });
  it('malformed headers', () => {
    checkError(() => decodeProxyHeader(hex(`${SIG} 11 11 000c`)), 'ERR_SOCKS_BAD_MESSAGE'); // version 1 in a v2 header
    checkError(() => decodeProxyHeader(hex(`${SIG} 22 11 000c`)), 'ERR_SOCKS_BAD_MESSAGE'); // command 2
    checkError(() => decodeProxyHeader(hex(`${SIG} 21 11 0004 00000000`)), 'ERR_SOCKS_BAD_MESSAGE'); // INET, 4 octets
    checkError(() => decodeProxyHeader(hex(`${SIG} 21 11 ffff`)), 'ERR_SOCKS_BAD_MESSAGE'); // over ferry's bound
  });
});

describe('detecting a header', () => {
  it('by prefix', () => {
    assert.equal(startsWithProxyHeader(ascii('PRO')), NEED_MORE);
    assert.equal(startsWithProxyHeader(ascii('PROXY ')), true);
    assert.equal(startsWithProxyHeader(ascii('PROPFIND / HTTP/1.1')), false);
    assert.equal(startsWithProxyHeader(hex('05 01 00')), false);
    assert.equal(startsWithProxyHeader(hex('0d0a0d0a00')), NEED_MORE);
    assert.equal(startsWithProxyHeader(hex(SIG)), true);
  });
});
