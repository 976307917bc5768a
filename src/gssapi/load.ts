/**
 * Loading the GSS-API binding. This module imports nothing native at load time: koffi (an
 * optional dependency) and the system's MIT `libgssapi_krb5.so.2` are loaded on the first
 * {@link loadGssapi} call, so the rest of ferry works, unchanged, on a machine without either.
 */
import { GssapiErrorCode, SocksGssapiError } from '../errors.js';
import { Binding } from './binding.js';
import { declare, type Koffi } from './ffi.js';
import { prepareKoffi } from '../native/koffi.js';
import { NativeGss } from './native.js';
import type { GssapiBinding } from './types.js';

export interface LoadGssapiOptions {
  /**
   * The shared library: a soname searched by the dynamic loader or a path. Default
   * `libgssapi_krb5.so.2` (Debian/Ubuntu package libgssapi-krb5-2; RHEL krb5-libs).
   */
  readonly library?: string;
}

export const DEFAULT_GSSAPI_LIBRARY = 'libgssapi_krb5.so.2';

const loaded = new Map<string, Promise<GssapiBinding>>();

function unavailable(why: string, cause?: unknown): SocksGssapiError {
  const firstLine = why.split('\n', 1)[0] ?? why;
  return new SocksGssapiError(
    GssapiErrorCode.Unavailable,
    `GSS-API unavailable: ${firstLine}`,
    {},
    cause === undefined ? undefined : { cause },
  );
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isKoffi(value: unknown): value is Koffi {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { load?: unknown }).load === 'function' &&
    typeof (value as { struct?: unknown }).struct === 'function'
  );
}

async function importKoffi(): Promise<Koffi> {
  // A variable specifier: no static (or type) dependency on the optional package.
  const specifier = 'koffi';
  let mod: unknown;
  try {
    mod = await import(specifier);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw unavailable(
        'the optional dependency "koffi" is not installed (npm install koffi)',
        err,
      );
    }
    throw unavailable(`koffi failed to load: ${message(err)}`, err);
  }
  const candidate = (mod as { default?: unknown }).default ?? mod;
  if (!isKoffi(candidate)) throw unavailable('the "koffi" module does not look like koffi');
  return candidate;
}

async function load(library: string): Promise<GssapiBinding> {
  const koffi = await importKoffi();
  prepareKoffi(koffi); // before the first library: koffi fixes its settings then
  let lib;
  try {
    lib = koffi.load(library);
  } catch (err) {
    throw unavailable(
      `cannot load ${library} (Debian: apt-get install libgssapi-krb5-2): ${message(err)}`,
      err,
    );
  }
  try {
    return new Binding(new NativeGss(koffi, declare(koffi, lib)), library);
  } catch (err) {
    throw unavailable(
      `${library} is not a usable MIT Kerberos GSS-API library: ${message(err)}`,
      err,
    );
  }
}

/**
 * Loads the GSS-API binding (once per library; later calls share it).
 *
 * The library reads KRB5_CONFIG (and KRB5CCNAME / KRB5_KTNAME / KRB5RCACHEDIR defaults) from the
 * process environment whenever it creates a krb5 context, i.e. during calls: set them before the
 * first call and do not change them while calls run (they run on worker threads). Keytab and
 * credential cache can instead be chosen per credential with the binding's options.
 *
 * @throws SocksGssapiError with code `ERR_SOCKS_GSSAPI_UNAVAILABLE` and a one-line message
 *   "GSS-API unavailable: <why>" when koffi is not installed or cannot load, or the library is
 *   missing or not MIT krb5.
 */
export function loadGssapi(options: LoadGssapiOptions = {}): Promise<GssapiBinding> {
  const library = options.library ?? DEFAULT_GSSAPI_LIBRARY;
  let pending = loaded.get(library);
  if (pending === undefined) {
    pending = load(library);
    loaded.set(library, pending);
  }
  return pending;
}
