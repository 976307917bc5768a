/**
 * The {@link GssapiBinding} over a loaded MIT libgssapi_krb5: credentials from a keytab or a
 * credential cache chosen per call (gss_acquire_cred_from's "cred store", MIT krb5 ≥ 1.11), so
 * the server never needs to set KRB5_KTNAME in its own environment; contexts for either side.
 */
import { SocksUsageError, UsageErrorCode } from '../errors.js';
import { Acceptor, ImportedContext, Initiator } from './context.js';
import { Credential } from './credential.js';
import type { CredStore, Out, Pointer } from './ffi.js';
import type { NativeGss } from './native.js';
import { CredUsage, SOCKS_TCP_CLIENT_FLAGS, isGssError } from './status.js';
import type {
  AcceptorCredentialOptions,
  GssAcceptor,
  GssapiBinding,
  GssCredential,
  GssInitiator,
  GssSecurityContext,
  InitiatorCredentialOptions,
  InitiatorOptions,
} from './types.js';

function nonEmpty(field: string, value: string | undefined): string | undefined {
  if (value !== undefined && (typeof value !== 'string' || value === '' || value.includes('\0'))) {
    throw new SocksUsageError(
      UsageErrorCode.InvalidOption,
      `${field}: must be a non-empty string without NUL`,
    );
  }
  return value;
}

export class Binding implements GssapiBinding {
  readonly library: string;
  readonly #gss: NativeGss;

  constructor(gss: NativeGss, library: string) {
    this.#gss = gss;
    this.library = library;
  }

  acquireAcceptorCredential(options: AcceptorCredentialOptions = {}): Promise<GssCredential> {
    const keytab = nonEmpty('keytab', options.keytab);
    const serviceName = nonEmpty('serviceName', options.serviceName);
    const store: Record<string, string> = {};
    if (keytab !== undefined) store.keytab = keytab;
    return this.#acquire('accept', serviceName, this.#gss.oids.hostbasedService, store);
  }

  acquireInitiatorCredential(options: InitiatorCredentialOptions = {}): Promise<GssCredential> {
    const ccache = nonEmpty('ccache', options.ccache);
    const clientKeytab = nonEmpty('clientKeytab', options.clientKeytab);
    const principal = nonEmpty('principal', options.principal);
    const store: Record<string, string> = {};
    if (ccache !== undefined) store.ccache = ccache;
    if (clientKeytab !== undefined) store.client_keytab = clientKeytab;
    return this.#acquire('initiate', principal, this.#gss.oids.krb5PrincipalName, store);
  }

  async #acquire(
    usage: 'accept' | 'initiate',
    nameText: string | undefined,
    nameType: Pointer,
    store: Record<string, string>,
  ): Promise<GssCredential> {
    const gss = this.#gss;
    const name = nameText === undefined ? null : await gss.importName(nameText, nameType);
    try {
      const elements = Object.entries(store).map(([key, value]) => ({ key, value }));
      const credStore: CredStore | null =
        elements.length === 0 ? null : { count: elements.length, elements };
      const cred: Out<Pointer> = [null];
      const minor: Out<number> = [0];
      const major = await gss.callAsync(
        'gss_acquire_cred_from',
        gss.fns.gss_acquire_cred_from,
        minor,
        name,
        0,
        null,
        usage === 'accept' ? CredUsage.Accept : CredUsage.Initiate,
        credStore,
        cred,
        null,
        null,
      );
      if (isGssError(major)) {
        if (cred[0] !== null) gss.fns.gss_release_cred([0], cred);
        const what = Object.entries(store)
          .map(([k, v]) => `${k}=${v}`)
          .concat(nameText === undefined ? [] : [`name=${nameText}`])
          .join(' ');
        throw gss.error(`gss_acquire_cred_from(${usage})`, major, minor[0], what || undefined);
      }
      return new Credential(gss, cred[0], usage, nameText);
    } finally {
      gss.releaseName(name);
    }
  }

  createAcceptor(credential?: GssCredential): GssAcceptor {
    return new Acceptor(this.#gss, credential);
  }

  createInitiator(options: InitiatorOptions): GssInitiator {
    const target = nonEmpty('target', options.target);
    if (target === undefined)
      throw new SocksUsageError(UsageErrorCode.InvalidOption, 'target: required');
    const flags = options.flags ?? SOCKS_TCP_CLIENT_FLAGS;
    if (!Number.isInteger(flags) || flags < 0 || flags > 0xffffffff) {
      throw new SocksUsageError(UsageErrorCode.InvalidOption, 'flags: must be a uint32');
    }
    return new Initiator(this.#gss, target, flags, options.credential);
  }

  importContext(token: Uint8Array): GssSecurityContext {
    const gss = this.#gss;
    const context: Out<Pointer> = [null];
    const minor: Out<number> = [0];
    const major = gss.fns.gss_import_sec_context(minor, gss.bufferIn(token), context);
    if (isGssError(major)) {
      if (context[0] !== null) gss.fns.gss_delete_sec_context([0], context, null);
      throw gss.error('gss_import_sec_context', major, minor[0]);
    }
    return new ImportedContext(gss, context[0]);
  }

  liveHandles(): { readonly credentials: number; readonly contexts: number } {
    return { ...this.#gss.counts };
  }
}
