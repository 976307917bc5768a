/**
 * RFC 1928 §7 fragment reassembly as a pure queue: no sockets, time passed in. Each rule of
 * src/protocol/udp-reassembly.ts has a test here, then fast-check properties.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ByteLimit,
  FragmentReassembler,
  type PushResult,
} from '../../src/protocol/udp-reassembly.js';
import type { SocksAddress } from '../../src/protocol/address.js';

const DST: SocksAddress = { type: 'ipv4', host: '127.0.0.1', port: 7 };
const OTHER: SocksAddress = { type: 'domain', host: 'example.test', port: 7 };
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
/** FRAG octets: position in the low seven bits, 0x80 on the last fragment. */
const LAST = 0x80;

function make(options: Partial<{ timeout: number; max: number; budget: ByteLimit }> = {}) {
  return new FragmentReassembler({
    timeout: options.timeout ?? 5000,
    maxDatagramSize: options.max ?? 65536,
    budget: options.budget,
  });
}

function completed(r: PushResult): string {
  if (r.outcome.type !== 'complete') assert.fail(`expected a datagram, got ${r.outcome.type}`);
  return text(r.outcome.data);
}

describe('fragment reassembly (RFC 1928 §7)', () => {
  it('a standalone datagram (FRAG 00) passes through untouched', () => {
    const q = make();
    const r = q.push(0x00, DST, bytes('whole'), 0);
    assert.equal(completed(r), 'whole');
    assert.equal(r.abandoned, undefined);
    assert.equal(q.deadline, undefined);
  });

  it('in order: 01, 02, 83 make one datagram to the first fragment’s destination', () => {
    const q = make();
    assert.deepEqual(q.push(0x01, DST, bytes('ab'), 0).outcome, { type: 'queued' });
    assert.equal(q.deadline, 5000, 'the timer starts with the first fragment');
    assert.deepEqual(q.push(0x02, DST, bytes('cd'), 100).outcome, { type: 'queued' });
    assert.equal(q.deadline, 5000, 'and is not extended by later ones');
    const r = q.push(0x03 | LAST, DST, bytes('ef'), 200);
    assert.deepEqual(r.outcome, {
      type: 'complete',
      address: DST,
      data: bytes('abcdef'),
      fragments: 3,
    });
    assert.equal(q.queuedBytes, 0);
    assert.equal(q.deadline, undefined);
  });

  it('a one-fragment sequence (81) is complete at once', () => {
    assert.equal(completed(make().push(0x01 | LAST, DST, bytes('solo'), 0)), 'solo');
  });

  it('out of order: 02 after 03 is a lower position — the sequence is abandoned, never spliced', () => {
    const q = make();
    q.push(0x01, DST, bytes('a'), 0);
    q.push(0x03, DST, bytes('c'), 0);
    const r = q.push(0x02, DST, bytes('b'), 0);
    assert.deepEqual(r.abandoned, { reason: 'fragment-reset', fragments: 2, bytes: 2 });
    assert.deepEqual(r.outcome, { type: 'queued' }, '02 starts a new queue');
    // The new queue can never complete (01 would be lower again); the end fragment does not
    // complete it either.
    const end = q.push(0x04 | LAST, DST, bytes('d'), 0);
    assert.deepEqual(end.outcome, { type: 'queued' });
    assert.deepEqual(q.expire(5000), { reason: 'fragment-timeout', fragments: 2, bytes: 2 });
  });

  it('a gap (01, 03+end) waits for the timer, which abandons it', () => {
    const q = make({ timeout: 5000 });
    q.push(0x01, DST, bytes('a'), 1000);
    assert.deepEqual(q.push(0x03 | LAST, DST, bytes('c'), 1500).outcome, { type: 'queued' });
    assert.equal(q.expire(5999), undefined, 'not before the timer');
    assert.deepEqual(q.expire(6000), { reason: 'fragment-timeout', fragments: 2, bytes: 2 });
    assert.equal(q.deadline, undefined);
  });

  it('an expired queue is abandoned by the next push too, which then starts afresh', () => {
    const q = make({ timeout: 5000 });
    q.push(0x01, DST, bytes('old'), 0);
    const r = q.push(0x02 | LAST, DST, bytes('late'), 5000);
    assert.deepEqual(r.abandoned, { reason: 'fragment-timeout', fragments: 1, bytes: 3 });
    assert.deepEqual(r.outcome, { type: 'queued' }, 'a lone 82 cannot complete');
  });

  it('a lower position resets the queue and a new sequence then completes', () => {
    const q = make();
    q.push(0x01, DST, bytes('x1'), 0);
    q.push(0x02, DST, bytes('x2'), 0);
    const r = q.push(0x01, DST, bytes('y1'), 0);
    assert.deepEqual(r.abandoned, { reason: 'fragment-reset', fragments: 2, bytes: 4 });
    q.push(0x02, DST, bytes('y2'), 0);
    assert.equal(completed(q.push(0x03 | LAST, DST, bytes('y3'), 0)), 'y1y2y3');
  });

  it('a repeated position resets too (a duplicate could splice two datagrams)', () => {
    const q = make();
    q.push(0x01, DST, bytes('a'), 0);
    const r = q.push(0x01, DST, bytes('A'), 0);
    assert.deepEqual(r.abandoned, { reason: 'fragment-reset', fragments: 1, bytes: 1 });
    assert.equal(completed(q.push(0x02 | LAST, DST, bytes('B'), 0)), 'AB');
  });

  it('a standalone datagram in the middle abandons the sequence (FRAG 00 < highest)', () => {
    const q = make();
    q.push(0x01, DST, bytes('a'), 0);
    const r = q.push(0x00, DST, bytes('own'), 0);
    assert.equal(completed(r), 'own');
    assert.deepEqual(r.abandoned, { reason: 'fragment-reset', fragments: 1, bytes: 1 });
  });

  it('a fragment after the end fragment starts a new sequence', () => {
    const q = make();
    q.push(0x01, DST, bytes('a'), 0);
    q.push(0x03 | LAST, DST, bytes('c'), 0); // gap: waits
    const r = q.push(0x04, DST, bytes('d'), 0);
    assert.deepEqual(r.abandoned, { reason: 'fragment-reset', fragments: 2, bytes: 2 });
  });

  it('another destination mid-sequence abandons the queue and starts a new one', () => {
    const q = make();
    q.push(0x01, DST, bytes('a'), 0);
    const r = q.push(0x02, OTHER, bytes('b'), 0);
    assert.deepEqual(r.abandoned, { reason: 'fragment-mismatch', fragments: 1, bytes: 1 });
    assert.equal(q.queuedFragments, 1);
  });

  it('FRAG 80 (last, position 0) is invalid: dropped, the queue untouched', () => {
    const q = make();
    q.push(0x01, DST, bytes('a'), 0);
    const r = q.push(LAST, DST, bytes('?'), 0);
    assert.deepEqual(r, {
      outcome: { type: 'dropped', reason: 'fragment-invalid' },
      abandoned: undefined,
    });
    assert.equal(completed(q.push(0x02 | LAST, DST, bytes('b'), 0)), 'ab');
  });

  it('the reassembled size is capped: the fragment that exceeds it takes its queue down', () => {
    const q = make({ max: 10 });
    q.push(0x01, DST, new Uint8Array(6), 0);
    const r = q.push(0x02, DST, new Uint8Array(5), 0);
    assert.deepEqual(r.outcome, { type: 'dropped', reason: 'fragment-too-large' });
    assert.deepEqual(r.abandoned, { reason: 'fragment-too-large', fragments: 1, bytes: 6 });
    assert.equal(q.queuedBytes, 0);
    // Exactly at the cap is fine.
    q.push(0x01, DST, new Uint8Array(6), 0);
    assert.equal(q.push(0x02 | LAST, DST, new Uint8Array(4), 0).outcome.type, 'complete');
  });

  it('queued bytes are capped across queues sharing a budget, and returned when done', () => {
    const budget = new ByteLimit(8);
    const a = make({ budget });
    const b = make({ budget });
    a.push(0x01, DST, new Uint8Array(5), 0);
    assert.equal(budget.used, 5);
    const r = b.push(0x01, DST, new Uint8Array(4), 0);
    assert.deepEqual(r.outcome, { type: 'dropped', reason: 'fragment-memory' });
    assert.equal(r.abandoned, undefined, 'b had nothing queued');
    assert.equal(b.push(0x01, DST, new Uint8Array(3), 0).outcome.type, 'queued');
    assert.equal(budget.used, 8);
    a.push(0x02 | LAST, DST, new Uint8Array(0), 0); // completes: releases 5
    assert.equal(budget.used, 3);
    assert.deepEqual(b.clear(), { reason: 'fragment-closed', fragments: 1, bytes: 3 });
    assert.equal(budget.used, 0);
  });

  it('the expiry is exact to the millisecond given (no clock of its own)', () => {
    const q = make({ timeout: 7000 });
    q.push(0x01, DST, bytes('a'), 123);
    assert.equal(q.deadline, 7123);
    assert.equal(q.expire(7122), undefined);
    assert.ok(q.expire(7123));
  });
});

