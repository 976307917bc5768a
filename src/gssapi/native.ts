/**
 * The memory and error discipline every call goes through:
 * - a buffer the library fills in is copied into a JS Uint8Array and released at once with
 *   gss_release_buffer (never viewed after release);
 * - a name we import or receive is displayed and released before the call that made it returns;
 * - a failed major status becomes a SocksGssapiError whose message holds gss_display_status()
 *   text for the major and the minor status;
 * - calls that may block (keytab, ccache, KDC) run with koffi's `.async` on a worker thread, with
 *   their input copied so that the caller cannot change or detach it while the call runs.
 */
import { GssapiErrorCode, SocksGssapiError } from '../errors.js';
import type {
  BufferIn,
  BufferOut,
  Declared,
  GssFunctions,
  Koffi,
  Native,
  Out,
  Pointer,
} from './ffi.js';
import { GSS_C_GSS_CODE, GSS_C_MECH_CODE, isGssError, majorStatusName } from './status.js';

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();
/** gss_display_status() may return several messages; a bound keeps a bad library from looping us. */
const MAX_STATUS_MESSAGES = 8;

/** Live handle counts, for leak checks. */
export interface HandleCounts {
  credentials: number;
  contexts: number;
}

export class NativeGss {
  readonly fns: GssFunctions;
  readonly oids: Declared['oids'];
  readonly counts: HandleCounts = { credentials: 0, contexts: 0 };
  readonly #koffi: Koffi;

  constructor(koffi: Koffi, declared: Declared) {
    this.#koffi = koffi;
    this.fns = declared.fns;
    this.oids = declared.oids;
  }

  /** A gss_buffer_desc over bytes we own. An empty buffer is {0, NULL}. */
  bufferIn(bytes: Uint8Array): BufferIn {
    return { length: bytes.length, value: bytes.length === 0 ? null : bytes };
  }

  /** Copies a library-owned buffer into a new Uint8Array and releases it (always). */
  take(out: BufferOut): Uint8Array {
    const length = out.length ?? 0;
    const value = out.value ?? null;
    if (value === null || length === 0) {
      if (value !== null) this.fns.gss_release_buffer([0], out);
      return new Uint8Array(0);
    }
    // slice() copies: the view's memory is the library's and goes away with the release.
    const copy = new Uint8Array(this.#koffi.view(value, length)).slice();
    this.fns.gss_release_buffer([0], out);
    return copy;
  }

  /** gss_display_name then gss_release_name: the name as text (e.g. `alice@EXAMPLE.COM`). */
  takeName(name: Pointer): string | undefined {
    if (name === null) return undefined;
    const out: BufferOut = {};
    const minor: Out<number> = [0];
    const major = this.fns.gss_display_name(minor, name, out, null);
    const text = textDecoder.decode(this.take(out));
    this.fns.gss_release_name([0], [name]);
    if (isGssError(major)) throw this.error('gss_display_name', major, minor[0]);
    return text;
  }

  /** gss_import_name on a worker thread (host-based names may be canonicalised). */
  async importName(text: string, nameType: Pointer): Promise<Pointer> {
    const out: Out<Pointer> = [null];
    const minor: Out<number> = [0];
    const bytes = textEncoder.encode(text);
    const major = await this.callAsync(
      'gss_import_name',
      this.fns.gss_import_name,
      minor,
      this.bufferIn(bytes),
      nameType,
      out,
    );
    if (isGssError(major)) {
      this.releaseName(out[0]);
      throw this.error('gss_import_name', major, minor[0], `"${text}"`);
    }
    return out[0];
  }

  releaseName(name: Pointer): void {
    if (name !== null) this.fns.gss_release_name([0], [name]);
  }

  /**
   * Runs a declared function on koffi's worker pool. The arguments must not change until the
   * promise settles (callers pass fresh objects and copies of caller-owned bytes).
   */
  callAsync<A extends unknown[]>(operation: string, fn: Native<A>, ...args: A): Promise<number> {
    return new Promise((resolve, reject) => {
      try {
        fn.async(...args, (err: unknown, major: number) => {
          if (err === null || err === undefined) resolve(major);
          else reject(this.#callFailure(operation, err));
        });
      } catch (err) {
        // e.g. koffi's queue is full (max_async_calls): fail this call, not the process.
        reject(this.#callFailure(operation, err));
      }
    });
  }

  #callFailure(operation: string, err: unknown): SocksGssapiError {
    const why = err instanceof Error ? err.message : String(err);
    return new SocksGssapiError(
      GssapiErrorCode.Failed,
      `${operation} could not be called: ${why}`,
      { operation },
      { cause: err },
    );
  }

  /** gss_display_status() text for one status code, messages joined with "; ". */
  statusText(code: number, type: typeof GSS_C_GSS_CODE | typeof GSS_C_MECH_CODE): string {
    const parts: string[] = [];
    const context: Out<number> = [0];
    for (let i = 0; i < MAX_STATUS_MESSAGES; i++) {
      const out: BufferOut = {};
      const major = this.fns.gss_display_status([0], code, type, null, context, out);
      const text = textDecoder.decode(this.take(out)).replace(/\s+/g, ' ').trim();
      if (isGssError(major)) break;
      if (text !== '') parts.push(text);
      if (context[0] === 0) break;
    }
    return parts.join('; ');
  }

  /**
   * The error for a failed call: "gss_unwrap: A token had an invalid Message Integrity Check
   * (MIC) (minor: Decrypt integrity check failed) [GSS_S_BAD_SIG]".
   */
  error(operation: string, major: number, minor: number, subject?: string): SocksGssapiError {
    const routine = majorStatusName(major);
    const majorText = this.statusText(major, GSS_C_GSS_CODE) || routine;
    // MIT's mechglue maps even a zero mechanism minor to a non-zero code that reads "Success":
    // saying so after a failure only confuses, so it is left out of the message.
    const rawMinorText = minor === 0 ? '' : this.statusText(minor, GSS_C_MECH_CODE);
    const minorText = rawMinorText === 'Success' ? '' : rawMinorText;
    const about = subject === undefined ? '' : ` ${subject}`;
    const detail = minorText === '' ? '' : ` (minor: ${minorText})`;
    return new SocksGssapiError(
      GssapiErrorCode.Failed,
      `${operation}${about}: ${majorText}${detail} [${routine}]`,
      { operation, major, minor, routine },
    );
  }
}
