/**
 * The address BIND and UDP ASSOCIATE replies advertise (NAT).
 */
import { canonicalIp, ipFamily } from '../../dial/ip-text.js';
import type { ResolvedServerOptions } from '../options.js';

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
