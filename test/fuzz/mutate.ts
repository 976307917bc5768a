/**
 * Mutation operators: bit flips, interesting octets, truncation, inflated and zeroed length
 * fields (binary and decimal), splices and concatenations of corpus messages, insertions,
 * deletions and repeats — stacked a few at a time (AFL's "havoc"), plus random chunking of the
 * result for delivery. Pure functions of the Rng, so every input can be regenerated.
 */
import type { CorpusEntry, LengthField } from './corpus.js';
import type { Rng } from './rng.js';

const INTERESTING_8 = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x7f, 0x80, 0xfe, 0xff];
const INTERESTING_16 = [0x0000, 0x0001, 0x00ff, 0x0100, 0x7fff, 0x8000, 0xfffe, 0xffff];
const DECIMAL = [
  '0',
  '00',
  '-1',
  '1',
  '65535',
  '65536',
  '4294967296',
  '18446744073709551616',
  '99999999999999999999999',
  '1e3',
  '0x10',
  ' 5',
  '+5',
  '',
];

/** Everything about one generated input, for the report and the regression file. */
export interface Mutation {
  readonly bytes: Uint8Array;
  /** Prefix lengths at which the input is cut for delivery (ascending, within the input). */
  readonly cuts: readonly number[];
  /** Corpus entry the input grew from, and the operators applied. */
  readonly base: string;
  readonly operators: readonly string[];
}

