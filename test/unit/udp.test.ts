import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeUdpDatagram, encodeUdpDatagram, udpHeaderLength } from '../../src/protocol/udp.js';
import { checkError, hex } from '../helpers/vectors.js';

describe('UDP request header (RFC 1928 §7)', () => {
  it('decodes a standalone IPv4 datagram', () => {
    // RSV=0000 | FRAG=00 | ATYP=01 | 127.0.0.1 | port 53 | DATA "hi"
    const bytes = hex('0000 | 00 | 01 | 7f000001 | 0035 | 6869');
    const d = decodeUdpDatagram(bytes);
    assert.equal(d.frag, 0);
    assert.deepEqual(d.address, { type: 'ipv4', host: '127.0.0.1', port: 53 });
    assert.deepEqual(Buffer.from(d.data), Buffer.from('hi'));
    assert.deepEqual(encodeUdpDatagram({ address: d.address, data: Buffer.from('hi') }), bytes);
  });
  it('decodes a fragment with the end-of-sequence bit and a domain', () => {
    // RSV | FRAG=0x82 (position 2, last) | ATYP=03 | len 1 "x" | port 1 | no data
    const d = decodeUdpDatagram(hex('0000 82 03 01 78 0001'));
    assert.equal(d.frag, 0x82);
    assert.deepEqual(d.address, { type: 'domain', host: 'x', port: 1 });
    assert.equal(d.data.length, 0);
  });
  it('header lengths: 10 (IPv4), 22 (IPv6), 7 + name', () => {
    assert.equal(udpHeaderLength({ type: 'ipv4', host: '1.2.3.4', port: 1 }), 10);
    assert.equal(udpHeaderLength({ type: 'ipv6', host: '::1', port: 1 }), 22);
    assert.equal(udpHeaderLength({ type: 'domain', host: 'abc', port: 1 }), 10);
  });
  it('malformed datagrams are protocol errors', () => {
    checkError(() => decodeUdpDatagram(hex('0000 00')), 'ERR_SOCKS_BAD_MESSAGE');
    checkError(() => decodeUdpDatagram(hex('0001 00 01 7f000001 0035')), 'ERR_SOCKS_BAD_MESSAGE');
    checkError(() => decodeUdpDatagram(hex('0000 00 01 7f0000')), 'ERR_SOCKS_BAD_MESSAGE');
    checkError(
      () => decodeUdpDatagram(hex('0000 00 07 7f000001 0035')),
      'ERR_SOCKS_UNSUPPORTED_ADDRESS_TYPE',
    );
  });
});
