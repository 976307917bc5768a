/**
 * Reading outgoing (upstream) sockets without a fresh allocation per read.
 *
 * A socket read the usual way ('data' events) gets a new 64 KiB ArrayBuffer for every read. V8
 * counts those bytes as external memory and starts a full mark-compact every ~64 MiB of them,
 * which marks the whole heap: measured on a 1-stream download, a quarter of ferry's CPU went to
 * garbage collection. `net.connect({ onread })` instead reads into a buffer we supply.
 *
 * One buffer serves every upstream socket of the process: Node's read callback runs right after
 * each read, and the bytes are copied out before it returns, so no two reads can overlap in it.
 * They must be copied: a write that the kernel does not take at once keeps a pointer into the
 * memory it was given until it completes, and the next read on any socket would overwrite it.
 * The copies come from a small pool and go back to it when their write has completed, so a
 * download allocates nothing per chunk.
 */
import type { OnReadOpts } from 'node:net';

/**
 * Bytes read per system call at most. Larger reads mean fewer calls per MiB (measured: 64 KiB
 * 458 µs of CPU per MiB relayed, 256 KiB 362 µs; bench A/B 128 -> 256 KiB over 6 alternated runs:
 * 1 stream 0.48 -> 0.52x direct, 8 streams 0.37 -> 0.53x), but a copy in flight to a slow client
 * holds a whole pooled buffer: at most one per tunnel, since its write returning false stops the
 * reads until 'drain'.
 */
export const READ_BUFFER_SIZE = 256 * 1024;

/**
 * Copies shorter than this are exact-size allocations (Node's small-buffer pool below 4 KiB);
 * only longer ones take a whole pooled buffer. A write of one of those exceeds the socket's
 * high-water mark, so its `false` stops the reads: a stalled client pins at most one pooled
 * buffer, and a few short copies — never several full-size buffers for a handful of bytes.
 */
const POOLED_COPY = READ_BUFFER_SIZE / 4;

/** Pooled buffers kept for reuse at most (the rest are left to the garbage collector). */
const MAX_FREE = 8;

let shared: Buffer | undefined;
const free: ArrayBuffer[] = [];

/** Where an upstream socket's bytes go once the relay is in place. */
export interface ReadTarget {
  /** `chunk` is only valid during the call. Returns false to stop reading (backpressure). */
  onUpstreamData(chunk: Buffer): boolean;
}

/**
 * A copy of `chunk` that may be handed to `write()`. Copies of {@link POOLED_COPY} bytes or more
 * are pooled buffers: give them back with {@link releaseCopy} once their write has completed.
 */
export function copyOf(chunk: Buffer): Buffer {
  const n = chunk.length;
  if (n < POOLED_COPY) {
    const copy = Buffer.allocUnsafe(n);
    chunk.copy(copy, 0, 0, n);
    return copy;
  }
  const copy = Buffer.from(free.pop() ?? new ArrayBuffer(READ_BUFFER_SIZE), 0, n);
  chunk.copy(copy, 0, 0, n);
  return copy;
}

/** True when {@link copyOf} returned a pooled buffer (one to release after its write). */
export function isPooledCopy(copy: Buffer): boolean {
  return copy.length >= POOLED_COPY;
}

/** Returns a pooled copy whose write has completed (or failed: either way the kernel is done). */
export function releaseCopy(copy: Buffer): void {
  if (free.length < MAX_FREE) free.push(copy.buffer as ArrayBuffer);
}

/**
 * The `onread` option for one upstream socket, and the switch that connects it to a relay.
 * Until {@link attach}, the socket must stay paused (dialTcp pauses it); bytes that arrive anyway
 * are kept and delivered first.
 */
export class UpstreamReader {
  #target: ReadTarget | undefined;
  #early: Buffer[] | undefined;
  readonly onread: OnReadOpts;

  constructor() {
    shared ??= Buffer.allocUnsafeSlow(READ_BUFFER_SIZE);
    this.onread = {
      buffer: shared,
      callback: (n: number, buffer: Uint8Array): boolean => {
        const chunk = (buffer as Buffer).subarray(0, n);
        const target = this.#target;
        if (target !== undefined) return target.onUpstreamData(chunk);
        (this.#early ??= []).push(Buffer.from(chunk));
        return false;
      },
    };
  }

  /** Starts delivering to `target`. Returns false when `target` asked to stop reading. */
  attach(target: ReadTarget): boolean {
    this.#target = target;
    const early = this.#early;
    this.#early = undefined;
    let reading = true;
    if (early !== undefined) for (const chunk of early) reading = target.onUpstreamData(chunk);
    return reading;
  }
}
