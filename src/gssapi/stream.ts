/**
 * The GSS-API encapsulation layer (RFC 1961 §5) as a Duplex over a TCP socket: what is written
 * to it leaves as MTYP 03 messages, and the messages that arrive are unwrapped into what it
 * reads. Only sessions that agreed integrity or confidentiality pay for it; everything else
 * (the relay, the SOCKS handshake code) sees an ordinary stream.
 *
 * - Backpressure both ways: a write completes when the socket takes its frames (or drains); the
 *   socket is paused while the readable side is full and resumed when it is read.
 * - Half-close passes through: end() ends the socket after the last frame, and the socket's FIN
 *   ends the readable side (a FIN in the middle of a frame is an error: data was cut off).
 * - A message that fails its check, a malformed frame, or the peer's abort (`01 FF`) destroys
 *   the stream and the socket with a SocksGssapiError / SocksProtocolError carrying a stable code.
 * - The security context belongs to the stream: it is disposed when the stream is destroyed.
 */
import { Duplex } from 'node:stream';
import type net from 'node:net';
import {
  GSSAPI_HEADER_LENGTH,
  GSSAPI_VERSION,
  GssapiMessageType,
  decodeGssapiMessage,
} from '../protocol/gssapi.js';
import { NEED_MORE, readUint16 } from '../protocol/decode.js';
import {
  GssapiErrorCode,
  ProtocolErrorCode,
  SocksGssapiError,
  SocksProtocolError,
} from '../errors.js';
import type { Encapsulation } from './encapsulation.js';

type Callback = (error?: Error | null) => void;

export interface GssapiSocketOptions {
  /** Bytes already read from the socket that belong to the encapsulated stream (its start). */
  readonly initial?: Uint8Array;
  /** The socket's FIN already arrived (it was read while the handshake owned the socket). */
  readonly ended?: boolean;
}

/**
 * A protected connection. Looks enough like a `net.Socket` for HTTP agents and undici: the
 * address getters and setNoDelay/setKeepAlive/setTimeout act on the underlying socket.
 */
export class GssapiSocket extends Duplex {
  /**
   * The connection the messages travel on: the TCP socket, or — for a later hop of a client's
   * chain — the layer of an earlier hop.
   */
  readonly socket: net.Socket | GssapiSocket;
  readonly encapsulation: Encapsulation;
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  #pendingWrite: Callback | undefined;
  #socketEnded = false;

