/**
 * The public shape of the GSS-API binding, as interfaces only: the server's method hook, the
 * client and tests depend on these, never on the FFI code, so they can be handed a fake binding
 * and so that importing them loads nothing. {@link loadGssapi} returns the real one.
 *
 * Lifecycle: everything that holds a library handle has `dispose()`; call it when done (a
 * FinalizationRegistry is only a safety net). Calls that may touch the network or disk —
 * acquiring credentials and each context-establishment step — return promises and run on a
 * worker thread; wrap/unwrap/size limits are CPU-only and synchronous.
 */

/** Credentials the library holds for us (gss_cred_id_t). */
export interface GssCredential {
  readonly usage: 'accept' | 'initiate';
  /** The name asked for, if any (undefined: any key in the keytab / the ccache's principal). */
  readonly name: string | undefined;
  /** gss_release_cred. Idempotent. Contexts already created with it keep working. */
  dispose(): void;
}

export interface AcceptorCredentialOptions {
  /**
   * Keytab holding the service's keys (cred store key `keytab`), e.g. `/etc/ferry/socks.keytab`
   * or `FILE:/path`. Default: the library's default keytab (KRB5_KTNAME, else /etc/krb5.keytab).
   */
  readonly keytab?: string;
  /**
   * Host-based service name to accept as (GSS_C_NT_HOSTBASED_SERVICE), e.g. `rcmd@proxy.example`
   * (curl and Dante use service `rcmd`; RFC 1961 §3.1 suggests `socks`). A bare service (`rcmd`)
   * lets MIT accept that service for any host name in the keytab. Default: no name — accept any
   * principal whose key is in the keytab.
   */
  readonly serviceName?: string;
}

export interface InitiatorCredentialOptions {
  /** Credential cache with the user's TGT (cred store key `ccache`), e.g. `FILE:/tmp/krb5cc`. */
  readonly ccache?: string;
  /** Client keytab from which the library may get a TGT itself (cred store `client_keytab`). */
  readonly clientKeytab?: string;
  /** Kerberos principal to act as, e.g. `alice@EXAMPLE.COM`. Default: the ccache's principal. */
  readonly principal?: string;
}

export interface InitiatorOptions {
  /** The proxy's host-based service name, e.g. `rcmd@proxy.example` (GSS_C_NT_HOSTBASED_SERVICE). */
  readonly target: string;
  /** Default: the default credentials (KRB5CCNAME). */
  readonly credential?: GssCredential;
  /** req_flags; default {@link SOCKS_TCP_CLIENT_FLAGS} (RFC 1961 §3.2). */
  readonly flags?: number;
}

/** One context-establishment step. */
export interface GssStep {
  /** Token to send to the peer (RFC 1961 MTYP 01), or undefined when there is none. */
  readonly token: Uint8Array | undefined;
  /** True once this side's context is established (GSS_S_COMPLETE). */
  readonly complete: boolean;
}

export interface WrapResult {
  readonly token: Uint8Array;
  /** conf_state: whether the library really encrypted (it may not, if CONF is unavailable). */
  readonly confidential: boolean;
}

export interface UnwrapResult {
  readonly data: Uint8Array;
  /** conf_state: whether the token was encrypted (vs. integrity-only). */
  readonly confidential: boolean;
  /** qop_state: the quality of protection applied (0 = default). */
  readonly qop: number;
  /** Supplementary status bits (GssStatus.DuplicateToken ...); 0 on a clean in-order token. */
  readonly supplementary: number;
}

