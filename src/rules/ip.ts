/**
 * IP addresses as the policy sees them: parsed once into numbers, printed in one canonical text
 * form, with any IPv4 address an IPv6 address embeds. Pure (no node:net).
 *
 * Two parsers with different jobs:
 * - {@link parseIpLiteral} is deliberately *lenient*: it accepts every IPv4 spelling that
 *   `inet_aton(3)` / glibc `getaddrinfo(3)` or the WHATWG URL host parser would turn into an
 *   address (`127.1`, `0x7f.1`, `017700000001`, `2130706433`, `0`, `127.000.000.001`, one trailing
 *   dot), so that no such spelling can reach a resolver as a "name" and come back as an address
 *   nobody checked.
 * - {@link parseStrictAddress} accepts only the forms an operator should write in a config file
 *   (dotted quad without leading zeros, RFC 4291 text), so that `010.0.0.1` in a rule is an error
 *   instead of silently meaning 8.0.0.1.
 */
import { formatGroups, scanIPv6 } from './ipv6-text.js';

/** How an IPv6 address carries an IPv4 address that a packet sent to it would end up at. */
export type EmbeddingKind = 'nat64' | '6to4' | 'ipv4-compatible' | 'ipv4-translated' | 'teredo';

/** A parsed IP address. Immutable; create with the parsers in this module. */
export interface IpAddress {
  readonly family: 4 | 6;
  /** Canonical text: dotted quad, or RFC 5952 IPv6. IPv4-mapped IPv6 is always family 4. */
  readonly address: string;
  /** The address as unsigned 32-bit words, most significant first: one word (v4) or four (v6). */
  readonly words: readonly number[];
  /** For IPv6 forms that carry an IPv4 address (see {@link embeddedIPv4Of}). */
  readonly embedded: { readonly kind: EmbeddingKind; readonly ipv4: IpAddress } | undefined;
}

function formatV4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** Builds an IPv4 {@link IpAddress} from its 32-bit value. */
export function ipv4FromNumber(value: number): IpAddress {
  const n = value >>> 0;
  return { family: 4, address: formatV4(n), words: [n], embedded: undefined };
}

/**
 * The IPv4 address an IPv6 address embeds, when traffic to it is delivered to (or through) that
 * IPv4 host. Rules match such an address both as itself and as the embedded IPv4 address.
 * - `nat64`: 64:ff9b::/96, the RFC 6052 well-known prefix; a NAT64 gateway translates to the
 *   last 32 bits. (The local-use 64:ff9b:1::/48 of RFC 8215 is in `private` outright.)
 * - `6to4`: 2002::/16 (RFC 3056); bits 16–47 name the IPv4 router the packet is tunnelled to.
 * - `ipv4-compatible`: ::a.b.c.d (RFC 4291 §2.5.5.1, deprecated; automatic tunnelling), except
 *   :: and ::1.
 * - `ipv4-translated`: ::ffff:0:a.b.c.d (RFC 2765 SIIT).
 * - `teredo`: 2001::/32 (RFC 4380); the client's public IPv4 is the last 32 bits, inverted.
 * IPv4-mapped ::ffff:a.b.c.d is not here: it *is* the IPv4 address and is parsed as family 4.
 */
export function embeddedIPv4Of(words: readonly number[]): IpAddress['embedded'] {
  const [w0 = 0, w1 = 0, w2 = 0, w3 = 0] = words;
  if (w0 === 0x0064ff9b && w1 === 0 && w2 === 0) return { kind: 'nat64', ipv4: ipv4FromNumber(w3) };
  if (w0 >>> 16 === 0x2002) {
    return { kind: '6to4', ipv4: ipv4FromNumber(((w0 & 0xffff) << 16) | (w1 >>> 16)) };
  }
  if (w0 === 0 && w1 === 0 && w2 === 0 && w3 > 1) {
    return { kind: 'ipv4-compatible', ipv4: ipv4FromNumber(w3) };
  }
  if (w0 === 0 && w1 === 0 && w2 === 0xffff0000) {
    return { kind: 'ipv4-translated', ipv4: ipv4FromNumber(w3) };
  }
  if (w0 === 0x20010000) return { kind: 'teredo', ipv4: ipv4FromNumber(~w3) };
  return undefined;
}

