/**
 * Small, exact statistics for the benchmark. Pure: numbers in, numbers out.
 */

/**
 * The p-th percentile (0..100) of `values` by linear interpolation between closest ranks (the
 * method NumPy calls "linear", R type 7): p0 is the minimum, p100 the maximum, p50 of an even-sized
 * sample is the mean of the two middle values. NaN for an empty sample.
 * @throws RangeError when p is outside 0..100.
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be 0..100, got ${p}`);
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return percentileOfSorted(sorted, p);
}

/** Like {@link percentile} for an already ascending-sorted sample (no copy, no sort). */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = (p / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, n - 1);
  const a = sorted[lo] ?? Number.NaN;
  const b = sorted[hi] ?? Number.NaN;
  return a + (b - a) * (rank - lo);
}

/** Median of the finite values (NaN and ±Infinity are ignored); NaN when none are finite. */
export function median(values: readonly number[]): number {
  return percentile(
    values.filter((v) => Number.isFinite(v)),
    50,
  );
}

/** Relative spread of a set of repeated measurements: (max - min) / median, NaN if undefined. */
export function relativeSpread(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length < 2) return Number.NaN;
  const m = median(finite);
  if (m === 0) return Number.NaN;
  return (Math.max(...finite) - Math.min(...finite)) / Math.abs(m);
}

/** a / b, or NaN when either is not a finite number or b is 0. */
export function ratio(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) {
    return Number.NaN;
  }
  return a / b;
}

/**
 * Collects latency samples (ms) into a growable Float64Array, so that a tight loop recording
 * tens of thousands of samples allocates nothing per sample.
 */
export class SampleBuffer {
  #data: Float64Array;
  #length = 0;

  constructor(initialCapacity = 4096) {
    this.#data = new Float64Array(Math.max(16, initialCapacity));
  }

  get length(): number {
    return this.#length;
  }

  push(value: number): void {
    if (this.#length === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#length++] = value;
  }

  /** p50/p99/mean/max of what was pushed (NaN for each when empty). */
  summary(): LatencySummary {
    const sorted = this.#data.slice(0, this.#length).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      samples: this.#length,
      p50: percentileOfSorted(sorted, 50),
      p99: percentileOfSorted(sorted, 99),
      mean: this.#length === 0 ? Number.NaN : sum / this.#length,
      max: this.#length === 0 ? Number.NaN : (sorted[this.#length - 1] ?? Number.NaN),
    };
  }
}

export interface LatencySummary {
  samples: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
}
