/**
 * Credentials (gss_cred_id_t). Freed by dispose(), or by a FinalizationRegistry if dropped
 * without it; never while an incomplete context still uses them (a context takes a use in its
 * constructor and gives it back once established or disposed).
 */
import { SocksUsageError, UsageErrorCode } from '../errors.js';
import type { Pointer } from './ffi.js';
import type { NativeGss } from './native.js';
import type { GssCredential } from './types.js';

/** A mutable cell shared with a FinalizationRegistry, so that it never references the owner. */
export interface HandleBox {
  ptr: Pointer;
}

export function misuse(message: string): SocksUsageError {
  return new SocksUsageError(UsageErrorCode.InvalidState, message);
}

export class Credential implements GssCredential {
  readonly usage: 'accept' | 'initiate';
  readonly name: string | undefined;
  readonly #gss: NativeGss;
  readonly #box: HandleBox;
  #uses = 0;
  #disposeRequested = false;

  static readonly #registry = new FinalizationRegistry<{ gss: NativeGss; box: HandleBox }>(
    ({ gss, box }) => {
      releaseCredential(gss, box);
    },
  );

  constructor(gss: NativeGss, ptr: Pointer, usage: 'accept' | 'initiate', name?: string) {
    this.#gss = gss;
    this.#box = { ptr };
    this.usage = usage;
    this.name = name;
    gss.counts.credentials++;
    Credential.#registry.register(this, { gss, box: this.#box }, this);
  }

  /** The handle for a context that will use it until {@link release} (null once disposed). */
  use(gss: NativeGss): Pointer {
    if (gss !== this.#gss) throw misuse('this credential belongs to another GSS-API binding');
    if (this.#box.ptr === null || this.#disposeRequested) throw misuse('credential was disposed');
    this.#uses++;
    return this.#box.ptr;
  }

  release(): void {
    this.#uses--;
    if (this.#uses === 0 && this.#disposeRequested) this.#free();
  }

  dispose(): void {
    this.#disposeRequested = true;
    if (this.#uses === 0) this.#free();
  }

  #free(): void {
    Credential.#registry.unregister(this);
    releaseCredential(this.#gss, this.#box);
  }
}

function releaseCredential(gss: NativeGss, box: HandleBox): void {
  if (box.ptr === null) return;
  gss.fns.gss_release_cred([0], [box.ptr]);
  box.ptr = null;
  gss.counts.credentials--;
}