/** A security context (gss_ctx_id_t), either side. */
export interface GssSecurityContext {
  readonly role: 'acceptor' | 'initiator';
  /** True once established; only then may wrap/unwrap be used. */
  readonly complete: boolean;
  /** ret_flags (GssFlag bits): Conf and Integ say which protection levels are possible. */
  readonly flags: number;
  /**
   * The initiator's principal as text, e.g. `alice@EXAMPLE.COM` — on the acceptor side, the
   * authenticated client, which the SOCKS server uses as the session's user. Set once complete.
   */
  readonly sourceName: string | undefined;
  /** The acceptor's principal as text, e.g. `rcmd/proxy.example@EXAMPLE.COM`. Set once complete. */
  readonly targetName: string | undefined;
  /** Seconds the context remains valid, as of completion (GSS_C_INDEFINITE = 0xffffffff). */
  readonly lifetime: number;
  readonly disposed: boolean;
  /**
   * gss_wrap with the default QOP. `confidential` (default false) is conf_req_flag: RFC 1961 §5
   * requires false at protection level 1 and true at level 2.
   * @throws SocksGssapiError (ERR_SOCKS_GSSAPI); SocksUsageError when not complete or disposed.
   */
  wrap(data: Uint8Array, options?: { readonly confidential?: boolean }): WrapResult;
  /**
   * gss_unwrap. A token that was tampered with fails with routine `GSS_S_BAD_SIG` (or
   * `GSS_S_DEFECTIVE_TOKEN`). A replayed, old, early or late token (supplementary status) is also
   * an error unless `allowOutOfSequence` is set (UDP, RFC 1961 §3.2: no sequence flag for UDP).
   * @throws SocksGssapiError (ERR_SOCKS_GSSAPI); SocksUsageError when not complete or disposed.
   */
  unwrap(token: Uint8Array, options?: { readonly allowOutOfSequence?: boolean }): UnwrapResult;
  /**
   * gss_wrap_size_limit: the largest input whose wrapped token fits in `maxTokenLength` octets
   * (for RFC 1961 framing, at most 65535).
   */
  wrapSizeLimit(maxTokenLength: number, confidential: boolean): number;
  /**
   * gss_export_sec_context: an interprocess token from which {@link GssapiBinding.importContext}
   * recreates this context (e.g. in another process). This context is disposed by the call.
   * The token holds the session keys: treat it as a secret.
   */
  exportContext(): Uint8Array;
  /** gss_delete_sec_context. Idempotent. */
  dispose(): void;
}

/** The server side: feed it each MTYP 01 token from the client. */
export interface GssAcceptor extends GssSecurityContext {
  readonly role: 'acceptor';
  /**
   * gss_accept_sec_context on a worker thread. On failure the context is disposed and the
   * error thrown (the server then sends the RFC 1961 abort `01 FF`).
   * @throws SocksGssapiError; SocksUsageError when a step is already running or complete.
   */
  step(token: Uint8Array): Promise<GssStep>;
}

/** The client side: call step() first with no token, then with each token from the server. */
export interface GssInitiator extends GssSecurityContext {
  readonly role: 'initiator';
  /**
   * gss_init_sec_context on a worker thread (it may contact the KDC).
   * @throws SocksGssapiError; SocksUsageError when a step is already running or complete.
   */
  step(token?: Uint8Array): Promise<GssStep>;
}

/** What {@link loadGssapi} returns. */
export interface GssapiBinding {
  /** The shared library that was loaded, e.g. `libgssapi_krb5.so.2`. */
  readonly library: string;
  /** gss_acquire_cred_from(GSS_C_ACCEPT) on a worker thread (reads the keytab). */
  acquireAcceptorCredential(options?: AcceptorCredentialOptions): Promise<GssCredential>;
  /** gss_acquire_cred_from(GSS_C_INITIATE) on a worker thread (reads the ccache). */
  acquireInitiatorCredential(options?: InitiatorCredentialOptions): Promise<GssCredential>;
  /** A new acceptor context. Without a credential: the default keytab, any principal in it. */
  createAcceptor(credential?: GssCredential): GssAcceptor;
  /** A new initiator context for the krb5 mechanism. */
  createInitiator(options: InitiatorOptions): GssInitiator;
  /** gss_import_sec_context: a complete context from {@link GssSecurityContext.exportContext}. */
  importContext(token: Uint8Array): GssSecurityContext;
  /** Handles not yet released, for leak checks. */
  liveHandles(): { readonly credentials: number; readonly contexts: number };
}
