/**
 * Domain destinations of one UDP association: a small answer cache so that a stream of datagrams
 * to one name costs one lookup, and a bounded queue for datagrams that arrive while their name is
 * being resolved (beyond the bound they are dropped, not buffered: a flood cannot grow it).
 */
import type { IpAddress } from '../rules/index.js';

/** What resolves names: the server's DnsResolver (src/dial/resolver.ts) fits. */
export interface NameResolver {
  resolve(host: string): Promise<readonly IpAddress[]>;
}

export interface PendingDatagram {
  readonly port: number;
  readonly data: Uint8Array;
}

export interface NameCacheOptions {
  readonly resolver: NameResolver;
  /** Most names remembered. Default 64. */
  readonly maxNames?: number;
  /** How long an answer is reused, ms. Default 30 000. */
  readonly ttl?: number;
  /** How long a failure is remembered, ms. Default 5 000. */
  readonly negativeTtl?: number;
  /** Most datagrams waiting for names, and their octets. Default 64 and 256 KiB. */
  readonly maxPending?: number;
  readonly maxPendingBytes?: number;
  /** Called once per lookup with its answer (undefined on failure) and the datagrams it held. */
  readonly onResolved: (
    name: string,
    answer: readonly IpAddress[] | undefined,
    datagrams: readonly PendingDatagram[],
  ) => void;
}

interface Entry {
  readonly answer: readonly IpAddress[] | undefined;
  readonly expires: number;
}

export class NameCache {
  readonly #options: NameCacheOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #pending = new Map<string, PendingDatagram[]>();
  #pendingCount = 0;
  #pendingBytes = 0;
  #closed = false;

  constructor(options: NameCacheOptions) {
    this.#options = options;
  }

  /** A cached answer; `null` for a remembered failure; undefined when the name must be looked up. */
  get(host: string): readonly IpAddress[] | null | undefined {
    const entry = this.#entries.get(host);
    if (entry === undefined) return undefined;
    if (entry.expires <= Date.now()) {
      this.#entries.delete(host);
      return undefined;
    }
    return entry.answer ?? null;
  }

  /**
   * Holds a datagram until `host` resolves, starting the lookup if none is in flight. Returns
   * false (the datagram is not kept) when the waiting queue is full.
   */
  wait(host: string, datagram: PendingDatagram): boolean {
    const maxPending = this.#options.maxPending ?? 64;
    const maxBytes = this.#options.maxPendingBytes ?? 256 * 1024;
    if (
      this.#closed ||
      this.#pendingCount >= maxPending ||
      this.#pendingBytes + datagram.data.length > maxBytes
    ) {
      return false;
    }
    this.#pendingCount++;
    this.#pendingBytes += datagram.data.length;
    const queue = this.#pending.get(host);
    if (queue !== undefined) {
      queue.push(datagram);
      return true;
    }
    this.#pending.set(host, [datagram]);
    void this.#lookup(host);
    return true;
  }

  /** Forgets waiting datagrams (the association ends); returns how many there were. */
  close(): number {
    this.#closed = true;
    const dropped = this.#pendingCount;
    this.#pending.clear();
    this.#pendingCount = 0;
    this.#pendingBytes = 0;
    return dropped;
  }

  async #lookup(host: string): Promise<void> {
    let answer: readonly IpAddress[] | undefined;
    try {
      answer = await this.#options.resolver.resolve(host);
      if (answer.length === 0) answer = undefined;
    } catch {
      answer = undefined;
    }
    if (this.#closed) return;
    this.#remember(host, answer);
    const datagrams = this.#pending.get(host) ?? [];
    this.#pending.delete(host);
    for (const d of datagrams) {
      this.#pendingCount--;
      this.#pendingBytes -= d.data.length;
    }
    this.#options.onResolved(host, answer, datagrams);
  }

  #remember(host: string, answer: readonly IpAddress[] | undefined): void {
    const ttl =
      answer === undefined ? (this.#options.negativeTtl ?? 5_000) : (this.#options.ttl ?? 30_000);
    this.#entries.delete(host);
    this.#entries.set(host, { answer, expires: Date.now() + ttl });
    const max = this.#options.maxNames ?? 64;
    while (this.#entries.size > max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }
}
