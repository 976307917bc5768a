/**
 * The destination check of issue 6 in one call: classify the host, decide what the name alone
 * decides (a certain deny costs no DNS query), resolve, decide each resolved address, and hand
 * back exactly the allowed addresses plus a `lookup` that gives `net.connect` those and nothing
 * else — so the connection goes to an address that was checked, whatever DNS says later.
 */
import type { LookupFunction } from 'node:net';
import { formatHostPort } from '../protocol/address.js';
import {
  invalidHostError,
  NotAllowedError,
  type IpAddress,
  type SessionPolicy,
  type Verdict,
} from '../rules/index.js';
import { lookupFor } from './lookup.js';
import type { DnsResolver } from './resolver.js';
import type { AbortLike } from './abort-like.js';

/** An allowed destination, ready for `net.connect({ host, port, lookup, autoSelectFamily })`. */
export interface CheckedDestination {
  /** The canonical address (IP literal) or the normalised name; never the client's spelling. */
  readonly host: string;
  readonly port: number;
  /** The allowed addresses, in preference order; connect only among these. */
  readonly addresses: readonly IpAddress[];
  /** For a name: answers with `addresses` only. Undefined for an IP (Node does no lookup). */
  readonly lookup: LookupFunction | undefined;
  /** The rule that allowed it (of the first allowed address). */
  readonly verdict: Verdict;
  /** Addresses of the name that were refused, with their rules (`allowed-only` mode). */
  readonly denied: readonly { readonly ip: IpAddress; readonly verdict: Verdict }[];
}

/**
 * Checks `host:port` (as the client sent it) against a session's policy, resolving names.
 * Rejects with NotAllowedError `ERR_SOCKS_NOT_ALLOWED` (reply 02), SocksDialError
 * `ERR_SOCKS_BAD_HOST` or `ERR_SOCKS_RESOLVE` (reply 04), or the signal's reason.
 */
export async function resolveAllowed(
  session: SessionPolicy,
  resolver: DnsResolver,
  host: string,
  port: number,
  options: { signal?: AbortLike | undefined } = {},
): Promise<CheckedDestination> {
  const check = session.checkDestination(host, port);
  switch (check.kind) {
    case 'invalid':
      throw invalidHostError(check.reason);
    case 'ip':
      if (check.verdict.action === 'deny') {
        throw new NotAllowedError(check.verdict.rule, formatHostPort(check.ip.address, port));
      }
      return {
        host: check.ip.address,
        port,
        addresses: [check.ip],
        lookup: undefined,
        verdict: check.verdict,
        denied: [],
      };
    case 'name': {
      const where = formatHostPort(check.name, port);
      if (check.verdict?.action === 'deny') throw new NotAllowedError(check.verdict.rule, where);
      const resolved = await resolver.resolve(
        check.name,
        options.signal === undefined ? {} : { signal: options.signal },
      );
      const result = check.checkAddresses(resolved);
      if (result.verdict.action === 'deny') throw new NotAllowedError(result.verdict.rule, where);
      return {
        host: check.name,
        port,
        addresses: result.allowed,
        lookup: lookupFor(result.allowed),
        verdict: result.verdict,
        denied: result.denied,
      };
    }
  }
}
