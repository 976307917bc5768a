/**
 * RFC 1928 §7 fragment reassembly for UDP ASSOCIATE, as a pure queue: no sockets, no timers —
 * the caller passes the time in and arms its own timer for {@link FragmentReassembler.deadline}.
 *
 * What §7 says: FRAG 01–7F is a fragment's position in a sequence, the high bit (80) marks the
 * last one. "A reassembly queue and a reassembly timer are associated with each fragment sequence.
 * The reassembly queue must be reinitialized and the associated fragments abandoned whenever the
 * REASSEMBLY TIMER expires, or a new datagram arrives carrying a FRAG field whose value is less
 * than the highest FRAG value processed for this fragment sequence. The reassembly timer MUST be
 * no less than 5 seconds."
 *
 * The header has no sequence identifier, so a client has one sequence in flight at a time and a
 * lower position is the only sign that a new one began. The rules here, in order:
 *
 * 1. The timer runs from a sequence's first fragment and is not extended; on expiry the queue is
 *    abandoned (`fragment-timeout`).
 * 2. A standalone datagram (FRAG 00) is "less than the highest FRAG processed": it abandons a
 *    queue in progress (`fragment-reset`) and is itself delivered as is.
 * 3. A position *equal to or* lower than the highest seen abandons the queue (`fragment-reset`)
 *    and starts a new one with this fragment. Equal counts too: a repeated position means either a
 *    new sequence or a duplicate, and accepting it could splice two datagrams into one.
 *    Consequently fragments must arrive in increasing order; a reordered fragment costs the
 *    datagram, never its integrity.
 * 4. Any fragment after the end-of-sequence fragment starts a new sequence (`fragment-reset`).
 * 5. A fragment naming another destination than the queue's first one abandons the queue
 *    (`fragment-mismatch`) and starts a new one: DST.ADDR/DST.PORT belong to the datagram.
 * 6. The end-of-sequence fragment completes the datagram when positions 1..n are all queued. With
 *    a gap, the queue waits for its timer (rule 1) or for rule 3 — no fragment can fill the gap,
 *    since it would carry a lower position.
 * 7. Caps: the reassembled size (`maxDatagramSize`) and the queued bytes of all queues sharing a
 *    {@link ByteBudget}. A fragment that would exceed either is dropped and its queue abandoned
 *    (`fragment-too-large`, `fragment-memory`).
 * 8. FRAG 80 (end-of-sequence with position 0) is not a valid position: dropped
 *    (`fragment-invalid`), the queue untouched.
 */
import type { SocksAddress } from './address.js';
import { FRAG_END_OF_SEQUENCE, FRAG_POSITION_MASK, FRAG_STANDALONE } from './udp.js';

/** Why fragments were dropped; stable names, used as counter labels. */
export type FragmentDropReason =
  | 'fragment-timeout'
  | 'fragment-reset'
  | 'fragment-mismatch'
  | 'fragment-too-large'
  | 'fragment-memory'
  | 'fragment-invalid'
  | 'fragment-closed';

/** A queue that was given up, and what it held. */
export interface AbandonedSequence {
  readonly reason: FragmentDropReason;
  /** Fragments (received datagrams) discarded. */
  readonly fragments: number;
  /** Their DATA octets. */
  readonly bytes: number;
}

/** What became of the datagram just pushed. */
export type FragmentOutcome =
  | { readonly type: 'queued' }
  | {
      readonly type: 'complete';
      readonly address: SocksAddress;
      readonly data: Uint8Array;
      /** Fragments joined; 1 for a standalone datagram. */
      readonly fragments: number;
    }
  | { readonly type: 'dropped'; readonly reason: FragmentDropReason };

export interface PushResult {
  readonly outcome: FragmentOutcome;
  /** The previous queue, when this datagram (or the clock) ended it. */
  readonly abandoned: AbandonedSequence | undefined;
}

/** Queued-bytes accounting shared by several queues (e.g. every association of a server). */
export interface ByteBudget {
  /** Takes `bytes` from the budget; false (and nothing taken) when they do not fit. */
  tryReserve(bytes: number): boolean;
  release(bytes: number): void;
}

