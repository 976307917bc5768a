/**
 * Per-key limits the server enforces: concurrent connections per client IP, concurrent sessions
 * per user, and a throttle on failed authentications per client IP (brute-force protection).
 * Plain data structures with time passed in; bounded in size.
 */

/** Counts live things per key; forgets a key when its count drops to zero. */
export class ConcurrencyCounter {
  readonly #counts = new Map<string, number>();

  count(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  /** Takes a slot unless `limit` is reached (0 = unlimited). Returns whether it was taken. */
  tryAcquire(key: string, limit: number): boolean {
    const n = this.#counts.get(key) ?? 0;
    if (limit > 0 && n >= limit) return false;
    this.#counts.set(key, n + 1);
    return true;
  }

  release(key: string): void {
    const n = (this.#counts.get(key) ?? 0) - 1;
    if (n <= 0) this.#counts.delete(key);
    else this.#counts.set(key, n);
  }

  get size(): number {
    return this.#counts.size;
  }
}

export interface ThrottleOptions {
  /** Failures allowed per key within `window`; 0 disables the throttle. */
  readonly maxFailures: number;
  /** Window length in ms; a tripped key stays blocked until its window ends. */
  readonly window: number;
  /** Keys tracked at most; beyond it the oldest windows are forgotten. Default 100 000. */
  readonly maxKeys?: number;
}

/**
 * Fixed-window failure counter per key. `blocked(key, now)` is true once a key had `maxFailures`
 * failures in its current window, until the window ends.
 */
export class FailureThrottle {
  #options: ThrottleOptions;
  readonly #windows = new Map<string, { start: number; failures: number }>();

  constructor(options: ThrottleOptions) {
    this.#options = options;
  }

  /** New limits apply from now on; windows already counted are kept. */
  configure(options: ThrottleOptions): void {
    this.#options = options;
  }

  blocked(key: string, now: number): boolean {
    if (this.#options.maxFailures === 0) return false;
    const w = this.#windows.get(key);
    if (w === undefined) return false;
    if (now - w.start >= this.#options.window) {
      this.#windows.delete(key);
      return false;
    }
    return w.failures >= this.#options.maxFailures;
  }

  /** Records a failure; returns true when this failure trips the throttle for the key. */
  fail(key: string, now: number): boolean {
    if (this.#options.maxFailures === 0) return false;
    let w = this.#windows.get(key);
    if (w === undefined || now - w.start >= this.#options.window) {
      this.#windows.delete(key);
      w = { start: now, failures: 0 };
      this.#windows.set(key, w);
      this.#evict();
    }
    w.failures++;
    return w.failures === this.#options.maxFailures;
  }

  get size(): number {
    return this.#windows.size;
  }

  #evict(): void {
    const max = this.#options.maxKeys ?? 100_000;
    // Map iteration is insertion order: the first keys are the oldest windows.
    for (const key of this.#windows.keys()) {
      if (this.#windows.size <= max) break;
      this.#windows.delete(key);
    }
  }
}
