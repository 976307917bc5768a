/**
 * Addresses as SOCKS5 carries them (RFC 1928 §5): ATYP, then 4 octets (IPv4), 16 octets (IPv6)
 * or a length octet and 1–255 octets of domain name, then a 2-octet port in network order.
 *
 *   +------+----------+----------+
 *   | ATYP | DST.ADDR | DST.PORT |
 *   +------+----------+----------+
 *   |  1   | Variable |    2     |
 *   +------+----------+----------+
 *
 * Also the text forms: strict dotted-quad IPv4, RFC 4291 IPv6 (formatted per RFC 5952) and
 * `host:port` / `[v6]:port`. Pure: no node:net here, so the parsers are our own.
 */
import { AddressType, Limits, Reply } from './constants.js';
import { NEED_MORE, readUint16, writeUint16, type DecodeResult } from './decode.js';
import {
  ProtocolErrorCode,
  SocksProtocolError,
  SocksUsageError,
  UsageErrorCode,
} from '../errors.js';

export type AddressKind = 'ipv4' | 'ipv6' | 'domain';

/** A host and port as a SOCKS message carries them. `host` is text: dotted quad, IPv6, or name. */
export interface SocksAddress {
  readonly type: AddressKind;
  readonly host: string;
  readonly port: number;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8');

/** Parses a strict dotted-quad IPv4 address (`a.b.c.d`, decimal, no leading zeros). */
export function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i] ?? '';
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/** Parses an RFC 4291 §2.2 IPv6 address, including `::` and a trailing dotted quad. No zone. */
export function parseIPv6(text: string): Uint8Array | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  let head = text;
  let tail = '';
  const gap = text.indexOf('::');
  if (gap !== -1) {
    if (text.indexOf('::', gap + 1) !== -1) return undefined;
    head = text.slice(0, gap);
    tail = text.slice(gap + 2);
  }
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const words: number[] = [];
  const tailWords: number[] = [];
  const all = [...headGroups, ...tailGroups];
  for (let i = 0; i < all.length; i++) {
    const group = all[i] ?? '';
    const target = i < headGroups.length ? words : tailWords;
    if (i === all.length - 1 && group.includes('.')) {
      const v4 = parseIPv4(group);
      if (v4 === undefined) return undefined;
      target.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    target.push(parseInt(group, 16));
  }
  const total = words.length + tailWords.length;
  if (gap === -1 ? total !== 8 : total > 7) return undefined;
  const zeros = 8 - total;
  const all16 = [...words, ...new Array<number>(zeros).fill(0), ...tailWords];
  const out = new Uint8Array(16);
  all16.forEach((w, i) => {
    out[i * 2] = w >>> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  return out;
}

/** Formats 4 octets at `offset` as a dotted quad. */
export function formatIPv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset] ?? 0}.${bytes[offset + 1] ?? 0}.${bytes[offset + 2] ?? 0}.${bytes[offset + 3] ?? 0}`;
}

/**
 * Formats 16 octets at `offset` per RFC 5952: lower case, no leading zeros, the longest run of
 * two or more zero groups (the first on a tie) as `::`; IPv4-mapped addresses end in a dotted
 * quad, as Node's own `remoteAddress` does.
 */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(readUint16(bytes, offset + i * 2));
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${formatIPv4(bytes, offset + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestStart === -1) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/** Which ATYP a host string needs: an IPv4 or IPv6 literal, otherwise a domain name. */
export function addressKindOf(host: string): AddressKind {
  if (parseIPv4(host) !== undefined) return 'ipv4';
  if (parseIPv6(host) !== undefined) return 'ipv6';
  return 'domain';
}

/** Builds a {@link SocksAddress} from text, choosing the type; IPv6 is normalised (RFC 5952). */
export function socksAddress(host: string, port: number): SocksAddress {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const type = addressKindOf(bare);
  if (type === 'ipv6') {
    return { type, host: formatIPv6(parseIPv6(bare) ?? new Uint8Array(16)), port };
  }
  return { type, host: bare, port };
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new SocksUsageError(
      UsageErrorCode.InvalidArgument,
      `port must be an integer 0-65535, got ${String(port)}`,
    );
  }
}

/** Encodes a domain name, checking the 1–255 octet limit of its length field. */
function encodeDomain(host: string): Uint8Array {
  const bytes = textEncoder.encode(host);
  if (bytes.length < 1 || bytes.length > Limits.maxDomainLength) {
    throw new SocksUsageError(
      UsageErrorCode.InvalidArgument,
      `a domain name must be 1-255 octets, got ${bytes.length}`,
    );
  }
  return bytes;
}

/** Octets `writeAddress` will use for this address (ATYP + ADDR + PORT). */
export function encodedAddressLength(address: SocksAddress): number {
  switch (address.type) {
    case 'ipv4':
      return 1 + 4 + 2;
    case 'ipv6':
      return 1 + 16 + 2;
    case 'domain':
      return 1 + 1 + encodeDomain(address.host).length + 2;
  }
}

/** Encodes ATYP | ADDR | PORT as a new array. Throws SocksUsageError on an unencodable value. */
export function encodeAddress(address: SocksAddress): Uint8Array {
  checkPort(address.port);
  let out: Uint8Array;
  switch (address.type) {
    case 'ipv4': {
      const ip = parseIPv4(address.host);
      if (ip === undefined)
        throw new SocksUsageError(
          UsageErrorCode.InvalidArgument,
          `not an IPv4 address: ${address.host}`,
        );
      out = new Uint8Array(1 + 4 + 2);
      out[0] = AddressType.IPv4;
      out.set(ip, 1);
      break;
    }
    case 'ipv6': {
      const ip = parseIPv6(address.host);
      if (ip === undefined)
        throw new SocksUsageError(
          UsageErrorCode.InvalidArgument,
          `not an IPv6 address: ${address.host}`,
        );
      out = new Uint8Array(1 + 16 + 2);
      out[0] = AddressType.IPv6;
      out.set(ip, 1);
      break;
    }
    case 'domain': {
      const name = encodeDomain(address.host);
      out = new Uint8Array(1 + 1 + name.length + 2);
      out[0] = AddressType.Domain;
      out[1] = name.length;
      out.set(name, 2);
      break;
    }
  }
  writeUint16(out, out.length - 2, address.port);
  return out;
}

/**
 * Decodes ATYP | ADDR | PORT starting at `offset`. `length` in the result counts from `offset`.
 * Throws SocksProtocolError: unknown ATYP (reply 08), empty domain or one holding NUL (reply 01).
 */
export function decodeAddress(bytes: Uint8Array, offset: number): DecodeResult<SocksAddress> {
  if (bytes.length <= offset) return NEED_MORE;
  const atyp = bytes[offset];
  switch (atyp) {
    case AddressType.IPv4: {
      if (bytes.length < offset + 7) return NEED_MORE;
      return {
        value: {
          type: 'ipv4',
          host: formatIPv4(bytes, offset + 1),
          port: readUint16(bytes, offset + 5),
        },
        length: 7,
      };
    }
    case AddressType.IPv6: {
      if (bytes.length < offset + 19) return NEED_MORE;
      return {
        value: {
          type: 'ipv6',
          host: formatIPv6(bytes, offset + 1),
          port: readUint16(bytes, offset + 17),
        },
        length: 19,
      };
    }
    case AddressType.Domain: {
      if (bytes.length < offset + 2) return NEED_MORE;
      const len = bytes[offset + 1] ?? 0;
      if (len === 0) {
        throw new SocksProtocolError(
          ProtocolErrorCode.BadAddress,
          'zero-length domain name',
          Reply.GeneralFailure,
        );
      }
      if (bytes.length < offset + 2 + len + 2) return NEED_MORE;
      const name = bytes.subarray(offset + 2, offset + 2 + len);
      if (name.includes(0)) {
        throw new SocksProtocolError(
          ProtocolErrorCode.BadAddress,
          'domain name contains a NUL octet',
          Reply.GeneralFailure,
        );
      }
      return {
        value: {
          type: 'domain',
          host: textDecoder.decode(name),
          port: readUint16(bytes, offset + 2 + len),
        },
        length: 2 + len + 2,
      };
    }
    default:
      throw new SocksProtocolError(
        ProtocolErrorCode.UnsupportedAddressType,
        `unknown address type 0x${(atyp ?? 0).toString(16).padStart(2, '0')}`,
        Reply.AddressTypeNotSupported,
      );
  }
}

/** The all-zero IPv4 address, for failure replies that have no better one (SOCKS.md §3). */
export const UNSPECIFIED_ADDRESS: SocksAddress = Object.freeze({
  type: 'ipv4',
  host: '0.0.0.0',
  port: 0,
});

/**
 * Parses `host:port`, `[v6]:port` (brackets required for IPv6 with a port).
 * Throws SocksUsageError naming the problem.
 */
export function parseHostPort(text: string): { host: string; port: number } {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1 || text[close + 1] !== ':') {
      throw new SocksUsageError(
        UsageErrorCode.InvalidArgument,
        `expected [IPv6]:port, got "${text}"`,
      );
    }
    host = text.slice(1, close);
    if (parseIPv6(host) === undefined) {
      throw new SocksUsageError(UsageErrorCode.InvalidArgument, `not an IPv6 address: "${host}"`);
    }
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon === -1 || text.indexOf(':') !== colon) {
      throw new SocksUsageError(
        UsageErrorCode.InvalidArgument,
        `expected host:port (IPv6 in brackets), got "${text}"`,
      );
    }
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  if (host === '')
    throw new SocksUsageError(UsageErrorCode.InvalidArgument, `missing host in "${text}"`);
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 0xffff) {
    throw new SocksUsageError(
      UsageErrorCode.InvalidArgument,
      `bad port "${portText}" in "${text}"`,
    );
  }
  return { host, port: Number(portText) };
}

/** Formats `host:port`, bracketing IPv6. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
