/**
 * Runs fuzz targets: generates input `i` of target `T` from (seed, T, i) alone, checks it, and
 * keeps every failing input as a regression vector in test/fixtures/fuzz-regressions. Two modes:
 * a fixed number of inputs per target (the short run in `npm test`), or a time budget shared by
 * the targets in proportion to their weight (`npm run fuzz -- --minutes N`).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allCorpora, corpus, type CorpusEntry } from './corpus.js';
import { mutate, type Mutation } from './mutate.js';
import { hashString, Rng } from './rng.js';
import { PropertyFailure, type FuzzTarget } from './target.js';

export const REGRESSION_DIR = fileURLToPath(
  new URL('../fixtures/fuzz-regressions/', import.meta.url),
);

/** One failing input, as saved. */
export interface RegressionVector {
  readonly target: string;
  readonly property: string;
  readonly message: string;
  /** The input, hex. */
  readonly input: string;
  readonly cuts: readonly number[];
  readonly seed: number;
  readonly index: number;
  readonly base: string;
  readonly operators: readonly string[];
  readonly found: string;
}

export interface TargetStats {
  readonly name: string;
  inputs: number;
  failures: number;
  ms: number;
}

export interface RunOptions {
  readonly seed: number;
  readonly targets: readonly FuzzTarget[];
  /** Count mode: inputs per target (a target's own `inputs` option overrides). */
  readonly inputs?: (target: FuzzTarget) => number;
  /** Time mode: stop at this `Date.now()`. */
  readonly deadline?: number;
  /** Write each failure to test/fixtures/fuzz-regressions (default true). */
  readonly save?: boolean;
  /** Stop a target after this many failures (default 5). */
  readonly maxFailuresPerTarget?: number;
  readonly onFailure?: (vector: RegressionVector) => void;
  readonly onProgress?: (stats: readonly TargetStats[]) => void;
}

