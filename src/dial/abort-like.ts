/**
 * The part of an `AbortSignal` that dialling and resolving use. A real `AbortSignal` has it; so
 * does the server's per-connection {@link ClosingSignal}, which costs far less than an
 * `AbortController` (issue 7: one per tunnel, at thousands of tunnels per second, the controller,
 * its `DOMException` reason and its `Event` were ~7 % of the server's CPU).
 */
export interface AbortLike {
  readonly aborted: boolean;
  /** Why it aborted (an Error); only read after `aborted`. */
  readonly reason: unknown;
  throwIfAborted(): void;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}