describe('fragment reassembly properties', () => {
  const fragOctet = fc.oneof(
    fc.constant(0),
    fc.integer({ min: 1, max: 127 }),
    fc.integer({ min: 0x80, max: 0xff }),
  );
  const step = fc.record({
    frag: fragOctet,
    size: fc.integer({ min: 0, max: 40 }),
    dt: fc.integer({ min: 0, max: 3000 }),
    other: fc.boolean(),
  });

  it('any sequence: budget never exceeded, always returned, every datagram accounted for', () => {
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 60 }),
        fc.integer({ min: 1, max: 200 }),
        (steps, limit) => {
          const budget = new ByteLimit(limit);
          const q = make({ timeout: 5000, max: 100, budget });
          let now = 0;
          let pushed = 0;
          let accounted = 0;
          for (const s of steps) {
            now += s.dt;
            pushed++;
            const r = q.push(s.frag, s.other ? OTHER : DST, new Uint8Array(s.size), now);
            accounted += r.abandoned?.fragments ?? 0;
            if (r.outcome.type === 'complete') accounted += r.outcome.fragments;
            else if (r.outcome.type === 'dropped') accounted += 1;
            assert.ok(budget.used <= limit);
            assert.ok(q.queuedBytes <= 100);
            assert.equal(budget.used, q.queuedBytes);
          }
          accounted += q.clear()?.fragments ?? 0;
          assert.equal(budget.used, 0);
          assert.equal(accounted, pushed, 'each datagram is delivered, dropped or abandoned once');
        },
      ),
    );
  });

  it('a whole sequence in order, in time, is delivered intact, whatever came before', () => {
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 10 }),
        fc.array(fc.uint8Array({ maxLength: 30 }), { minLength: 1, maxLength: 127 }),
        (noise, parts) => {
          const q = make({ max: 1 << 20 });
          let now = 0;
          for (const s of noise) q.push(s.frag, DST, new Uint8Array(s.size), (now += s.dt));
          let result: PushResult | undefined;
          parts.forEach((p, i) => {
            const last = i === parts.length - 1 ? LAST : 0;
            result = q.push((i + 1) | last, DST, p, now);
          });
          assert.ok(result !== undefined && result.outcome.type === 'complete');
          assert.deepEqual(result.outcome.data, Uint8Array.from(parts.flatMap((p) => [...p])));
        },
      ),
    );
  });
});