export interface RunResult {
  readonly stats: readonly TargetStats[];
  readonly failures: readonly RegressionVector[];
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Input `index` of `target`, exactly as every run generates it. */
export function generate(
  target: FuzzTarget,
  entries: readonly CorpusEntry[],
  all: readonly CorpusEntry[],
  seed: number,
  index: number,
): Mutation {
  const rng = new Rng(seed, hashString(target.name), index);
  return mutate(rng, { own: entries, all, maxLength: target.maxInput });
}

/** Prepared corpus entries of a target (after setup, so `prepare` can see its listener). */
export function entriesOf(target: FuzzTarget): CorpusEntry[] {
  const entries = target.corpus.flatMap((c) => corpus(c));
  return target.prepare === undefined ? entries : entries.map((e) => target.prepare!(e));
}

function toVector(
  target: FuzzTarget,
  m: Mutation,
  seed: number,
  index: number,
  err: unknown,
): RegressionVector {
  const property = err instanceof PropertyFailure ? err.property : 'exception';
  const message =
    err instanceof Error
      ? `${err.message}${err instanceof PropertyFailure ? '' : `\n${err.stack ?? ''}`}`
      : String(err);
  return {
    target: target.name,
    property,
    message: message.slice(0, 2000),
    input: hex(m.bytes),
    cuts: m.cuts,
    seed,
    index,
    base: m.base,
    operators: m.operators,
    found: new Date().toISOString(),
  };
}

/** Saves a failing input (once: the file name is a hash of target, input and cuts). */
export function saveVector(v: RegressionVector): string {
  mkdirSync(REGRESSION_DIR, { recursive: true });
  const id = hashString(`${v.target}|${v.input}|${v.cuts.join(',')}`)
    .toString(16)
    .padStart(8, '0');
  const file = join(REGRESSION_DIR, `${v.target}-${id}.json`);
  writeFileSync(file, `${JSON.stringify(v, null, 2)}\n`);
  return file;
}

/** Every saved regression vector. */
export function loadVectors(): { file: string; vector: RegressionVector }[] {
  let names: string[];
  try {
    names = readdirSync(REGRESSION_DIR)
      .filter((f) => f.endsWith('.json'))
      .sort();
  } catch {
    return [];
  }
  return names.map((f) => ({
    file: f,
    vector: JSON.parse(readFileSync(join(REGRESSION_DIR, f), 'utf8')) as RegressionVector,
  }));
}

export async function runFuzz(options: RunOptions): Promise<RunResult> {
  const all = allCorpora();
  const failures: RegressionVector[] = [];
  const stats: TargetStats[] = options.targets.map((t) => ({
    name: t.name,
    inputs: 0,
    failures: 0,
    ms: 0,
  }));
  const next = options.targets.map(() => 0);
  const maxFailures = options.maxFailuresPerTarget ?? 5;
  const record = (
    target: FuzzTarget,
    s: TargetStats,
    m: Mutation,
    index: number,
    err: unknown,
  ): void => {
    s.failures++;
    const v = toVector(target, m, options.seed, index, err);
    failures.push(v);
    if (options.save !== false) saveVector(v);
    options.onFailure?.(v);
  };

  for (const t of options.targets) await t.setup?.();
  try {
    const entries = options.targets.map((t) => entriesOf(t));
    const done = (i: number): boolean => {
      const t = options.targets[i]!;
      if (stats[i]!.failures >= maxFailures) return true;
      if (options.inputs !== undefined) return next[i]! >= options.inputs(t);
      return false;
    };
    /** Runs target i until `until` (ms) or its count is reached. */
    const slice = async (i: number, until: number): Promise<void> => {
      const t = options.targets[i]!;
      const s = stats[i]!;
      const started = Date.now();
      const concurrency = t.concurrency ?? 1;
      const inFlight = new Set<Promise<void>>();
      while (!done(i) && Date.now() < until) {
        const index = next[i]!;
        next[i] = index + 1;
        const m = generate(t, entries[i]!, all, options.seed, index);
        let result: void | Promise<void>;
        try {
          result = t.check(m.bytes, m.cuts);
        } catch (err) {
          s.inputs++;
          record(t, s, m, index, err);
          continue;
        }
        if (result === undefined) {
          s.inputs++;
          continue;
        }
        const p: Promise<void> = result.then(
          () => {
            s.inputs++;
          },
          (err: unknown) => {
            s.inputs++;
            record(t, s, m, index, err);
          },
        );
        const tracked = p.finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
        if (inFlight.size >= concurrency) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      s.ms += Date.now() - started;
    };

    if (options.deadline === undefined) {
      for (let i = 0; i < options.targets.length; i++) await slice(i, Number.POSITIVE_INFINITY);
    } else {
      // Time mode: rounds in which each target gets a slice in proportion to its weight.
      let lastProgress = Date.now();
      while (Date.now() < options.deadline && options.targets.some((_, i) => !done(i))) {
        for (let i = 0; i < options.targets.length && Date.now() < options.deadline; i++) {
          const weight = options.targets[i]!.weight ?? 1;
          await slice(i, Math.min(options.deadline, Date.now() + 250 * weight));
          if (Date.now() - lastProgress >= 10_000) {
            lastProgress = Date.now();
            options.onProgress?.(stats);
          }
        }
      }
    }
  } finally {
    for (const t of options.targets) {
      try {
        await t.teardown?.();
      } catch (err) {
        const s = stats.find((x) => x.name === t.name)!;
        record(
          t,
          s,
          { bytes: new Uint8Array(0), cuts: [], base: '(teardown)', operators: [] },
          -1,
          err,
        );
      }
    }
  }
  options.onProgress?.(stats);
  return { stats, failures };
}

/** Re-checks one saved vector against its target (set up and torn down around it). */
export async function replay(target: FuzzTarget, vector: RegressionVector): Promise<void> {
  await target.setup?.();
  try {
    await target.check(Uint8Array.from(Buffer.from(vector.input, 'hex')), vector.cuts);
  } finally {
    await target.teardown?.();
  }
}
