/**
 * The TCP splice between a client and its upstream (CONNECT, BIND, HTTP CONNECT).
 *
 * - Backpressure both ways: when a write reports a full buffer the other side is paused until
 *   'drain', so memory per tunnel stays bounded by the sockets' high-water marks.
 * - Half-close passes through (RFC 1928 §4 leaves the stream to TCP): a FIN from one side becomes
 *   `end()` toward the other; both sockets must be `allowHalfOpen`.
 * - One idle timer per tunnel: it checks the last activity time when it fires instead of being
 *   reset on every chunk.
 * - An error or reset on either side, or a forced close, resets both (RST, not FIN): a peer must
 *   be able to tell a cut stream from a complete one.
 *
 * Either side may be any Duplex: a socket, or a layer over one (a GSS-API protected client
 * connection, src/gssapi/stream.ts). Unprotected sessions relay socket to socket, with nothing in
 * between.
 *
 * Cost per tunnel matters (issue 7: 100 000 idle tunnels, tunnels per second): the listeners are
 * shared functions that find their relay through a symbol on the stream, not closures per tunnel,
 * and an upstream dialled with an {@link UpstreamReader} is read into a shared buffer instead of
 * a fresh allocation per read.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { copyOf, isPooledCopy, releaseCopy, type UpstreamReader } from './upstream-reader.js';

export interface RelayOptions {
  /** Close both sides after this many ms with no bytes either way; 0 disables. */
  readonly idleTimeout: number;
  /** Called once, after both sockets have closed. */
  readonly onEnd: (result: RelayResult) => void;
  /** Counters updated live (e.g. the session record); the relay adds to them. */
  readonly counters: { bytesUp: number; bytesDown: number };
  /** The upstream was dialled with this reader's `onread`: its bytes arrive through it. */
  readonly upstreamReader?: UpstreamReader | undefined;
}

export interface RelayResult {
  readonly reason: 'closed' | 'idle-timeout' | 'error' | 'aborted';
  /** The first error seen on either side, if any. */
  readonly error: Error | undefined;
}

const kRelay = Symbol('ferry.relay');

/** A stream in a relay: the symbol leads its (shared) listeners back to the relay. */
type Side = Duplex & { [kRelay]?: TcpRelay };

export class TcpRelay {
  readonly #client: Side;
  readonly #upstream: Side;
  readonly #options: RelayOptions;
  #lastActivity = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #open = 2;
  #reason: RelayResult['reason'] = 'closed';
  #error: Error | undefined;
  /** Pooled copies being written to the client, oldest first (see {@link UpstreamReader}). */
  #inflight: Buffer[] | undefined;
  #onCopyWritten: (() => void) | undefined;