export interface MutateOptions {
  /** Entries of the target's own corpus (bases and preferred splice donors). */
  readonly own: readonly CorpusEntry[];
  /** Every corpus entry (cross-protocol splice donors). */
  readonly all: readonly CorpusEntry[];
  /** Inputs are cut to this length. */
  readonly maxLength: number;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function setLength(bytes: Uint8Array, field: LengthField, value: number | string): Uint8Array {
  if (field.offset + field.size > bytes.length) return bytes;
  if (field.kind === 'decimal') {
    const text = typeof value === 'string' ? value : String(value);
    const enc = Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
    return concat(bytes.subarray(0, field.offset), enc, bytes.subarray(field.offset + field.size));
  }
  const out = bytes.slice();
  let v = typeof value === 'number' ? value : 0;
  for (let i = field.size - 1; i >= 0; i--) {
    out[field.offset + i] = v & 0xff;
    v = Math.floor(v / 256);
  }
  return out;
}

function readLength(bytes: Uint8Array, field: LengthField): number {
  let v = 0;
  for (let i = 0; i < field.size; i++) v = v * 256 + (bytes[field.offset + i] ?? 0);
  return field.kind === 'decimal'
    ? Number(String.fromCharCode(...bytes.subarray(field.offset, field.offset + field.size)))
    : v;
}

type Operator = (bytes: Uint8Array, rng: Rng, fields: readonly LengthField[]) => Uint8Array;

/** The operators by name; each returns a new array (or the same one when it cannot apply). */
export const operators: Readonly<Record<string, Operator>> = {
  'flip-bits': (b, rng) => {
    if (b.length === 0) return b;
    const out = b.slice();
    for (let n = rng.between(1, 4); n > 0; n--) {
      const i = rng.below(out.length);
      out[i] = (out[i] ?? 0) ^ (1 << rng.below(8));
    }
    return out;
  },
  'interesting-octet': (b, rng) => {
    if (b.length === 0) return b;
    const out = b.slice();
    out[rng.below(out.length)] = rng.pick(INTERESTING_8);
    return out;
  },
  'interesting-16': (b, rng) => {
    if (b.length < 2) return b;
    const out = b.slice();
    const i = rng.below(out.length - 1);
    const v = rng.pick(INTERESTING_16);
    out[i] = v >>> 8;
    out[i + 1] = v & 0xff;
    return out;
  },
  arith: (b, rng) => {
    if (b.length === 0) return b;
    const out = b.slice();
    const i = rng.below(out.length);
    out[i] = ((out[i] ?? 0) + rng.between(-16, 16)) & 0xff;
    return out;
  },
  truncate: (b, rng) => (b.length === 0 ? b : b.subarray(0, rng.below(b.length))),
  'inflate-length': (b, rng, fields) => {
    const field = fields.length > 0 ? rng.pick(fields) : undefined;
    if (field === undefined) return b;
    if (field.kind === 'decimal') return setLength(b, field, rng.pick(DECIMAL));
    const max = 256 ** field.size - 1;
    const current = readLength(b, field);
    const choice = rng.below(4);
    const value =
      choice === 0
        ? max
        : choice === 1
          ? Math.min(max, current + rng.between(1, 16))
          : choice === 2
            ? Math.min(max, current * 2 + 1)
            : rng.below(max + 1);
    return setLength(b, field, value);
  },
  'zero-length': (b, rng, fields) => {
    const field = fields.length > 0 ? rng.pick(fields) : undefined;
    if (field === undefined) return b;
    return setLength(b, field, field.kind === 'decimal' ? '0' : 0);
  },
  'shrink-length': (b, rng, fields) => {
    const field = fields.length > 0 ? rng.pick(fields) : undefined;
    if (field === undefined || field.kind === 'decimal') return b;
    return setLength(b, field, Math.max(0, readLength(b, field) - rng.between(1, 8)));
  },
  insert: (b, rng) => {
    const at = rng.below(b.length + 1);
    return concat(b.subarray(0, at), rng.bytes(rng.between(1, 16)), b.subarray(at));
  },
  delete: (b, rng) => {
    if (b.length === 0) return b;
    const at = rng.below(b.length);
    const n = rng.between(1, Math.min(16, b.length - at));
    return concat(b.subarray(0, at), b.subarray(at + n));
  },
  grow: (b, rng) => {
    // Long inputs reach the decoders' bounds (a missing terminator, a length at its maximum).
    const n = rng.between(1, 600);
    const fill = rng.chance(0.5) ? rng.bytes(n) : new Uint8Array(n).fill(rng.pick(INTERESTING_8));
    return concat(b, fill);
  },
  repeat: (b, rng) => {
    if (b.length === 0) return b;
    const at = rng.below(b.length);
    const n = rng.between(1, Math.min(32, b.length - at));
    const chunk = b.subarray(at, at + n);
    const times = rng.between(1, 8);
    return concat(
      b.subarray(0, at + n),
      ...Array<Uint8Array>(times).fill(chunk),
      b.subarray(at + n),
    );
  },
};

const operatorNames = Object.keys(operators);

/**
 * One input: a corpus base (sometimes left intact: valid messages must keep working), 1–4 stacked
 * operators or a splice/concatenation with another corpus message, cut to `maxLength`, and cut
 * points for delivery.
 */
export function mutate(rng: Rng, options: MutateOptions): Mutation {
  const baseEntry = rng.pick(options.own);
  let bytes = baseEntry.bytes;
  let fields = baseEntry.lengthFields;
  const applied: string[] = [];
  const roll = rng.below(20);
  if (roll === 0) {
    applied.push('none');
  } else if (roll <= 3) {
    // Splice: the head of one message on the tail of another (same protocol mostly).
    const donor = rng.chance(0.7) ? rng.pick(options.own) : rng.pick(options.all);
    const cutA = rng.below(bytes.length + 1);
    const cutB = rng.below(donor.bytes.length + 1);
    bytes = concat(bytes.subarray(0, cutA), donor.bytes.subarray(cutB));
    fields = fields.filter((f) => f.offset + f.size <= cutA);
    applied.push(`splice:${donor.id}`);
  } else if (roll === 4) {
    // Pipelining: whole messages back to back.
    const donor = rng.chance(0.8) ? rng.pick(options.own) : rng.pick(options.all);
    bytes = concat(bytes, donor.bytes);
    applied.push(`concat:${donor.id}`);
  }
  if (roll !== 0) {
    for (let n = roll <= 4 ? rng.below(3) : rng.between(1, 4); n > 0; n--) {
      const name = rng.pick(operatorNames);
      const op = operators[name];
      if (op === undefined) continue;
      const before = bytes.length;
      bytes = op(bytes, rng, fields);
      applied.push(name);
      // Offsets of length fields only hold while the layout before them is unchanged.
      if (bytes.length !== before) fields = fields.filter((f) => f.offset + f.size <= bytes.length);
    }
  }
  if (bytes.length > options.maxLength) bytes = bytes.subarray(0, options.maxLength);
  return {
    bytes: bytes.slice(),
    cuts: chunking(rng, bytes.length),
    base: baseEntry.id,
    operators: applied,
  };
}

/** Random delivery: one piece, a few random cuts, or (short inputs) every octet alone. */
export function chunking(rng: Rng, length: number): number[] {
  if (length <= 1) return [];
  const mode = rng.below(8);
  if (mode === 0) return [];
  if (mode === 1 && length <= 600) return Array.from({ length: length - 1 }, (_, i) => i + 1);
  const cuts = new Set<number>();
  for (let n = rng.between(1, 6); n > 0; n--) cuts.add(rng.between(1, length - 1));
  return [...cuts].sort((a, b) => a - b);
}

/** The pieces an input is delivered in. */
export function pieces(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    if (c > at) out.push(bytes.subarray(at, c));
    at = Math.max(at, c);
  }
  return out;
}
