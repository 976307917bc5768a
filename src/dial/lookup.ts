/**
 * Hands Node's `net.connect` exactly the addresses that were checked.
 *
 * `net.connect({ host: name, port, lookup: lookupFor(allowed), autoSelectFamily: true })` makes
 * Node run Happy Eyeballs (RFC 8305) among exactly `allowed`: with `autoSelectFamily` Node calls
 * `lookup(name, { all: true, ... })` (verified on Node 20: lib/net.js lookupAndConnectMultiple)
 * and tries the returned addresses, alternating families starting with the first one's. No
 * second DNS query happens, so nothing can rebind the name between the check and the connect.
 * Without `autoSelectFamily` (or with `localAddress` set, which disables it) Node asks for one
 * address, optionally of one family; the first matching one is given.
 */
import type { LookupAddress, LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { DialErrorCode, SocksDialError } from '../errors.js';
import { Reply } from '../protocol/constants.js';
import type { IpAddress } from '../rules/index.js';

function familyOf(option: LookupOptions['family']): 4 | 6 | undefined {
  if (option === 4 || option === 'IPv4') return 4;
  if (option === 6 || option === 'IPv6') return 6;
  return undefined;
}

/**
 * A `lookup` for `net.connect`/`tls.connect` that answers with `addresses` only, in their order,
 * asynchronously, ignoring the hostname. Throws nothing; when the requested family has no
 * address the callback gets a SocksDialError `ERR_SOCKS_RESOLVE` (reply 04).
 */
export function lookupFor(addresses: readonly IpAddress[]): LookupFunction {
  const all: LookupAddress[] = addresses.map((a) => ({ address: a.address, family: a.family }));
  return (hostname, options, callback) => {
    const family = familyOf(options.family);
    const matching = family === undefined ? all : all.filter((a) => a.family === family);
    process.nextTick(() => {
      const first = matching[0];
      if (first === undefined) {
        const err = new SocksDialError(
          DialErrorCode.Resolve,
          `no checked IPv${family ?? ''} address for ${hostname}`,
          Reply.HostUnreachable,
        );
        callback(err, []);
      } else if (options.all === true) {
        callback(null, matching);
      } else {
        callback(null, first.address, first.family);
      }
    });
  };
}