  /**
   * Starts relaying. `pending` are bytes the client already sent (pipelined after its request);
   * they are written upstream before anything else, and `ended` says the client already sent its
   * FIN. Both sockets should be paused, with no other 'data' listeners, so that nothing is read
   * before the relay is in place.
   */
  constructor(
    client: Duplex,
    upstream: Duplex,
    options: RelayOptions,
    pending?: { data: Uint8Array; ended: boolean },
  ) {
    this.#client = client;
    this.#upstream = upstream;
    this.#options = options;
    (client as Side)[kRelay] = this;
    (upstream as Side)[kRelay] = this;
    if (pending !== undefined && pending.data.length > 0) {
      options.counters.bytesUp += pending.data.length;
      upstream.write(pending.data);
    }
    // The client's FIN already went by (during the handshake): pass it on after its bytes.
    if (pending?.ended === true) upstream.end();
    client.on('data', TcpRelay.#onClientData);
    for (const side of [client, upstream]) {
      side.on('drain', TcpRelay.#onDrain);
      side.on('end', TcpRelay.#onEnd);
      side.on('error', TcpRelay.#onError);
      side.on('close', TcpRelay.#onClose);
    }
    const reader = options.upstreamReader;
    const reading = reader === undefined ? true : reader.attach(this);
    if (reader === undefined) upstream.on('data', TcpRelay.#onUpstreamData);
    if (options.idleTimeout > 0) this.#armIdle(options.idleTimeout);
    client.resume();
    if (reading) upstream.resume();
  }

  /** Destroys both sides now (server drain deadline, reload of a revoked user...). */
  abort(reason: RelayResult['reason'] = 'aborted'): void {
    this.#fail(reason, undefined);
  }

  /**
   * Upstream → client. `chunk` may be the shared read buffer: only a copy may be written (a
   * write the kernel does not take at once keeps pointing at what it was given).
   */
  onUpstreamData(chunk: Buffer): boolean {
    this.#options.counters.bytesDown += chunk.length;
    this.#lastActivity = Date.now();
    const copy = copyOf(chunk);
    if (!isPooledCopy(copy)) return this.#client.write(copy);
    // A pooled copy goes back to the pool when its write completes (writes complete in order).
    (this.#inflight ??= []).push(copy);
    this.#onCopyWritten ??= () => {
      const done = this.#inflight?.shift();
      if (done !== undefined) releaseCopy(done);
    };
    // Returning false stops reading; the client's 'drain' resumes it.
    return this.#client.write(copy, this.#onCopyWritten);
  }

  // The listeners, shared by every relay: EventEmitter calls them with `this` = the stream.

  /** Client → upstream: the client's 'data' chunks are Node's own allocations; pass them on. */
  static #onClientData(this: Side, chunk: Buffer): void {
    const relay = relayOf(this);
    relay.#options.counters.bytesUp += chunk.length;
    relay.#lastActivity = Date.now();
    if (!relay.#upstream.write(chunk)) this.pause();
  }

  /** Upstream 'data': an upstream without a reader (e.g. BIND's accepted peer). */
  static #onUpstreamData(this: Side, chunk: Buffer): void {
    const relay = relayOf(this);
    relay.#options.counters.bytesDown += chunk.length;
    relay.#lastActivity = Date.now();
    if (!relay.#client.write(chunk)) this.pause();
  }

  /** 'drain' on one side: the other side may be read again. */
  static #onDrain(this: Side): void {
    const relay = relayOf(this);
    (this === relay.#client ? relay.#upstream : relay.#client).resume();
  }

  /** A FIN from one side becomes end() toward the other. */
  static #onEnd(this: Side): void {
    const relay = relayOf(this);
    (this === relay.#client ? relay.#upstream : relay.#client).end();
  }

  static #onError(this: Side, err: Error): void {
    relayOf(this).#fail('error', err);
  }

  static #onClose(this: Side): void {
    const relay = relayOf(this);
    // A clean close (FIN both ways) lets the other socket finish by itself; anything else
    // (reset, destroy) takes the other side down too.
    if (!(this.readableEnded && this.writableFinished)) relay.#fail('aborted', undefined);
    if (--relay.#open === 0) relay.#finish();
  }

  #armIdle(timeout: number): void {
    this.#timer = setTimeout(() => {
      const idle = Date.now() - this.#lastActivity;
      if (idle >= timeout) {
        this.#fail('idle-timeout', undefined);
      } else {
        this.#armIdle(timeout - idle);
      }
    }, timeout);
    this.#timer.unref();
  }

  #fail(reason: RelayResult['reason'], error: Error | undefined): void {
    if (this.#reason === 'closed') this.#reason = reason;
    this.#error ??= error;
    if (reason === 'idle-timeout') {
      this.#client.destroy();
      this.#upstream.destroy();
    } else {
      // An error, a reset or a forced close cut the stream short: tell both peers with a reset,
      // so that neither takes the cut for a clean end (a close-delimited download would look
      // complete after a FIN).
      abort(this.#client);
      abort(this.#upstream);
    }
  }

  #finish(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#options.onEnd({ reason: this.#reason, error: this.#error });
  }
}

/**
 * Closes with a TCP reset where the stream is a TCP socket; otherwise (a pipe, a GSS-API layer,
 * which destroys its socket) just destroys it.
 */
function abort(stream: Duplex): void {
  if (stream.destroyed) return;
  const tcp = stream as Partial<Socket>;
  const reset = tcp.resetAndDestroy;
  if (typeof reset === 'function' && tcp.connecting !== true) {
    try {
      reset.call(stream);
      return;
    } catch {
      // Not a TCP handle (a pipe): a plain destroy is all there is.
    }
  }
  stream.destroy();
}

function relayOf(side: Side): TcpRelay {
  const relay = side[kRelay];
  if (relay === undefined) throw new Error('relay listener on a stream without a relay');
  return relay;
}