/** Builds an {@link IpAddress} from 8 groups of 16 bits, folding IPv4-mapped into IPv4. */
function ipFromGroups(g: readonly number[]): IpAddress {
  const words: number[] = [];
  for (let i = 0; i < 8; i += 2) words.push(((g[i] ?? 0) * 0x10000 + (g[i + 1] ?? 0)) >>> 0);
  if (words[0] === 0 && words[1] === 0 && words[2] === 0x0000ffff)
    return ipv4FromNumber(words[3] ?? 0);
  return { family: 6, address: formatGroups(g), words, embedded: embeddedIPv4Of(words) };
}

/** Builds an {@link IpAddress} from 16 octets, folding IPv4-mapped ::ffff:0:0/96 into IPv4. */
export function ipFromBytes(bytes: Uint8Array): IpAddress {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  return ipFromGroups(g);
}

/** Builds an IPv6 {@link IpAddress} from four words (IPv4-mapped folds to IPv4). */
export function ipv6FromWords(words: readonly number[]): IpAddress {
  return ipFromGroups(words.flatMap((w) => [w >>> 16, w & 0xffff]));
}

/**
 * One inet_aton(3) part: `0x` hex (WHATWG also accepts a bare `0x` as 0), leading-`0` octal,
 * or decimal. `undefined` when the part is not a number in any of these bases.
 */
function parseV4Part(part: string): number | undefined {
  let digits: string;
  let radix: number;
  if (/^0[xX][0-9a-fA-F]*$/.test(part)) {
    digits = part.slice(2);
    radix = 16;
  } else if (/^0[0-7]*$/.test(part)) {
    digits = part;
    radix = 8;
  } else if (/^[1-9][0-9]*$/.test(part)) {
    digits = part;
    radix = 10;
  } else {
    return undefined;
  }
  if (digits === '') return 0;
  // Leading zeros do not change the value; strip them so a long part cannot lose precision.
  const value = parseInt(digits.replace(/^0+(?=.)/, ''), radix);
  return value > 0xffffffff ? Infinity : value;
}

/** Drops one trailing dot, as the WHATWG URL host parser does (`127.0.0.1.` is 127.0.0.1). */
function withoutTrailingDot(text: string): string {
  return text.length > 1 && text.endsWith('.') ? text.slice(0, -1) : text;
}

/**
 * The hot path (every UDP datagram): a canonical dotted quad — four decimal parts 0–255 without
 * leading zeros — parsed by one scan, its text reused as the canonical form. Anything else is
 * `undefined` and goes to the general parser.
 */
function canonicalQuad(text: string): number | undefined {
  const n = text.length;
  if (n < 7 || n > 15) return undefined;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i <= n; i++) {
    const c = i === n ? 0x2e : text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || part > 255) return undefined;
      value = value * 256 + part;
      dots++;
      part = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && part === 0) return undefined; // leading zero: octal, not canonical
      part = part * 10 + (c - 0x30);
      digits++;
    } else {
      return undefined;
    }
  }
  return dots === 4 ? value : undefined;
}

/**
 * Parses IPv4 in every spelling inet_aton(3) accepts: 1–4 parts, each decimal, octal (leading
 * 0) or hex (0x); the last part fills the remaining 32, 24, 16 or 8 bits (`127.1`,
 * `2130706433`, `0x7f000001`, `0`). One trailing dot is allowed (WHATWG does; glibc would send
 * it to DNS instead — treating it as the address is the safe side).
 */
