/**
 * Built-in named address sets, usable wherever a rule takes a CIDR: `destination: private`.
 *
 * `private` answers "which destinations must a proxy exposed to strangers never reach": every
 * range that is not globally reachable unicast — internal networks, the host itself, link-local
 * (cloud metadata at 169.254.169.254), multicast, reserved and special-purpose ranges (IANA
 * special-purpose registries, RFC 6890) — plus the IPv6 forms that carry such an IPv4 address.
 * How IPv6 forms with an embedded IPv4 are handled (see `embeddedIPv4Of`):
 * - IPv4-mapped ::ffff:a.b.c.d is parsed as the IPv4 address itself; the mapped forms of every
 *   IPv4 range are in the set as well, for callers holding unfolded words;
 * - NAT64 64:ff9b::/96 is *not* listed: it is private exactly when its embedded IPv4 is
 *   (64:ff9b::7f00:1 is, 64:ff9b::808:808 is not), because rules also match the embedded address;
 * - 6to4 2002::/16, IPv4-compatible ::/96, IPv4-translated ::ffff:0:0:0/96 and Teredo (inside
 *   2001::/23) are listed whole: all deprecated or not globally routed, and their embedded
 *   IPv4 is matched by user rules anyway.
 */
import { AddressSet, type Prefix } from './address-set.js';
import { mappedPrefix, prefix } from './cidr.js';

/** One entry of a named set, with the reason it is there. */
export interface NamedRange {
  readonly cidr: string;
  readonly what: string;
}

/** The IPv4 part of `private`. */
export const PRIVATE_IPV4: readonly NamedRange[] = [
  {
    cidr: '0.0.0.0/8',
    what: '"this network" (RFC 1122); connecting to 0.0.0.0 reaches the local host',
  },
  { cidr: '10.0.0.0/8', what: 'private-use (RFC 1918)' },
  { cidr: '100.64.0.0/10', what: 'shared address space / carrier-grade NAT (RFC 6598)' },
  { cidr: '127.0.0.0/8', what: 'loopback (RFC 1122)' },
  { cidr: '169.254.0.0/16', what: 'link-local (RFC 3927), incl. cloud metadata 169.254.169.254' },
  { cidr: '172.16.0.0/12', what: 'private-use (RFC 1918)' },
  {
    cidr: '192.0.0.0/24',
    what: 'IETF protocol assignments (RFC 6890): DS-Lite, NAT64 discovery, PCP/TURN anycast',
  },
  {
    cidr: '192.0.2.0/24',
    what: 'documentation TEST-NET-1 (RFC 5737); not routed, so any use is local',
  },
  { cidr: '192.88.99.0/24', what: 'deprecated 6to4 relay anycast (RFC 7526)' },
  { cidr: '192.168.0.0/16', what: 'private-use (RFC 1918)' },
  {
    cidr: '198.18.0.0/15',
    what: 'benchmarking (RFC 2544); also the "fake-IP" range of local DNS proxies',
  },
  { cidr: '198.51.100.0/24', what: 'documentation TEST-NET-2 (RFC 5737)' },
  { cidr: '203.0.113.0/24', what: 'documentation TEST-NET-3 (RFC 5737)' },
  { cidr: '224.0.0.0/4', what: 'multicast (RFC 5771)' },
  {
    cidr: '240.0.0.0/4',
    what: 'reserved (RFC 1112), incl. limited broadcast 255.255.255.255 (RFC 919)',
  },
];

/** The IPv6 part of `private` (IPv4-mapped forms of {@link PRIVATE_IPV4} are added to it). */
export const PRIVATE_IPV6: readonly NamedRange[] = [
  { cidr: '::/128', what: 'unspecified (RFC 4291); connecting to :: reaches the local host' },
  { cidr: '::1/128', what: 'loopback (RFC 4291)' },
  { cidr: '::/96', what: 'deprecated IPv4-compatible (RFC 4291 §2.5.5.1)' },
  { cidr: '::ffff:0:0:0/96', what: 'IPv4-translated (RFC 2765)' },
  { cidr: '64:ff9b:1::/48', what: 'local-use NAT64 (RFC 8215)' },
  { cidr: '100::/64', what: 'discard-only (RFC 6666)' },
  {
    cidr: '2001::/23',
    what: 'IETF protocol assignments (RFC 2928): Teredo, benchmarking, ORCHID, AMT, AS112',
  },
  { cidr: '2001:db8::/32', what: 'documentation (RFC 3849)' },
  { cidr: '2002::/16', what: '6to4 (RFC 3056), relays deprecated (RFC 7526)' },
  { cidr: '3fff::/20', what: 'documentation (RFC 9637)' },
  { cidr: '5f00::/16', what: 'SRv6 SIDs (RFC 9602)' },
  { cidr: 'fc00::/7', what: 'unique local (RFC 4193)' },
  { cidr: 'fe80::/10', what: 'link-local (RFC 4291)' },
  { cidr: 'fec0::/10', what: 'deprecated site-local (RFC 3879)' },
  { cidr: 'ff00::/8', what: 'multicast (RFC 4291)' },
];

/** `loopback`: the local host only. */
export const LOOPBACK: readonly NamedRange[] = [
  { cidr: '127.0.0.0/8', what: 'IPv4 loopback' },
  { cidr: '::1/128', what: 'IPv6 loopback' },
];

function buildSet(ranges: readonly NamedRange[]): AddressSet {
  const prefixes: Prefix[] = ranges.map((r) => prefix(r.cidr));
  for (const p of [...prefixes]) if (p.family === 4) prefixes.push(mappedPrefix(p));
  return new AddressSet(prefixes);
}

/** The built-in named sets; names are matched case-sensitively and win over domain names. */
export const namedSets: ReadonlyMap<string, AddressSet> = new Map([
  ['private', buildSet([...PRIVATE_IPV4, ...PRIVATE_IPV6])],
  ['loopback', buildSet(LOOPBACK)],
]);
