/**
 * Name resolution for the UDP relay and BIND, behind the smallest interface that fits: a
 * `resolve(host)` that answers with IP addresses. {@link HostResolver} is shaped like the
 * rules/resolver work (issue 6) so that resolver can be dropped in where
 * {@link defaultHostResolver} is used today (src/server/commands/resolve.ts is the one place).
 *
 * The stand-in here is the system resolver (`dns.lookup`: /etc/hosts, NSS) with a small cache.
 * `getaddrinfo` reports no TTL, so answers are kept for a fixed time; failures for a shorter one
 * so that a flood of datagrams to a bad name does not become a flood of lookups.
 */
import { promises as dns, type LookupAddress } from 'node:dns';
import net from 'node:net';

export interface ResolvedAddress {
  readonly family: 4 | 6;
  /** Canonical text (dotted quad or IPv6 as the OS formats it). */
  readonly address: string;
}

export interface HostResolver {
  /**
   * Addresses for `host`, preferred first. An IP literal is returned as is. Rejects with the
   * resolver's error (ENOTFOUND, EAI_AGAIN, ... — `replyForError` maps them to 04).
   */
  resolve(host: string, options?: { signal?: AbortSignal }): Promise<readonly ResolvedAddress[]>;
}

export type SystemLookup = (
  host: string,
  options: { all: true; family: 0 },
) => Promise<readonly LookupAddress[]>;

export interface CachingResolverOptions {
  /** How long an answer is reused, ms. Default 30 000. */
  readonly ttl?: number;
  /** How long a failure is remembered, ms. Default 5 000. */
  readonly negativeTtl?: number;
  /** Most names kept (oldest first out). Default 1 000. */
  readonly maxEntries?: number;
  /** Clock in ms, for tests. Default `Date.now`. */
  readonly now?: () => number;
  /** The system resolver, for tests. Default `dns.promises.lookup`. */
  readonly lookup?: SystemLookup;
}

type Entry =
  | { readonly addresses: readonly ResolvedAddress[]; readonly expires: number }
  | { readonly error: unknown; readonly expires: number };

/** The system resolver with a bounded cache and coalesced concurrent lookups; IPv4 first. */
export class CachingLookupResolver implements HostResolver {
  readonly #ttl: number;
  readonly #negativeTtl: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #lookup: SystemLookup;
  readonly #cache = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<readonly ResolvedAddress[]>>();

  constructor(options: CachingResolverOptions = {}) {
    this.#ttl = options.ttl ?? 30_000;
    this.#negativeTtl = options.negativeTtl ?? 5_000;
    this.#maxEntries = options.maxEntries ?? 1_000;
    this.#now = options.now ?? Date.now;
    this.#lookup = options.lookup ?? ((host, o) => dns.lookup(host, o));
  }

  async resolve(host: string): Promise<readonly ResolvedAddress[]> {
    const family = net.isIP(host);
    if (family === 4 || family === 6) return [{ family, address: host }];
    const name = host.toLowerCase();
    const entry = this.#cache.get(name);
    if (entry !== undefined) {
      if (entry.expires > this.#now()) {
        if ('error' in entry) throw entry.error;
        return entry.addresses;
      }
      this.#cache.delete(name);
    }
    let pending = this.#inflight.get(name);
    if (pending === undefined) {
      pending = this.#query(name).finally(() => this.#inflight.delete(name));
      this.#inflight.set(name, pending);
    }
    return pending;
  }

  async #query(name: string): Promise<readonly ResolvedAddress[]> {
    try {
      const answer = await this.#lookup(name, { all: true, family: 0 });
      const addresses = answer
        .filter((a) => a.family === 4 || a.family === 6)
        .map((a) => ({ family: a.family as 4 | 6, address: a.address }))
        .sort((a, b) => a.family - b.family);
      if (addresses.length === 0) {
        throw Object.assign(new Error(`no address for ${name}`), { code: 'ENOTFOUND' });
      }
      this.#store(name, { addresses, expires: this.#now() + this.#ttl });
      return addresses;
    } catch (error) {
      this.#store(name, { error, expires: this.#now() + this.#negativeTtl });
      throw error;
    }
  }

  #store(name: string, entry: Entry): void {
    this.#cache.delete(name);
    this.#cache.set(name, entry);
    while (this.#cache.size > this.#maxEntries) {
      const oldest = this.#cache.keys().next();
      if (oldest.done === true) break;
      this.#cache.delete(oldest.value);
    }
  }
}

let shared: CachingLookupResolver | undefined;

/** The process-wide resolver used by BIND and the UDP relay until issue 6's resolver replaces it. */
export function defaultHostResolver(): HostResolver {
  shared ??= new CachingLookupResolver();
  return shared;
}
