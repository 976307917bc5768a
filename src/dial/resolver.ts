/**
 * Name resolution for outgoing connections: c-ares (`dns.promises.Resolver`, which does not
 * occupy the libuv threadpool) with a bounded, TTL-respecting cache, request coalescing,
 * address-family policy, and a fallback to the system resolver (`getaddrinfo`: /etc/hosts,
 * NSS) for names c-ares cannot answer.
 *
 * Every answer is a list of canonical {@link IpAddress}es ready for the policy check and for
 * `lookupFor`; every failure is a SocksDialError with reply 04 (host unreachable).
 */
import { promises as dns, type LookupAddress } from 'node:dns';
import { DialErrorCode, invalidOption, SocksDialError } from '../errors.js';
import { Reply } from '../protocol/constants.js';
import type { AbortLike } from './abort-like.js';
import {
  invalidHostError,
  normalizeHost,
  parseObservedAddress,
  type IpAddress,
} from '../rules/index.js';

/** Which address families to use, and which first. */
export type FamilyPreference = 'ipv4first' | 'ipv6first' | 'ipv4only' | 'ipv6only';

/** The system resolver's signature (`dns.promises.lookup` with `all: true`). */
export type SystemLookup = (
  name: string,
  options: { all: true; family: 0 | 4 | 6 },
) => Promise<readonly LookupAddress[]>;

/** Options of {@link DnsResolver}; every time is in seconds unless it says ms. */
/** Defaults of {@link ResolverOptions} (timeout in ms, TTLs in seconds). */
export const resolverDefaults = Object.freeze({
  family: 'ipv4first',
  timeout: 2000,
  tries: 2,
  cacheSize: 10_000,
  minTtl: 1,
  maxTtl: 300,
  negativeTtl: 5,
  systemFallback: true,
  systemTtl: 30,
});

export interface ResolverOptions {
  /** DNS servers (`1.1.1.1`, `[::1]:5353`); default: the system's (/etc/resolv.conf). */
  readonly servers?: readonly string[];
  /** Default `ipv4first`. */
  readonly family?: FamilyPreference;
  /** c-ares timeout per try, ms. Default 2000. */
  readonly timeout?: number;
  /** c-ares tries per server. Default 2. */
  readonly tries?: number;
  /** Most names kept in the cache (least recently used go first). Default 10 000. */
  readonly cacheSize?: number;
  /** Lower clamp of a record's TTL. Default 1: absorbs bursts for TTL-0 names. */
  readonly minTtl?: number;
  /** Upper clamp of a record's TTL. Default 300. */
  readonly maxTtl?: number;
  /** How long "no such name / no addresses" is remembered. Default 5. */
  readonly negativeTtl?: number;
  /** Ask the system resolver when c-ares fails. Default true (see docs/rules.md for the cost). */
  readonly systemFallback?: boolean;
  /** How long a system-resolver answer is cached (it has no TTL). Default 30. */
  readonly systemTtl?: number;
  /** Clock in ms, for tests. Default `performance.now`. */
  readonly now?: () => number;
  /** The system resolver, for tests. Default `dns.promises.lookup`. */
  readonly systemLookup?: SystemLookup;
}

type Entry =
  | { readonly addresses: readonly IpAddress[]; readonly expires: number }
  | { readonly failure: string; readonly cause: unknown; readonly expires: number };

/** c-ares codes that mean "the name has no such records" rather than "could not ask". */
const DEFINITE = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NONAME', 'EAI_NODATA']);

function codeOf(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'UNKNOWN';
}

function resolveError(name: string, detail: string, cause?: unknown): SocksDialError {
  return new SocksDialError(
    DialErrorCode.Resolve,
    `cannot resolve ${name}: ${detail}`,
    Reply.HostUnreachable,
    { cause },
  );
}

