/**
 * Security contexts (gss_ctx_id_t) over {@link NativeGss}, both sides.
 *
 * Handles are freed by dispose(), or by a FinalizationRegistry if an object is dropped without
 * it. A handle is never freed while a worker thread is using it: dispose() during a step defers
 * the release to the step's end, and the credential a context uses stays alive (see
 * credential.ts) until the context is established or disposed.
 */
import { SocksUsageError, UsageErrorCode } from '../errors.js';
import { Credential, misuse, type HandleBox } from './credential.js';
import type { BufferOut, Out, Pointer } from './ffi.js';
import type { NativeGss } from './native.js';
import { GSS_C_QOP_DEFAULT, GssStatus, OUT_OF_SEQUENCE, isGssError } from './status.js';
import type {
  GssAcceptor,
  GssCredential,
  GssInitiator,
  GssSecurityContext,
  GssStep,
  UnwrapResult,
  WrapResult,
} from './types.js';

const MAX_UINT32 = 0xffffffff;

function deleteContext(gss: NativeGss, box: HandleBox): void {
  if (box.ptr === null) return;
  gss.fns.gss_delete_sec_context([0], [box.ptr], null);
  box.ptr = null;
  gss.counts.contexts--;
}

const contextRegistry = new FinalizationRegistry<{ gss: NativeGss; box: HandleBox }>(
  ({ gss, box }) => {
    deleteContext(gss, box);
  },
);

abstract class Context implements GssSecurityContext {
  abstract readonly role: 'acceptor' | 'initiator';
  complete = false;
  flags = 0;
  sourceName: string | undefined;
  targetName: string | undefined;
  lifetime = 0;
  /** locally_initiated from gss_inquire_context. */
  protected initiatedLocally = false;
  protected readonly gss: NativeGss;
  protected readonly box: HandleBox = { ptr: null };
  #busy = false;
  #disposed = false;
  #credential: Credential | undefined;
  protected credentialHandle: Pointer = null;

  constructor(gss: NativeGss, credential?: GssCredential) {
    this.gss = gss;
    if (credential !== undefined) {
      if (!(credential instanceof Credential)) throw misuse('not a credential of this binding');
      this.credentialHandle = credential.use(gss);
      this.#credential = credential;
    }
    contextRegistry.register(this, { gss, box: this.box }, this);
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  // A method, not the field: TypeScript would keep a narrowing of the field across an await.
  #isDisposed(): boolean {
    return this.#disposed;
  }

  /** Stores a handle the library returned; counts it the first time. */
  protected adopt(ptr: Pointer): void {
    if (this.box.ptr === null && ptr !== null) this.gss.counts.contexts++;
    this.box.ptr = ptr;
  }

