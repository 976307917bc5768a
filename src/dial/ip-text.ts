/**
 * IP addresses as text, one spelling per address: what sockets report (inet_ntop, `::ffff:`
 * mapped IPv4 on dual-stack sockets, zone indexes) and what arrives on the wire (RFC 5952 from
 * our codec) must compare equal before any filter or check looks at them.
 */
import { formatIPv6, parseIPv6 } from '../protocol/address.js';

/** Unmaps `::ffff:a.b.c.d` to `a.b.c.d`; anything else is returned as is. */
export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * Canonical text: IPv4-mapped IPv6 becomes IPv4, IPv6 is RFC 5952 (lower case, longest zero run
 * compressed), a zone index (`%eth0`) is dropped. Text that is not an IPv6 address is returned
 * unmapped but otherwise as is.
 */
export function canonicalIp(address: string): string {
  const bare = unmapIPv4(address.replace(/%.*$/, ''));
  const v6 = parseIPv6(bare);
  if (v6 === undefined) return bare;
  return unmapIPv4(formatIPv6(v6));
}

/** The family of an IP literal's socket (an IPv4-mapped IPv6 address counts as IPv4). */
export function ipFamily(address: string): 4 | 6 {
  return unmapIPv4(address).includes(':') ? 6 : 4;
}

/** True for `0.0.0.0` and `::` (and `::ffff:0.0.0.0`). */
export function isUnspecified(address: string): boolean {
  const c = canonicalIp(address);
  return c === '0.0.0.0' || c === '::';
}
