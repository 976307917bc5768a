/**
 * A connection's "the client is gone / the session is being torn down" signal, without the cost
 * of an `AbortController` per connection: a flag and a short listener list. Most sessions never
 * need a real `AbortSignal` (a CONNECT to an IP literal only needs the flag and one listener
 * while it dials); those that do (HTTP, BIND, UDP ASSOCIATE, name resolution) get one, created on
 * first use and aborted with this signal.
 */
import type { AbortLike } from '../dial/abort-like.js';

export class ClosingSignal implements AbortLike {
  #aborted = false;
  #reason: unknown;
  #listeners: (() => void)[] | undefined;
  #controller: AbortController | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  /** The same kind of reason `AbortController.abort()` gives, built only when asked for. */
  get reason(): unknown {
    if (!this.#aborted) return undefined;
    this.#reason ??= new DOMException('This operation was aborted', 'AbortError');
    return this.#reason;
  }

  throwIfAborted(): void {
    if (this.#aborted) throw this.reason;
  }

  /** Listeners run once, when the signal aborts (so `once` changes nothing). */
  addEventListener(_type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (this.#aborted) return; // like EventTarget: an aborted signal fires no more
    (this.#listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const list = this.#listeners;
    if (list === undefined) return;
    const i = list.lastIndexOf(listener);
    if (i >= 0) list.splice(i, 1);
  }

  /** A real AbortSignal that aborts with this one (created on first use). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = new AbortController();
      this.#controller = controller;
      if (this.#aborted) controller.abort(this.reason);
      else this.addEventListener('abort', () => controller.abort(this.reason));
    }
    return this.#controller.signal;
  }

  /** Aborts once; later calls do nothing. */
  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    const list = this.#listeners;
    this.#listeners = undefined;
    if (list !== undefined) for (const listener of list) listener();
  }
}