  constructor(
    socket: net.Socket | GssapiSocket,
    encapsulation: Encapsulation,
    options: GssapiSocketOptions = {},
  ) {
    super({ allowHalfOpen: true });
    this.socket = socket;
    this.encapsulation = encapsulation;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    socket.on('drain', this.#onDrain);
    socket.on('timeout', this.#onTimeout);
    if (options.initial !== undefined && options.initial.length > 0) {
      this.#onData(Buffer.from(options.initial));
    }
    if (options.ended === true || socket.readableEnded) this.#onEnd();
    // Nothing is read until the readable side is (a paused stream reads nothing, like a socket).
    if (!this.destroyed) socket.pause();
  }

  /** The protection level's name: `integrity` or `confidentiality`. */
  get protection(): string {
    return this.encapsulation.name;
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  get remoteFamily(): string | undefined {
    return this.socket.remoteFamily;
  }

  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  /** The local address (`{}` once the socket is closed), as `net.Socket#address`. */
  address(): net.AddressInfo | Record<string, never> {
    return this.socket.address();
  }

  /** Lets the process exit while this connection is open (as `net.Socket#unref`). */
  unref(): this {
    this.socket.unref();
    return this;
  }

  ref(): this {
    this.socket.ref();
    return this;
  }

  setNoDelay(noDelay?: boolean): this {
    this.socket.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, initialDelay?: number): this {
    this.socket.setKeepAlive(enable, initialDelay);
    return this;
  }

  /** Like `net.Socket#setTimeout`: 'timeout' is emitted here after that much inactivity. */
  setTimeout(timeout: number, callback?: () => void): this {
    this.socket.setTimeout(timeout);
    if (callback === undefined) return this;
    if (timeout === 0) this.off('timeout', callback);
    else this.once('timeout', callback);
    return this;
  }

  override _read(): void {
    if (!this.#socketEnded) this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    this.#send([chunk], callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: Callback): void {
    this.#send(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  override _final(callback: Callback): void {
    if (this.socket.destroyed) {
      callback();
      return;
    }
    this.socket.end(() => {
      callback();
    });
  }

  override _destroy(error: Error | null, callback: Callback): void {
    this.socket.off('data', this.#onData);
    this.socket.off('end', this.#onEnd);
    this.socket.off('drain', this.#onDrain);
    this.socket.off('timeout', this.#onTimeout);
    this.socket.destroy();
    this.encapsulation.context.dispose();
    this.#chunks.length = 0;
    const pending = this.#pendingWrite;
    this.#pendingWrite = undefined;
    pending?.(error ?? new Error('the GSS-API stream was destroyed'));
    callback(error);
  }

  /** Wraps small writes together (one message per maxChunk octets, not per write). */
  #send(chunks: readonly Buffer[], callback: Callback): void {
    let frames: Uint8Array[];
    try {
      const data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      frames = data === undefined ? [] : this.encapsulation.wrap(data);
    } catch (err) {
      callback(err as Error);
      return;
    }
    let ok = true;
    for (const frame of frames) ok = this.socket.write(frame);
    if (ok) callback();
    else this.#pendingWrite = callback;
  }

  readonly #onDrain = (): void => {
    const callback = this.#pendingWrite;
    this.#pendingWrite = undefined;
    callback?.();
  };

  readonly #onData = (chunk: Buffer): void => {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    try {
      this.#drainFrames();
    } catch (err) {
      this.destroy(err as Error);
    }
  };

  /** Unwraps every complete frame buffered; stops at a partial one. */
  #drainFrames(): void {
    while (this.#buffered >= 2 && !this.destroyed) {
      const head = this.#head(GSSAPI_HEADER_LENGTH);
      const decoded = this.#peek(head);
      if (decoded === undefined) return;
      const { length, token, type } = decoded;
      if (type === 'abort') {
        this.#consume(length);
        throw new SocksGssapiError(
          GssapiErrorCode.Aborted,
          'the peer aborted the GSS-API session (RFC 1961 abort message 01 FF)',
        );
      }
      if (type !== 'encapsulated') {
        throw new SocksProtocolError(
          ProtocolErrorCode.UnexpectedData,
          `a GSS-API ${type} message arrived where only encapsulated data (MTYP 03) may`,
        );
      }
      const data = this.encapsulation.unwrap(token);
      this.#consume(length);
      if (data.length > 0 && !this.push(data)) this.socket.pause();
    }
  }

  /**
   * The next frame if it is complete: decodes the header from the first octets, then gathers
   * the whole frame into one buffer only once all of it is there (one copy per frame at most).
   */
  #peek(head: Buffer):
    | {
        length: number;
        type: 'abort' | 'context' | 'protection-level' | 'encapsulated';
        token: Uint8Array;
      }
    | undefined {
    if (head[0] === GSSAPI_VERSION && head[1] === GssapiMessageType.Abort) {
      return { length: 2, type: 'abort', token: new Uint8Array(0) };
    }
    if (head.length < GSSAPI_HEADER_LENGTH) {
      // Let the codec judge VER and MTYP as soon as they are there.
      decodeGssapiMessage(head);
      return undefined;
    }
    const total = GSSAPI_HEADER_LENGTH + readUint16(head, 2);
    if (this.#buffered < total) {
      decodeGssapiMessage(head); // throws on a bad VER/MTYP or an empty token, else NEED_MORE
      return undefined;
    }
    const frame = this.#head(total);
    const decoded = decodeGssapiMessage(frame);
    if (decoded === NEED_MORE) return undefined; // cannot happen: the frame is whole
    const value = decoded.value;
    return {
      length: decoded.length,
      type: value.type,
      token: value.type === 'abort' ? new Uint8Array(0) : value.token,
    };
  }

  /** The first `n` buffered octets (fewer if fewer are buffered) as one Buffer. */
  #head(n: number): Buffer {
    const first = this.#chunks[0];
    if (first === undefined) return Buffer.alloc(0);
    if (first.length >= n) return first.subarray(0, n);
    const joined = Buffer.concat(this.#chunks);
    this.#chunks.length = 0;
    this.#chunks.push(joined);
    return joined.subarray(0, n);
  }

  #consume(n: number): void {
    this.#buffered -= n;
    while (n > 0) {
      const first = this.#chunks[0];
      if (first === undefined) return;
      if (first.length <= n) {
        this.#chunks.shift();
        n -= first.length;
      } else {
        this.#chunks[0] = first.subarray(n);
        n = 0;
      }
    }
  }

  readonly #onEnd = (): void => {
    if (this.#socketEnded) return;
    this.#socketEnded = true;
    if (this.destroyed) return;
    if (this.#buffered > 0) {
      this.destroy(
        new SocksProtocolError(
          ProtocolErrorCode.UnexpectedClose,
          `the connection ended inside a GSS-API message (${this.#buffered} octets of it arrived)`,
        ),
      );
      return;
    }
    this.push(null);
    // As net.Socket does: a paused stream whose buffer is empty still emits 'end' (a command
    // waiting on the control connection, like BIND's, relies on that).
    this.read(0);
  };

  readonly #onTimeout = (): void => {
    this.emit('timeout');
  };

  readonly #onError = (err: Error): void => {
    this.destroy(err);
  };

  readonly #onClose = (): void => {
    // A clean end both ways has already ended this stream; anything else is a reset.
    if (!this.destroyed && !(this.readableEnded && this.writableFinished)) this.destroy();
  };
}
