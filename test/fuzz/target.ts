/**
 * What a fuzz target is, and the property checks every incremental decoder must pass. Adding a
 * decoder to the fuzzer is one `decoder(...)` line in targets.ts plus a corpus file.
 */
import { isDeepStrictEqual } from 'node:util';
import { NEED_MORE, type DecodeResult } from '../../src/protocol/decode.js';
import { SocksError, SocksProtocolError, SocksUsageError } from '../../src/errors.js';
import type { CorpusEntry } from './corpus.js';

/** A broken property: `property` names it (stable, for the report). */
export class PropertyFailure extends Error {
  readonly property: string;
  constructor(property: string, message: string) {
    super(`${property}: ${message}`);
    this.property = property;
  }
}

export function fail(property: string, message: string): never {
  throw new PropertyFailure(property, message);
}

export interface FuzzTarget {
  readonly name: string;
  /** Corpus files (test/fixtures/fuzz-corpus/<name>.txt) the inputs grow from. */
  readonly corpus: readonly string[];
  /** Generated inputs are cut to this many octets. */
  readonly maxInput: number;
  /** Inputs in flight at once (async targets); 1 by default. */
  readonly concurrency?: number;
  /** Relative share of a mixed run's inputs (decoders are cheap; sessions cost more). */
  readonly weight?: number;
  setup?(): Promise<void>;
  /** Fails when something outlived the inputs (sessions, sockets); called after the last one. */
  teardown?(): Promise<void>;
  /** Adjusts a corpus entry once set up (e.g. points `@port` fields at the harness's listener). */
  prepare?(entry: CorpusEntry): CorpusEntry;
  /** Throws when a corpus entry is not the valid message it claims to be (hand-written typos). */
  validate?(entry: Uint8Array): void;
  /** Checks one input delivered in pieces cut at `cuts`; throws when a property is broken. */
  check(input: Uint8Array, cuts: readonly number[]): void | Promise<void>;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Only ferry's typed errors may escape, and `allowed` says which part of the family. */
export function expectTyped(
  err: unknown,
  allowed: abstract new (...args: never[]) => SocksError,
): void {
  if (!(err instanceof SocksError)) {
    fail('typed-errors', `untyped ${describe(err)}`);
  }
  const typed: SocksError = err;
  const what = `${typed.name} ${typed.code} (${typed.message})`;
  if (!(typed instanceof allowed)) {
    fail('typed-errors', `${what} where only ${allowed.name} may be thrown`);
  }
  if (!/^ERR_SOCKS_[A-Z0-9_]+$/.test(typed.code)) fail('typed-errors', `odd code "${typed.code}"`);
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}\n${err.stack ?? ''}`;
  return `throw of ${typeof err} ${String(err)}`;
}

type Outcome<T> =
  { kind: 'value'; value: T; length: number } | { kind: 'more' } | { kind: 'error'; code: string };

function run<T>(decode: (b: Uint8Array) => DecodeResult<T>, bytes: Uint8Array): Outcome<T> {
  let r: DecodeResult<T>;
  try {
    r = decode(bytes);
  } catch (err) {
    expectTyped(err, SocksProtocolError);
    // An HTTP error's status is part of the answer, so part of what must not depend on chunking.
    const status = (err as { status?: unknown }).status;
    const code = (err as SocksError).code;
    return { kind: 'error', code: typeof status === 'number' ? `${code}/${status}` : code };
  }
  if (r === NEED_MORE) return { kind: 'more' };
  return { kind: 'value', value: r.value, length: r.length };
}

const show = (o: Outcome<unknown>): string =>
  o.kind === 'value'
    ? `a message of ${o.length} octets`
    : o.kind === 'more'
      ? 'NEED_MORE'
      : `error ${o.code}`;

export interface DecoderSpec<T> {
  readonly corpus: readonly string[];
  /**
   * The documented bound: with this many octets or more the decoder has decided (a message or an
   * error), so a caller never buffers more than this for one message.
   */
  readonly maxLength: number;
  /** The matching encoder: encode(decode(x)) must decode to the same value (or throw a usage error). */
  readonly encode?: (value: T) => Uint8Array;
  readonly weight?: number;
}

/**
 * Properties of an incremental decoder (DESIGN.md rule 2), for one input and its cut points:
 * - only SocksProtocolError escapes;
 * - the input is not modified;
 * - NEED_MORE only below `maxLength` (bounded buffering);
 * - a message's `length` is within the input, and decoding exactly those octets gives the same
 *   message (no look-ahead);
 * - chunking does not matter: every prefix gives NEED_MORE until the message is complete, and
 *   then the same message; an error on a prefix is the same error (code, and HTTP status) on the
 *   whole; NEED_MORE on the whole means NEED_MORE on every prefix;
 * - the encoder round-trips what was decoded.
 */
export function checkDecoder<T>(
  decode: (b: Uint8Array) => DecodeResult<T>,
  spec: DecoderSpec<T>,
  input: Uint8Array,
  cuts: readonly number[],
): void {
  const copy = input.slice();
  const whole = run(decode, input);
  if (!isDeepStrictEqual(copy, input)) fail('input-unmodified', `decoding changed ${hex(copy)}`);
  if (whole.kind === 'more' && input.length >= spec.maxLength) {
    fail(
      'bounded-buffering',
      `NEED_MORE with ${input.length} octets; the bound is ${spec.maxLength}`,
    );
  }
  if (whole.kind === 'value') {
    if (!Number.isInteger(whole.length) || whole.length < 1 || whole.length > input.length) {
      fail('length-in-input', `length ${whole.length} for ${input.length} octets`);
    }
    if (whole.length > spec.maxLength)
      fail('bounded-buffering', `a ${whole.length}-octet message; bound ${spec.maxLength}`);
    const exact = run(decode, input.subarray(0, whole.length));
    if (
      exact.kind !== 'value' ||
      exact.length !== whole.length ||
      !isDeepStrictEqual(exact.value, whole.value)
    ) {
      fail('no-look-ahead', `the message's own ${whole.length} octets gave ${show(exact)}`);
    }
  }
  const points = new Set(cuts);
  if (whole.kind === 'value') {
    points.add(whole.length - 1);
    points.add(whole.length);
  }
  let sawError = false;
  for (const c of [...points].filter((p) => p > 0 && p < input.length).sort((a, b) => a - b)) {
    const part = run(decode, input.subarray(0, c));
    const where = `prefix of ${c}/${input.length} octets gave ${show(part)} but the whole gave ${show(whole)}`;
    if (sawError && part.kind !== 'error')
      fail('chunking', `after an error on a shorter prefix, ${where}`);
    if (part.kind === 'error') sawError = true;
    switch (whole.kind) {
      case 'value':
        if (c < whole.length ? part.kind !== 'more' : !isDeepStrictEqual(part, whole))
          fail('chunking', where);
        break;
      case 'more':
        if (part.kind !== 'more') fail('chunking', where);
        break;
      case 'error':
        // The same bytes must get the same answer however they were cut.
        if (part.kind === 'value' || (part.kind === 'error' && part.code !== whole.code)) {
          fail('chunking', where);
        }
        break;
    }
  }
  if (whole.kind === 'value' && spec.encode !== undefined) {
    let encoded: Uint8Array;
    try {
      encoded = spec.encode(whole.value);
    } catch (err) {
      expectTyped(err, SocksUsageError);
      return;
    }
    const again = run(decode, encoded);
    if (
      again.kind !== 'value' ||
      again.length !== encoded.length ||
      !isDeepStrictEqual(again.value, whole.value)
    ) {
      fail('round-trip', `re-encoded as ${hex(encoded)}, decoded to ${show(again)}`);
    }
  }
}

