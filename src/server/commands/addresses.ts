/**
 * Address helpers shared by BIND and UDP ASSOCIATE: canonical text for comparisons, the address a
 * reply advertises (NAT), and the one place that picks the name resolver.
 */
import { formatIPv6, parseIPv6 } from '../../protocol/address.js';
import { defaultHostResolver, type HostResolver } from '../../dial/host-resolver.js';
import { ipFamily, unmapIPv4 } from '../../dial/local-address.js';
import type { ResolvedServerOptions } from '../options.js';
import type { ServerContext } from '../connection.js';

/**
 * One spelling per address, so that socket addresses (inet_ntop) and addresses from the wire
 * compare equal: IPv4-mapped IPv6 becomes IPv4, IPv6 is RFC 5952, a zone index is dropped.
 */
export function canonicalIp(address: string): string {
  const bare = unmapIPv4(address.replace(/%.*$/, ''));
  const v6 = parseIPv6(bare);
  if (v6 === undefined) return bare;
  return unmapIPv4(formatIPv6(v6));
}

/** True for `0.0.0.0` and `::` (and `::ffff:0.0.0.0`). */
export function isUnspecified(address: string): boolean {
  const c = canonicalIp(address);
  return c === '0.0.0.0' || c === '::';
}

/**
 * What a reply should carry for a socket bound to `address`: the configured external address of
 * that family (a server behind NAT), else the address itself in canonical form.
 */
export function advertisedAddress(options: ResolvedServerOptions, address: string): string {
  const canonical = canonicalIp(address);
  const external =
    ipFamily(canonical) === 6 ? options.externalAddress.ipv6 : options.externalAddress.ipv4;
  return external ?? canonical;
}

/**
 * The resolver BIND and the UDP relay use for domain names. The one swap point for the rules
 * resolver of issue 6 (which has the same `resolve(host, { signal })` shape).
 */
export function hostResolverFor(_server: ServerContext): HostResolver {
  return defaultHostResolver();
}
