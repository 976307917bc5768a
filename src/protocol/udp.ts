/**
 * The UDP request header of RFC 1928 §7, which prefixes every datagram relayed for a
 * UDP ASSOCIATE, in both directions:
 *
 *   +----+------+------+----------+----------+----------+
 *   |RSV | FRAG | ATYP | DST.ADDR | DST.PORT |   DATA   |
 *   +----+------+------+----------+----------+----------+
 *   | 2  |  1   |  1   | Variable |    2     | Variable |
 *   +----+------+------+----------+----------+----------+
 *
 * From the client, DST is where DATA goes; toward the client, DST is who sent it. A datagram
 * arrives whole, so a truncated header is malformed (not "need more").
 */
import { decodeAddress, encodeAddress, type SocksAddress } from './address.js';
import { NEED_MORE } from './decode.js';
import {
  ProtocolErrorCode,
  SocksProtocolError,
  SocksUsageError,
  UsageErrorCode,
} from '../errors.js';

/** FRAG 00: a standalone datagram. */
export const FRAG_STANDALONE = 0x00;
/** The high bit of FRAG marks the last fragment of a sequence (RFC 1928 §7). */
export const FRAG_END_OF_SEQUENCE = 0x80;
/** The low seven bits of FRAG are the fragment's position, 1–127. */
export const FRAG_POSITION_MASK = 0x7f;

export interface UdpDatagram {
  /** The FRAG octet as sent (position in the low bits, end-of-sequence in the high bit). */
  readonly frag: number;
  readonly address: SocksAddress;
  /** A view into the input, not a copy. */
  readonly data: Uint8Array;
}

/** Header octets for an address: 10 for IPv4, 22 for IPv6, 7 + name length for a domain. */
export function udpHeaderLength(address: SocksAddress): number {
  return 3 + encodeAddress(address).length;
}

/** Encodes RSV | FRAG | ATYP | ADDR | PORT, without the data. */
export function encodeUdpHeader(address: SocksAddress, frag = FRAG_STANDALONE): Uint8Array {
  if (!Number.isInteger(frag) || frag < 0 || frag > 0xff) {
    throw new SocksUsageError(
      UsageErrorCode.InvalidArgument,
      `FRAG must be an octet, got ${String(frag)}`,
    );
  }
  const addr = encodeAddress(address);
  const out = new Uint8Array(3 + addr.length);
  out[2] = frag;
  out.set(addr, 3);
  return out;
}

/** Encodes a whole datagram: header then data, in one new array. */
export function encodeUdpDatagram(datagram: {
  address: SocksAddress;
  data: Uint8Array;
  frag?: number;
}): Uint8Array {
  const header = encodeUdpHeader(datagram.address, datagram.frag);
  const out = new Uint8Array(header.length + datagram.data.length);
  out.set(header, 0);
  out.set(datagram.data, header.length);
  return out;
}

/**
 * Decodes a whole datagram. Throws SocksProtocolError when the header is truncated, the reserved
 * octets are not zero, or the address is malformed; the relay drops such datagrams and counts them.
 */
export function decodeUdpDatagram(bytes: Uint8Array): UdpDatagram {
  if (bytes.length < 4) {
    throw new SocksProtocolError(
      ProtocolErrorCode.BadMessage,
      `UDP datagram of ${bytes.length} octets is shorter than a header`,
    );
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new SocksProtocolError(
      ProtocolErrorCode.BadMessage,
      'UDP header reserved octets are not zero',
    );
  }
  const address = decodeAddress(bytes, 3);
  if (address === NEED_MORE) {
    throw new SocksProtocolError(
      ProtocolErrorCode.BadMessage,
      'UDP datagram truncated inside its address',
    );
  }
  const headerLength = 3 + address.length;
  return { frag: bytes[2] ?? 0, address: address.value, data: bytes.subarray(headerLength) };
}
