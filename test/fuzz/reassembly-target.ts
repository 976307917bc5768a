/**
 * The RFC 1928 §7 reassembly queue as a fuzz target. An input is a sequence of records
 * `DT | LEN | datagram` (test/fixtures/fuzz-corpus/udp-reassembly.txt): the clock advances DT
 * seconds, then the datagram's header is decoded (a malformed one is skipped, as the relay drops
 * it) and pushed. Each outcome is compared with a reference queue written here from the rules in
 * the header comment of src/protocol/udp-reassembly.ts (and so from §7), and the accounting must
 * hold: the shared byte budget is exactly what is queued, never over its limit; no datagram
 * exceeds the size cap; a completed datagram is its fragments' DATA in order; every fragment's
 * octets end up delivered, abandoned, dropped or still queued; clear() returns the budget.
 */
import { isDeepStrictEqual } from 'node:util';
import { decodeUdpDatagram, type UdpDatagram } from '../../src/protocol/udp.js';
import {
  ByteLimit,
  FragmentReassembler,
  type FragmentDropReason,
} from '../../src/protocol/udp-reassembly.js';
import { SocksProtocolError } from '../../src/errors.js';
import { expectTyped, fail, type FuzzTarget } from './target.js';

const TIMEOUT_MS = 5_000;
const MAX_DATAGRAM = 64;
const BUDGET = 48;

type Expected =
  | { type: 'queued' }
  | { type: 'complete'; data: Buffer; fragments: number }
  | { type: 'dropped'; reason: FragmentDropReason };

interface RefSequence {
  key: string;
  deadline: number;
  parts: Buffer[];
  highest: number;
  ended: boolean;
}

/** The reference queue: the rules, restated independently of the implementation. */
class ReferenceQueue {
  seq: RefSequence | undefined;
  abandoned: FragmentDropReason[] = [];
  get bytes(): number {
    return this.seq?.parts.reduce((n, p) => n + p.length, 0) ?? 0;
  }
  #abandon(reason: FragmentDropReason): void {
    if (this.seq !== undefined && this.seq.parts.length > 0) this.abandoned.push(reason);
    this.seq = undefined;
  }
  push(frag: number, key: string, data: Buffer, now: number): Expected {
    // Rule 1: the timer, from the first fragment, is not extended.
    if (this.seq !== undefined && now >= this.seq.deadline) this.#abandon('fragment-timeout');
    // Rule 2: a standalone datagram resets a queue and is delivered as is.
    if (frag === 0) {
      this.#abandon('fragment-reset');
      return { type: 'complete', data, fragments: 1 };
    }
    const position = frag & 0x7f;
    const last = frag >= 0x80;
    // Rule 8: FRAG 80 is no position; the queue is untouched.
    if (position === 0) return { type: 'dropped', reason: 'fragment-invalid' };
    // Rules 3, 4, 5: a position not above the highest, anything after the end, or another
    // destination abandons the queue; this fragment starts a new one.
    if (this.seq !== undefined) {
      if (this.seq.ended || position <= this.seq.highest) this.#abandon('fragment-reset');
      else if (this.seq.key !== key) this.#abandon('fragment-mismatch');
    }
    this.seq ??= { key, deadline: now + TIMEOUT_MS, parts: [], highest: 0, ended: false };
    // Rule 7: the caps; the queue goes with the fragment that does not fit. This queue is the
    // budget's only user, so the budget is full when it holds BUDGET octets.
    if (this.bytes + data.length > MAX_DATAGRAM) {
      this.#abandon('fragment-too-large');
      return { type: 'dropped', reason: 'fragment-too-large' };
    }
    if (this.bytes + data.length > BUDGET) {
      this.#abandon('fragment-memory');
      return { type: 'dropped', reason: 'fragment-memory' };
    }
    this.seq.parts.push(data);
    this.seq.highest = position;
    this.seq.ended = last;
    // Rule 6: complete when the end arrives and positions 1..n are all there.
    if (last && this.seq.parts.length === position) {
      const done = this.seq;
      this.seq = undefined;
      return { type: 'complete', data: Buffer.concat(done.parts), fragments: done.parts.length };
    }
    return { type: 'queued' };
  }
}

