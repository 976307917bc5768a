/**
 * The server's GSS-API options (SOCKS5 method 01, RFC 1961): validated and frozen like every
 * other option; the credential itself is acquired asynchronously by the server (listen()).
 */
import { invalidOption } from '../errors.js';
import { ProtectionLevel } from '../protocol/gssapi.js';
import type { GssapiBinding } from '../gssapi/types.js';

/** The protection levels an operator can allow, by name. */
export type GssapiLevelName = 'clear' | 'integrity' | 'confidentiality';

export const gssapiLevelNames: readonly GssapiLevelName[] = [
  'clear',
  'integrity',
  'confidentiality',
];

const levelByName: Readonly<Record<GssapiLevelName, ProtectionLevel>> = {
  clear: ProtectionLevel.Clear,
  integrity: ProtectionLevel.Integrity,
  confidentiality: ProtectionLevel.Confidentiality,
};

export interface GssapiServerOptions {
  /**
   * The keytab with the service's keys, e.g. `/etc/ferry/socks.keytab` (`FILE:` prefix
   * optional). Default: the library's default keytab (KRB5_KTNAME, else /etc/krb5.keytab).
   */
  readonly keytab?: string | undefined;
  /**
   * The service to accept as: a bare service such as `rcmd` (what curl and Dante clients ask
   * for; RFC 1961 §3.1 suggests `socks`) accepts it for any host name in the keytab;
   * `rcmd@proxy.example` only for that host. Default: any principal whose key is in the keytab.
   */
  readonly serviceName?: string | undefined;
  /**
   * Protection levels the server agrees to (RFC 1961 §4.3), in order of preference. The client
   * proposes one: the server answers with it when it is allowed (and the security context offers
   * it), else with the first allowed level the context offers — the client closes if it cannot
   * accept that (§4.4). `clear` (00, not in RFC 1961) authenticates only, with no per-message
   * protection: what curl speaks (it proposes 00) and Dante's `enctype: clear`.
   * Default `['integrity', 'confidentiality']`.
   */
  readonly levels?: readonly GssapiLevelName[] | undefined;
  /**
   * Also accept the NEC variant of the level negotiation, whose level octet travels unwrapped
   * (curl `--socks5-gssapi-nec`): a one-octet token is read as a bare level and answered bare.
   * That octet is not integrity-protected, so an attacker on the path could change it. Default
   * false.
   */
  readonly nec?: boolean | undefined;
  /** The GSS-API shared library. Default `libgssapi_krb5.so.2`. */
  readonly library?: string | undefined;
  /** A loaded binding to use instead of loading `library` (tests, embedding applications). */
  readonly binding?: GssapiBinding | undefined;
}

export interface ResolvedGssapiOptions {
  readonly keytab: string | undefined;
  readonly serviceName: string | undefined;
  /** Allowed levels in order of preference, as their octets. */
  readonly levels: readonly ProtectionLevel[];
  readonly nec: boolean;
  readonly library: string | undefined;
  readonly binding: GssapiBinding | undefined;
}

export const gssapiDefaults = Object.freeze({
  levels: Object.freeze(['integrity', 'confidentiality'] as const),
  nec: false,
});

function text(field: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '' || value.includes('\0')) {
    throw invalidOption(field, 'must be a non-empty string without NUL');
  }
  return value;
}

/** Validates `gssapi`; undefined when GSS-API is not configured. */
export function resolveGssapiOptions(
  options: GssapiServerOptions | undefined,
): ResolvedGssapiOptions | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || (options as unknown) === null) {
    throw invalidOption('gssapi', 'must be an object');
  }
  const names = options.levels ?? gssapiDefaults.levels;
  if (!Array.isArray(names) || names.length === 0) {
    throw invalidOption(
      'gssapi.levels',
      `must list at least one of ${gssapiLevelNames.join(', ')}`,
    );
  }
  const levels: ProtectionLevel[] = [];
  for (const name of names as readonly unknown[]) {
    const level = typeof name === 'string' ? levelByName[name as GssapiLevelName] : undefined;
    if (level === undefined) {
      throw invalidOption(
        'gssapi.levels',
        `unknown level ${JSON.stringify(name)} (expected ${gssapiLevelNames.join(', ')})`,
      );
    }
    if (levels.includes(level)) {
      throw invalidOption('gssapi.levels', `"${String(name)}" is listed twice`);
    }
    levels.push(level);
  }
  if (options.nec !== undefined && typeof options.nec !== 'boolean') {
    throw invalidOption('gssapi.nec', 'must be true or false');
  }
  const binding = options.binding;
  if (binding !== undefined && typeof binding.acquireAcceptorCredential !== 'function') {
    throw invalidOption('gssapi.binding', 'must be a GssapiBinding (from loadGssapi())');
  }
  return Object.freeze({
    keytab: text('gssapi.keytab', options.keytab),
    serviceName: text('gssapi.serviceName', options.serviceName),
    levels: Object.freeze(levels),
    nec: options.nec ?? gssapiDefaults.nec,
    library: text('gssapi.library', options.library),
    binding,
  });
}

/** Whether two resolutions need different credentials (keytab, service, library, binding). */
export function sameGssapiCredential(
  a: ResolvedGssapiOptions | undefined,
  b: ResolvedGssapiOptions | undefined,
): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.keytab === b.keytab &&
    a.serviceName === b.serviceName &&
    a.library === b.library &&
    a.binding === b.binding
  );
}