/** A {@link ByteBudget} with a limit (which may be changed, e.g. on reload). */
export class ByteLimit implements ByteBudget {
  /** Octets that may be reserved; lowering it refuses new reservations, it takes nothing back. */
  limit: number;
  #used = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  get used(): number {
    return this.#used;
  }

  tryReserve(bytes: number): boolean {
    if (this.#used + bytes > this.limit) return false;
    this.#used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }
}

export interface ReassemblyOptions {
  /** The reassembly timer in ms (RFC 1928 §7: at least 5 s; the caller validates). */
  readonly timeout: number;
  /** Largest reassembled DATA in octets. */
  readonly maxDatagramSize: number;
  /** Shared cap on queued octets; default: only `maxDatagramSize` bounds this queue. */
  readonly budget?: ByteBudget | undefined;
}

interface Sequence {
  readonly address: SocksAddress;
  readonly deadline: number;
  readonly parts: Uint8Array[];
  highest: number;
  ended: boolean;
  bytes: number;
}

const unlimited: ByteBudget = { tryReserve: () => true, release: () => undefined };

function sameAddress(a: SocksAddress, b: SocksAddress): boolean {
  return a.type === b.type && a.port === b.port && a.host.toLowerCase() === b.host.toLowerCase();
}

function join(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * One association's reassembly queue (a client has one fragment sequence in flight at a time).
 * Fragment data is kept by reference until the datagram completes or is abandoned.
 */
export class FragmentReassembler {
  readonly #options: ReassemblyOptions;
  readonly #budget: ByteBudget;
  #sequence: Sequence | undefined;

  constructor(options: ReassemblyOptions) {
    this.#options = options;
    this.#budget = options.budget ?? unlimited;
  }

  /** When the current queue's timer expires (ms, the caller's clock); undefined when empty. */
  get deadline(): number | undefined {
    return this.#sequence?.deadline;
  }

  /** Octets queued now. */
  get queuedBytes(): number {
    return this.#sequence?.bytes ?? 0;
  }

  /** Fragments queued now. */
  get queuedFragments(): number {
    return this.#sequence?.parts.length ?? 0;
  }

  /**
   * Takes one client datagram (after its header was decoded): `frag` is the FRAG octet, `data` the
   * DATA after the header, `now` the caller's clock in ms.
   */
  push(frag: number, address: SocksAddress, data: Uint8Array, now: number): PushResult {
    let abandoned = this.expire(now);
    if (frag === FRAG_STANDALONE) {
      abandoned ??= this.#abandon('fragment-reset');
      return { outcome: { type: 'complete', address, data, fragments: 1 }, abandoned };
    }
    const position = frag & FRAG_POSITION_MASK;
    const last = (frag & FRAG_END_OF_SEQUENCE) !== 0;
    if (position === 0) {
      return { outcome: { type: 'dropped', reason: 'fragment-invalid' }, abandoned };
    }
    const current = this.#sequence;
    if (current !== undefined) {
      if (current.ended || position <= current.highest) {
        abandoned = this.#abandon('fragment-reset');
      } else if (!sameAddress(current.address, address)) {
        abandoned = this.#abandon('fragment-mismatch');
      }
    }
    const sequence = (this.#sequence ??= {
      address,
      deadline: now + this.#options.timeout,
      parts: [],
      highest: 0,
      ended: false,
      bytes: 0,
    });
    if (sequence.bytes + data.length > this.#options.maxDatagramSize) {
      return this.#refuse('fragment-too-large', abandoned);
    }
    if (!this.#budget.tryReserve(data.length)) return this.#refuse('fragment-memory', abandoned);
    sequence.parts.push(data);
    sequence.bytes += data.length;
    sequence.highest = position;
    sequence.ended = last;
    // Positions only ever increase within a queue (rule 3), so n parts ending at position n
    // are exactly 1..n.
    if (last && sequence.parts.length === position) {
      this.#sequence = undefined;
      this.#budget.release(sequence.bytes);
      return {
        outcome: {
          type: 'complete',
          address: sequence.address,
          data: join(sequence.parts, sequence.bytes),
          fragments: sequence.parts.length,
        },
        abandoned,
      };
    }
    return { outcome: { type: 'queued' }, abandoned };
  }

  /** Abandons the queue if its timer has expired by `now`. */
  expire(now: number): AbandonedSequence | undefined {
    const sequence = this.#sequence;
    if (sequence === undefined || now < sequence.deadline) return undefined;
    return this.#abandon('fragment-timeout');
  }

  /** Drops whatever is queued (the association is closing) and returns its budget. */
  clear(): AbandonedSequence | undefined {
    return this.#abandon('fragment-closed');
  }

  /** The fragment does not fit: its queue goes too, since the datagram can no longer complete. */
  #refuse(reason: FragmentDropReason, earlier: AbandonedSequence | undefined): PushResult {
    const dropped = this.#abandon(reason);
    // At most one queue is ever abandoned per push: the one just started here held nothing.
    const abandoned = dropped !== undefined && dropped.fragments > 0 ? dropped : earlier;
    return { outcome: { type: 'dropped', reason }, abandoned };
  }

  #abandon(reason: FragmentDropReason): AbandonedSequence | undefined {
    const sequence = this.#sequence;
    if (sequence === undefined) return undefined;
    this.#sequence = undefined;
    this.#budget.release(sequence.bytes);
    return { reason, fragments: sequence.parts.length, bytes: sequence.bytes };
  }
}