/** Registers an incremental decoder as a fuzz target. */
export function decoder<T>(
  name: string,
  decode: (b: Uint8Array) => DecodeResult<T>,
  spec: DecoderSpec<T>,
): FuzzTarget {
  return {
    name,
    corpus: spec.corpus,
    maxInput: Math.min(spec.maxLength + 64, 4096),
    weight: spec.weight ?? 1,
    validate: (entry) => {
      const r = run(decode, entry);
      if (r.kind !== 'value' || r.length !== entry.length) {
        fail('corpus', `${hex(entry)} gave ${show(r)}, not one ${entry.length}-octet message`);
      }
    },
    check: (input, cuts) => {
      checkDecoder(decode, spec, input, cuts);
    },
  };
}

/**
 * Registers a decoder of whole messages (a datagram arrives whole): only typed errors, input
 * unmodified, and `verify` for what the value must satisfy.
 */
export function wholeDecoder<T>(
  name: string,
  decode: (b: Uint8Array) => T,
  spec: {
    corpus: readonly string[];
    maxInput: number;
    verify?: (value: T, input: Uint8Array) => void;
    weight?: number;
  },
): FuzzTarget {
  return {
    name,
    corpus: spec.corpus,
    maxInput: spec.maxInput,
    weight: spec.weight ?? 1,
    validate: (entry) => {
      try {
        decode(entry);
      } catch (err) {
        fail('corpus', `${hex(entry)} is not valid: ${String(err)}`);
      }
    },
    check: (input) => {
      const copy = input.slice();
      let value: T;
      try {
        value = decode(input);
      } catch (err) {
        expectTyped(err, SocksProtocolError);
        return;
      } finally {
        if (!isDeepStrictEqual(copy, input))
          fail('input-unmodified', `decoding changed ${hex(copy)}`);
      }
      spec.verify?.(value, input);
    },
  };
}
