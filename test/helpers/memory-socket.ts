/**
 * An in-memory stand-in for an accepted `net.Socket`: what the "client" sends is pushed into
 * the readable side, what the server writes is collected. Lets a FerryServer serve whole
 * sessions (via `server.handleConnection`) without the kernel — thousands per second, with
 * exact control of chunking and of when the client half-closes.
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

export interface WriteRecord {
  /** Server output octets so far, including this write. */
  readonly outputLength: number;
  /** Client octets the server had taken from the socket when it wrote. */
  readonly consumed: number;
}

export class MemorySocket extends Duplex {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily = 'IPv4';
  readonly localAddress = '127.0.0.1';
  readonly localPort = 1080;
  /** Everything the server wrote, in order. */
  readonly output: Buffer[] = [];
  readonly writes: WriteRecord[] = [];
  outputLength = 0;
  /** Client octets pushed so far. */
  delivered = 0;
  /** The server called end(): it sent its FIN. */
  serverEnded = false;
  clientEnded = false;
  readonly #onOutput: (() => void) | undefined;

  constructor(options: { remoteAddress?: string; remotePort: number; onOutput?: () => void }) {
    super({ allowHalfOpen: true });
    this.remoteAddress = options.remoteAddress ?? '127.0.0.1';
    this.remotePort = options.remotePort;
    this.#onOutput = options.onOutput;
  }

  /** As a net.Socket, for APIs that ask for one. */
  get asSocket(): Socket {
    return this as unknown as Socket;
  }

  /** Client octets the server has read (pushed minus still buffered in the stream). */
  get consumed(): number {
    return this.delivered - this.readableLength;
  }

  /** The client sends octets. */
  send(chunk: Uint8Array): void {
    if (this.destroyed || this.clientEnded) return;
    this.delivered += chunk.length;
    this.push(Buffer.from(chunk));
  }

  /** The client half-closes (FIN). */
  sendEnd(): void {
    if (this.destroyed || this.clientEnded) return;
    this.clientEnded = true;
    this.push(null);
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  setTimeout(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  override _read(): void {
    // Data is pushed by send().
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.output.push(chunk);
    this.outputLength += chunk.length;
    this.writes.push({ outputLength: this.outputLength, consumed: this.consumed });
    callback();
    this.#onOutput?.();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.serverEnded = true;
    callback();
    this.#onOutput?.();
  }

  /** All server output as one buffer. */
  outputBytes(): Buffer {
    return Buffer.concat(this.output);
  }
}