export function parseLooseIPv4(text: string): IpAddress | undefined {
  const quad = canonicalQuad(text);
  if (quad !== undefined) return { family: 4, address: text, words: [quad], embedded: undefined };
  const parts = withoutTrailingDot(text).split('.');
  if (parts.length > 4) return undefined;
  let value = 0;
  for (let i = 0; i < parts.length; i++) {
    const n = parseV4Part(parts[i] ?? '');
    if (n === undefined) return undefined;
    if (i < parts.length - 1) {
      if (n > 0xff) return undefined;
      value += n * 2 ** (8 * (3 - i));
    } else {
      if (n >= 2 ** (8 * (4 - i))) return undefined;
      value += n;
    }
  }
  return ipv4FromNumber(value);
}

/**
 * WHATWG's "ends in a number": the last label (after one trailing dot) is all digits or a
 * number in inet_aton syntax. Such a host that is not a valid literal (`1.2.3.256`, `08`,
 * `foo.0x1`) is refused rather than resolved: no real top-level domain is numeric.
 */
export function endsInNumber(text: string): boolean {
  const parts = withoutTrailingDot(text).split('.');
  const last = parts[parts.length - 1] ?? '';
  return last !== '' && (/^[0-9]+$/.test(last) || parseV4Part(last) !== undefined);
}

/** Why a text is not an IP literal, when it looks like one but must be refused. */
export type LiteralProblem = 'zone-id' | 'bad-ipv6' | 'bad-ipv4';

/**
 * Parses a destination host as an IP literal in any spelling a resolver would accept: the loose
 * IPv4 forms above, RFC 4291 IPv6 optionally in brackets (`[::1]`). IPv4-mapped IPv6
 * (`::ffff:127.0.0.1`, `::ffff:7f00:1`) becomes the IPv4 address, since that is where a connect
 * goes. Returns a {@link LiteralProblem} for things that are literals but refused: a zone id
 * (`fe80::1%eth0` — interface names are the proxy's, not the client's to choose), a malformed
 * IPv6 text, or a host that ends in a number but is not a valid IPv4 address. `undefined` means
 * "not an IP literal": treat it as a name.
 */
export function parseIpLiteral(text: string): IpAddress | LiteralProblem | undefined {
  let body = text;
  if (body.startsWith('[') && body.endsWith(']')) body = body.slice(1, -1);
  else if (body.startsWith('[') || body.endsWith(']')) return 'bad-ipv6';
  if (body.includes(':')) {
    if (body.includes('%')) return 'zone-id';
    const groups = scanIPv6(body);
    return groups === undefined ? 'bad-ipv6' : ipFromGroups(groups);
  }
  if (body !== text) return 'bad-ipv6'; // [127.0.0.1] is not a thing
  const v4 = parseLooseIPv4(body);
  if (v4 !== undefined) return v4;
  return endsInNumber(body) ? 'bad-ipv4' : undefined;
}

/**
 * Parses an address the way a config file must write it: a strict dotted quad (no leading
 * zeros) or RFC 4291 IPv6 text without a zone. IPv4-mapped IPv6 becomes IPv4.
 */
export function parseStrictAddress(text: string): IpAddress | undefined {
  const quad = canonicalQuad(text);
  if (quad !== undefined) return { family: 4, address: text, words: [quad], embedded: undefined };
  const groups = scanIPv6(text);
  return groups === undefined ? undefined : ipFromGroups(groups);
}

/**
 * Parses an address reported by the OS or a resolver (a socket's `remoteAddress`, a DNS answer):
 * canonicalises it (IPv4-mapped → IPv4). A zone id is dropped: on an address the proxy itself
 * observed it names the proxy's own interface and does not change which rules apply.
 * Throws nothing; `undefined` when the text is not an address.
 */
export function parseObservedAddress(text: string): IpAddress | undefined {
  const zone = text.indexOf('%');
  return parseStrictAddress(zone === -1 ? text : text.slice(0, zone));
}
