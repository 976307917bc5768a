/**
 * A small append-only byte buffer for handshakes. Handshake messages are tiny and bounded, so
 * this copies; it is never used on the relay path (DESIGN.md rule 2).
 */
export class ByteQueue {
  #bytes: Uint8Array = new Uint8Array(0);

  get length(): number {
    return this.#bytes.length;
  }

  /** The buffered bytes as one view (valid until the next push or consume). */
  view(): Uint8Array {
    return this.#bytes;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#bytes.length === 0) {
      this.#bytes = chunk.slice();
      return;
    }
    const next = new Uint8Array(this.#bytes.length + chunk.length);
    next.set(this.#bytes, 0);
    next.set(chunk, this.#bytes.length);
    this.#bytes = next;
  }

  consume(n: number): void {
    this.#bytes = this.#bytes.subarray(n);
  }

  /** Removes and returns everything buffered. */
  take(): Uint8Array {
    const out = this.#bytes;
    this.#bytes = new Uint8Array(0);
    return out;
  }
}