  /** Runs one establishment step with the busy/disposed discipline and error cleanup. */
  protected async runStep(
    operation: string,
    call: (
      context: Out<Pointer>,
      output: BufferOut,
      minor: Out<number>,
    ) => Promise<{
      major: number;
      retFlags: number;
    }>,
  ): Promise<GssStep> {
    if (this.#disposed) throw misuse(`${operation}: context was disposed`);
    if (this.#busy) throw misuse(`${operation}: a step is already running`);
    if (this.complete) throw misuse(`${operation}: context is already complete`);
    this.#busy = true;
    try {
      const context: Out<Pointer> = [this.box.ptr];
      const output: BufferOut = {};
      const minor: Out<number> = [0];
      const { major, retFlags } = await call(context, output, minor);
      this.adopt(context[0]);
      const token = this.gss.take(output);
      // dispose() may have been called while the worker thread ran.
      if (this.#isDisposed()) throw misuse(`${operation}: context was disposed during the step`);
      if (isGssError(major)) throw this.gss.error(operation, major, minor[0]);
      this.flags = retFlags;
      if ((major & GssStatus.ContinueNeeded) === 0) this.#finish();
      return { token: token.length === 0 ? undefined : token, complete: this.complete };
    } catch (err) {
      this.#busy = false;
      this.dispose();
      throw err;
    } finally {
      this.#busy = false;
      if (this.#isDisposed()) this.#free();
    }
  }

  /** gss_inquire_context once established: names, lifetime, final flags. */
  protected finishFromLibrary(): void {
    const src: Out<Pointer> = [null];
    const targ: Out<Pointer> = [null];
    const lifetime: Out<number> = [0];
    const flags: Out<number> = [0];
    const local: Out<number> = [0];
    const open: Out<number> = [0];
    const minor: Out<number> = [0];
    const major = this.gss.fns.gss_inquire_context(
      minor,
      this.box.ptr,
      src,
      targ,
      lifetime,
      null,
      flags,
      local,
      open,
    );
    if (isGssError(major)) {
      this.gss.releaseName(src[0]);
      this.gss.releaseName(targ[0]);
      throw this.gss.error('gss_inquire_context', major, minor[0]);
    }
    this.sourceName = this.gss.takeName(src[0]);
    this.targetName = this.gss.takeName(targ[0]);
    this.lifetime = lifetime[0];
    this.flags = flags[0];
    this.initiatedLocally = local[0] !== 0;
    this.complete = open[0] !== 0;
  }

  #finish(): void {
    this.finishFromLibrary();
    this.complete = true;
    this.#releaseCredential();
  }

  #releaseCredential(): void {
    const credential = this.#credential;
    this.#credential = undefined;
    this.credentialHandle = null;
    credential?.release();
  }

  #ready(operation: string): Pointer {
    if (this.#disposed || this.box.ptr === null) throw misuse(`${operation}: context was disposed`);
    if (!this.complete) throw misuse(`${operation}: context is not established yet`);
    return this.box.ptr;
  }

  wrap(data: Uint8Array, options: { readonly confidential?: boolean } = {}): WrapResult {
    const context = this.#ready('gss_wrap');
    const minor: Out<number> = [0];
    const confState: Out<number> = [0];
    const output: BufferOut = {};
    const major = this.gss.fns.gss_wrap(
      minor,
      context,
      options.confidential === true ? 1 : 0,
      GSS_C_QOP_DEFAULT,
      this.gss.bufferIn(data),
      confState,
      output,
    );
    const token = this.gss.take(output);
    if (isGssError(major)) throw this.gss.error('gss_wrap', major, minor[0]);
    return { token, confidential: confState[0] !== 0 };
  }

  unwrap(token: Uint8Array, options: { readonly allowOutOfSequence?: boolean } = {}): UnwrapResult {
    const context = this.#ready('gss_unwrap');
    const minor: Out<number> = [0];
    const confState: Out<number> = [0];
    const qop: Out<number> = [0];
    const output: BufferOut = {};
    // A copy: MIT krb5 1.20 rearranges an integrity-only (RFC 4121, unsealed) token *in place*
    // while checking it, which would corrupt the caller's bytes (a view into a receive buffer).
    const major = this.gss.fns.gss_unwrap(
      minor,
      context,
      this.gss.bufferIn(token.slice()),
      output,
      confState,
      qop,
    );
    const data = this.gss.take(output);
    const supplementary = major & 0xffff;
    if (
      isGssError(major) ||
      ((supplementary & OUT_OF_SEQUENCE) !== 0 && options.allowOutOfSequence !== true)
    ) {
      throw this.gss.error('gss_unwrap', major, minor[0]);
    }
    return { data, confidential: confState[0] !== 0, qop: qop[0], supplementary };
  }

  wrapSizeLimit(maxTokenLength: number, confidential: boolean): number {
    const context = this.#ready('gss_wrap_size_limit');
    if (!Number.isInteger(maxTokenLength) || maxTokenLength < 1 || maxTokenLength > MAX_UINT32) {
      throw new SocksUsageError(
        UsageErrorCode.InvalidArgument,
        `maxTokenLength must be an integer 1..${MAX_UINT32}, got ${String(maxTokenLength)}`,
      );
    }
    const minor: Out<number> = [0];
    const max: Out<number> = [0];
    const major = this.gss.fns.gss_wrap_size_limit(
      minor,
      context,
      confidential ? 1 : 0,
      GSS_C_QOP_DEFAULT,
      maxTokenLength,
      max,
    );
    if (isGssError(major)) throw this.gss.error('gss_wrap_size_limit', major, minor[0]);
    return max[0];
  }

  exportContext(): Uint8Array {
    const context: Out<Pointer> = [this.#ready('gss_export_sec_context')];
    const minor: Out<number> = [0];
    const output: BufferOut = {};
    const major = this.gss.fns.gss_export_sec_context(minor, context, output);
    const token = this.gss.take(output);
    if (isGssError(major)) throw this.gss.error('gss_export_sec_context', major, minor[0]);
    // On success the library has deleted the context and set the handle to GSS_C_NO_CONTEXT.
    if (context[0] === null) {
      this.box.ptr = null;
      this.gss.counts.contexts--;
    }
    this.dispose();
    return token;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#releaseCredential();
    if (!this.#busy) this.#free();
  }

  /** Frees what a subclass holds besides the context; runs once no step is in flight. */
  protected freeExtra(): void {
    // nothing by default
  }

  #free(): void {
    contextRegistry.unregister(this);
    deleteContext(this.gss, this.box);
    this.freeExtra();
  }
}

export class Acceptor extends Context implements GssAcceptor {
  readonly role = 'acceptor' as const;

  step(token: Uint8Array): Promise<GssStep> {
    // Copied: the worker thread reads it after this returns.
    const input = this.gss.bufferIn(token.slice());
    return this.runStep('gss_accept_sec_context', async (context, output, minor) => {
      const retFlags: Out<number> = [0];
      const major = await this.gss.callAsync(
        'gss_accept_sec_context',
        this.gss.fns.gss_accept_sec_context,
        minor,
        context,
        this.credentialHandle,
        input,
        null,
        // src_name: not asked for here (NULL): the names come from gss_inquire_context once
        // complete. Asking and not releasing it leaked one gss_name_t per context.
        null,
        null,
        output,
        retFlags,
        [0],
        null,
      );
      return { major, retFlags: retFlags[0] };
    });
  }
}

export class Initiator extends Context implements GssInitiator {
  readonly role = 'initiator' as const;
  readonly #target: string;
  readonly #requestFlags: number;
  #targetName: Pointer = null;

  constructor(gss: NativeGss, target: string, flags: number, credential?: GssCredential) {
    super(gss, credential);
    this.#target = target;
    this.#requestFlags = flags;
  }

  step(token?: Uint8Array): Promise<GssStep> {
    const input = token === undefined ? null : this.gss.bufferIn(token.slice());
    return this.runStep('gss_init_sec_context', async (context, output, minor) => {
      if (this.#targetName === null) {
        // "rcmd/host@REALM" is a krb5 principal name (as curl treats a service with a "/");
        // "rcmd@host" is a host-based service name (RFC 1961 §3.1).
        const type = this.#target.includes('/')
          ? this.gss.oids.krb5PrincipalName
          : this.gss.oids.hostbasedService;
        this.#targetName = await this.gss.importName(this.#target, type);
      }
      const retFlags: Out<number> = [0];
      const major = await this.gss.callAsync(
        'gss_init_sec_context',
        this.gss.fns.gss_init_sec_context,
        minor,
        this.credentialHandle,
        context,
        this.#targetName,
        this.gss.oids.krb5Mechanism,
        this.#requestFlags,
        0,
        null,
        input,
        null,
        output,
        retFlags,
        [0],
      );
      if ((major & GssStatus.ContinueNeeded) === 0 || isGssError(major)) this.#releaseTarget();
      return { major, retFlags: retFlags[0] };
    });
  }

  // A dropped (never disposed) initiator leaks its imported target name: names are small and a
  // FinalizationRegistry entry per name is not worth it; dispose() frees it.
  protected override freeExtra(): void {
    this.#releaseTarget();
  }

  #releaseTarget(): void {
    this.gss.releaseName(this.#targetName);
    this.#targetName = null;
  }
}

/** A context recreated by gss_import_sec_context: already complete, either role. */
export class ImportedContext extends Context {
  readonly role: 'acceptor' | 'initiator';

  constructor(gss: NativeGss, ptr: Pointer) {
    super(gss);
    this.adopt(ptr);
    try {
      this.finishFromLibrary();
    } catch (err) {
      this.dispose();
      throw err;
    }
    this.role = this.initiatedLocally ? 'initiator' : 'acceptor';
  }
}
