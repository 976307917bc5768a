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
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface RelayOptions {
  /** Close both sides after this many ms with no bytes either way; 0 disables. */
  readonly idleTimeout: number;
  /** Called once, after both sockets have closed. */
  readonly onEnd: (result: RelayResult) => void;
  /** Counters updated live (e.g. the session record); the relay adds to them. */
  readonly counters: { bytesUp: number; bytesDown: number };
}

export interface RelayResult {
  readonly reason: 'closed' | 'idle-timeout' | 'error' | 'aborted';
  /** The first error seen on either side, if any. */
  readonly error: Error | undefined;
}

export class TcpRelay {
  readonly #client: Duplex;
  readonly #upstream: Duplex;
  readonly #options: RelayOptions;
  #lastActivity = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #open = 2;
  #reason: RelayResult['reason'] = 'closed';
  #error: Error | undefined;

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
    if (pending !== undefined && pending.data.length > 0) {
      options.counters.bytesUp += pending.data.length;
      upstream.write(pending.data);
    }
    // The client's FIN already went by (during the handshake): pass it on after its bytes.
    if (pending?.ended === true) upstream.end();
    this.#pipe(client, upstream, 'bytesUp');
    this.#pipe(upstream, client, 'bytesDown');
    if (options.idleTimeout > 0) this.#armIdle(options.idleTimeout);
    client.resume();
    upstream.resume();
  }

  /** Destroys both sides now (server drain deadline, reload of a revoked user...). */
  abort(reason: RelayResult['reason'] = 'aborted'): void {
    this.#fail(reason, undefined);
  }

  #pipe(from: Duplex, to: Duplex, counter: 'bytesUp' | 'bytesDown'): void {
    const counters = this.#options.counters;
    from.on('data', (chunk: Buffer) => {
      counters[counter] += chunk.length;
      this.#lastActivity = Date.now();
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      from.resume();
    });
    from.on('end', () => {
      to.end();
    });
    from.on('error', (err) => {
      this.#fail('error', err);
    });
    from.on('close', () => {
      // A clean close (FIN both ways) lets the other socket finish by itself; anything else
      // (reset, destroy) takes the other side down too.
      if (!(from.readableEnded && from.writableFinished)) this.#fail('aborted', undefined);
      if (--this.#open === 0) this.#finish();
    });
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
  const reset = (stream as Partial<Socket>).resetAndDestroy;
  if (typeof reset === 'function' && !(stream as Socket).connecting) {
    try {
      reset.call(stream);
      return;
    } catch {
      // Not a TCP handle (a pipe): a plain destroy is all there is.
    }
  }
  stream.destroy();
}
