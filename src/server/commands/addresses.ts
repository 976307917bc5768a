/**
 * Helpers shared by BIND and UDP ASSOCIATE: the address a reply advertises (NAT), and the one
 * place that picks the name resolver.
 */
import { defaultHostResolver, type HostResolver } from '../../dial/host-resolver.js';
import { canonicalIp, ipFamily } from '../../dial/ip-text.js';
import type { ResolvedServerOptions } from '../options.js';
import type { ServerContext } from '../connection.js';

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