const keyOf = (d: UdpDatagram): string =>
  `${d.address.type}|${d.address.host.toLowerCase()}|${d.address.port}`;

export const udpReassemblyTarget: FuzzTarget = {
  name: 'udp-reassembly',
  corpus: ['udp-reassembly'],
  maxInput: 700,
  validate: (entry) => {
    let at = 0;
    while (at < entry.length) {
      const len = entry[at + 1];
      if (len === undefined || at + 2 + len > entry.length)
        fail('corpus', `record at ${at} is cut`);
      decodeUdpDatagram(entry.subarray(at + 2, at + 2 + len));
      at += 2 + len;
    }
  },
  check: (input) => {
    const budget = new ByteLimit(BUDGET);
    const queue = new FragmentReassembler({
      timeout: TIMEOUT_MS,
      maxDatagramSize: MAX_DATAGRAM,
      budget,
    });
    const ref = new ReferenceQueue();
    let now = 1_000_000;
    let pushedBytes = 0;
    let outBytes = 0;
    let at = 0;
    for (let record = 0; at < input.length; record++) {
      now += (input[at] ?? 0) * 1000;
      const len = Math.min(input[at + 1] ?? 0, input.length - at - 2);
      const bytes = input.subarray(at + 2, at + 2 + Math.max(0, len));
      at += 2 + Math.max(0, len);
      let d: UdpDatagram;
      try {
        d = decodeUdpDatagram(bytes);
      } catch (err) {
        expectTyped(err, SocksProtocolError);
        continue;
      }
      const expected = ref.push(d.frag, keyOf(d), Buffer.from(d.data), now);
      let result;
      try {
        result = queue.push(d.frag, d.address, d.data, now);
      } catch (err) {
        return fail('no-throw', `push threw ${String(err)}`);
      }
      pushedBytes += d.data.length;
      const o = result.outcome;
      const got =
        o.type === 'complete'
          ? { type: o.type, data: Buffer.from(o.data), fragments: o.fragments }
          : o.type === 'dropped'
            ? { type: o.type, reason: o.reason }
            : { type: o.type };
      if (!isDeepStrictEqual(got, expected)) {
        fail(
          'reassembly',
          `record ${record} (FRAG ${d.frag.toString(16)}): got ${JSON.stringify(got)}, the rules say ${JSON.stringify(expected)}`,
        );
      }
      if (o.type === 'complete') {
        if (o.fragments > 1 && o.data.length > MAX_DATAGRAM)
          fail('bounded-buffering', `a ${o.data.length}-octet datagram; cap ${MAX_DATAGRAM}`);
        outBytes += o.data.length;
      } else if (o.type === 'dropped') {
        outBytes += d.data.length;
      }
      if (result.abandoned !== undefined) outBytes += result.abandoned.bytes;
      const abandonedReason = ref.abandoned.pop();
      ref.abandoned.length = 0;
      if (result.abandoned?.reason !== abandonedReason) {
        fail(
          'reassembly',
          `record ${record}: abandoned ${String(result.abandoned?.reason)}, the rules say ${String(abandonedReason)}`,
        );
      }
      if (budget.used !== queue.queuedBytes || queue.queuedBytes !== ref.bytes)
        fail(
          'accounting',
          `budget ${budget.used}, queued ${queue.queuedBytes}, reference ${ref.bytes}`,
        );
      if (budget.used > BUDGET || queue.queuedBytes > MAX_DATAGRAM)
        fail('bounded-buffering', `${queue.queuedBytes} octets queued`);
      if (pushedBytes !== outBytes + queue.queuedBytes)
        fail('accounting', `${pushedBytes} pushed ≠ ${outBytes} out + ${queue.queuedBytes} queued`);
    }
    const left = queue.clear();
    if ((left?.bytes ?? 0) !== ref.bytes || budget.used !== 0)
      fail('accounting', `clear(): ${String(left?.bytes)} octets, budget still ${budget.used}`);
  },
};