function positiveNumber(
  value: number | undefined,
  fallback: number,
  field: string,
  integer = false,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !(value >= 0) ||
    !Number.isFinite(value) ||
    (integer && !Number.isInteger(value))
  ) {
    throw invalidOption(
      field,
      `expected a ${integer ? 'whole ' : ''}number >= 0, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * A caching resolver. Construct once per configuration; safe for concurrent use.
 * Throws SocksUsageError (ERR_SOCKS_INVALID_OPTION) on bad options.
 */
export class DnsResolver {
  readonly #ares: dns.Resolver;
  readonly #family: FamilyPreference;
  readonly #cache = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<readonly IpAddress[]>>();
  readonly #cacheSize: number;
  readonly #minTtl: number;
  readonly #maxTtl: number;
  readonly #negativeTtl: number;
  readonly #systemTtl: number;
  readonly #systemFallback: boolean;
  readonly #now: () => number;
  readonly #system: SystemLookup;

  constructor(options: ResolverOptions = {}) {
    const d = resolverDefaults;
    const family = options.family ?? d.family;
    if (!['ipv4first', 'ipv6first', 'ipv4only', 'ipv6only'].includes(family)) {
      throw invalidOption('family', 'expected ipv4first, ipv6first, ipv4only or ipv6only');
    }
    this.#family = family;
    const timeout = positiveNumber(options.timeout, d.timeout, 'timeout', true);
    const tries = positiveNumber(options.tries, d.tries, 'tries', true);
    this.#ares = new dns.Resolver({ timeout, tries: Math.max(1, tries) });
    if (options.servers !== undefined) {
      try {
        this.#ares.setServers([...options.servers]);
      } catch (err) {
        throw invalidOption('servers', err instanceof Error ? err.message : String(err));
      }
    }
    this.#cacheSize = positiveNumber(options.cacheSize, d.cacheSize, 'cacheSize', true);
    this.#minTtl = positiveNumber(options.minTtl, d.minTtl, 'minTtl');
    this.#maxTtl = positiveNumber(options.maxTtl, d.maxTtl, 'maxTtl');
    if (this.#minTtl > this.#maxTtl) throw invalidOption('minTtl', 'must not exceed maxTtl');
    this.#negativeTtl = positiveNumber(options.negativeTtl, d.negativeTtl, 'negativeTtl');
    this.#systemTtl = positiveNumber(options.systemTtl, d.systemTtl, 'systemTtl');
    this.#systemFallback = options.systemFallback ?? d.systemFallback;
    this.#now = options.now ?? (() => performance.now());
    this.#system = options.systemLookup ?? ((name, opts) => dns.lookup(name, opts));
  }

  /** Names currently cached (positive and negative). */
  get size(): number {
    return this.#cache.size;
  }

  /** Forgets every cached answer (e.g. on reload). In-flight queries still complete. */
  clear(): void {
    this.#cache.clear();
  }

  /**
   * Resolves a destination host to canonical addresses, in family-preference order, without
   * duplicates. IP literals in any spelling return their canonical address with no DNS at all.
   * `localhost` and `*.localhost` go to the system resolver only (RFC 6761 §6.3: never to DNS);
   * `*.invalid` and `*.onion` fail at once (RFC 6761 §6.4, RFC 7686).
   * Rejects with SocksDialError: ERR_SOCKS_BAD_HOST for a host that is neither an address nor
   * a valid name, ERR_SOCKS_RESOLVE for every DNS failure (both reply 04; the DNS error is the
   * `cause`). When `signal` aborts, rejects with its reason (the shared query continues).
   */
  async resolve(host: string, options: { signal?: AbortLike } = {}): Promise<readonly IpAddress[]> {
    const target = normalizeHost(host);
    if (target.kind === 'invalid') throw invalidHostError(target.reason);
    if (target.kind === 'ip') return [target.ip];
    const name = target.name;
    if (/(^|\.)(invalid|onion)$/.test(name))
      throw resolveError(name, 'special-use name (RFC 6761, RFC 7686)');
    const cached = this.#fromCache(name);
    if (cached !== undefined) {
      if ('failure' in cached) throw resolveError(name, cached.failure, cached.cause);
      return cached.addresses;
    }
    let pending = this.#inflight.get(name);
    if (pending === undefined) {
      pending = this.#query(name).finally(() => this.#inflight.delete(name));
      this.#inflight.set(name, pending);
    }
    const signal = options.signal;
    if (signal === undefined) return pending;
    signal.throwIfAborted();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const reason: unknown = signal.reason;
        reject(reason instanceof Error ? reason : new DOMException('aborted', 'AbortError'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      pending.then(resolve, reject).finally(() => {
        signal.removeEventListener('abort', onAbort);
      });
    });
  }

  #fromCache(name: string): Entry | undefined {
    const entry = this.#cache.get(name);
    if (entry === undefined) return undefined;
    this.#cache.delete(name);
    if (entry.expires <= this.#now()) return undefined;
    this.#cache.set(name, entry); // most recently used goes last
    return entry;
  }

  #store(name: string, entry: Entry): void {
    if (this.#cacheSize === 0) return;
    this.#cache.delete(name);
    this.#cache.set(name, entry);
    while (this.#cache.size > this.#cacheSize) {
      const oldest = this.#cache.keys().next();
      if (oldest.done === true) break;
      this.#cache.delete(oldest.value);
    }
  }

  /** Canonical, family-filtered, preference-ordered, de-duplicated. */
  #arrange(addresses: readonly string[]): IpAddress[] {
    const seen = new Set<string>();
    const v4: IpAddress[] = [];
    const v6: IpAddress[] = [];
    for (const text of addresses) {
      const ip = parseObservedAddress(text);
      if (ip === undefined || seen.has(ip.address)) continue;
      seen.add(ip.address);
      (ip.family === 4 ? v4 : v6).push(ip);
    }
    switch (this.#family) {
      case 'ipv4first':
        return [...v4, ...v6];
      case 'ipv6first':
        return [...v6, ...v4];
      case 'ipv4only':
        return v4;
      case 'ipv6only':
        return v6;
    }
  }

  #ttl(seconds: number): number {
    return this.#now() + 1000 * Math.min(this.#maxTtl, Math.max(this.#minTtl, seconds));
  }

  async #query(name: string): Promise<readonly IpAddress[]> {
    const errors: unknown[] = [];
    const localhost = name === 'localhost' || name.endsWith('.localhost');
    if (!localhost) {
      const families =
        this.#family === 'ipv4only' ? [4] : this.#family === 'ipv6only' ? [6] : [4, 6];
      const answers = await Promise.allSettled(
        families.map((f) =>
          f === 4
            ? this.#ares.resolve4(name, { ttl: true })
            : this.#ares.resolve6(name, { ttl: true }),
        ),
      );
      const records = answers.flatMap((a) => (a.status === 'fulfilled' ? a.value : []));
      for (const a of answers) if (a.status === 'rejected') errors.push(a.reason);
      const addresses = this.#arrange(records.map((r) => r.address));
      if (addresses.length > 0) {
        // One family failing for a reason other than "no such records" (a timeout) caps the
        // entry's life, so the missing family is asked for again soon.
        const partial = errors.some((e) => !DEFINITE.has(codeOf(e)));
        const ttl = Math.min(...records.map((r) => r.ttl), partial ? this.#negativeTtl : Infinity);
        this.#store(name, { addresses, expires: this.#ttl(ttl) });
        return addresses;
      }
    }
    if (this.#systemFallback || localhost) {
      const family = this.#family === 'ipv4only' ? 4 : this.#family === 'ipv6only' ? 6 : 0;
      try {
        const found = this.#arrange(
          (await this.#system(name, { all: true, family })).map((a) => a.address),
        );
        if (found.length > 0) {
          this.#store(name, { addresses: found, expires: this.#now() + 1000 * this.#systemTtl });
          return found;
        }
        errors.push(Object.assign(new Error('no usable addresses'), { code: 'ENODATA' }));
      } catch (err) {
        errors.push(err);
      }
    }
    const codes = [...new Set(errors.map(codeOf))];
    const failure = codes.join(', ');
    const cause = errors.length === 1 ? errors[0] : new AggregateError(errors, failure);
    // Only "the name has no addresses" is remembered; a timeout or refused server is not.
    if (codes.every((c) => DEFINITE.has(c))) {
      this.#store(name, { failure, cause, expires: this.#now() + 1000 * this.#negativeTtl });
    }
    throw resolveError(name, failure, cause);
  }
}
