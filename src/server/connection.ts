/**
 * One accepted client socket: its record, its handshake deadline, the dialect handler that speaks
 * to it, and the ways it can end (relay finished, refusal sent, deadline, drain). The adapter is
 * thin (DESIGN.md rule 8): protocol decisions live in src/protocol and the dialect handlers.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TcpRelay, type RelayResult } from '../relay/tcp.js';
import type { UpstreamReader } from '../relay/upstream-reader.js';
import { newSessionRecord, type SessionRecord } from './session-record.js';
import type { ResolvedServerOptions } from './options.js';
import type { UserDatabase } from '../auth/users.js';
import type { PendingInput } from './commands/context.js';
import type { CommandName } from '../protocol/constants.js';
import { NotAllowedError, type SessionPolicy } from '../rules/index.js';
import { SocksError } from '../errors.js';
import { channels, publish } from '../observability/channels.js';
import type { ConcurrencyCounter, FailureThrottle } from './limits.js';
import type { GssapiService } from './gssapi-service.js';
import type { Encapsulation } from '../gssapi/encapsulation.js';
import type { GssapiSocket } from '../gssapi/stream.js';
import { ClosingSignal } from './closing-signal.js';
import type { AbortLike } from '../dial/abort-like.js';

/** What a connection needs from its server. */
export interface ServerContext {
  readonly options: ResolvedServerOptions;
  /** The current users (may change on reload). */
  users(): UserDatabase | undefined;
  /** Failed authentications per client IP. */
  readonly authThrottle: FailureThrottle;
  /** Live sessions per authenticated user. */
  readonly userSessions: ConcurrencyCounter;
  /** The GSS-API acceptor credential; undefined when GSS-API is not configured. */
  gssapi(): Promise<GssapiService> | undefined;
  /** Users or GSS-API are configured: clients must authenticate. */
  authenticationRequired(): boolean;
}

/**
 * After a refusal the server closes "soon" (RFC 1928 §6 allows up to 10 s). It keeps reading
 * meanwhile so that unread client bytes do not turn the close into a reset that could destroy the
 * reply before the client reads it.
 */
const LINGER_MS = 2000;

const discard = (): void => undefined;

export class Connection {
  /** The client's TCP connection. */
  readonly socket: Socket;
  readonly record: SessionRecord;
  readonly server: ServerContext;
  readonly #closingSignal = new ClosingSignal();
  readonly #onEnd: (conn: Connection) => void;
  #handshakeTimer: NodeJS.Timeout | undefined;
  #relay: TcpRelay | undefined;
  #ended = false;
  #userSlot: string | undefined;
  #stream: Duplex;
  #protection: Encapsulation | undefined;
  #draining = false;
  #drainHook: (() => void) | undefined;
  /** The client IP counted against `maxConnectionsPerIp` (set by the server; released at end). */
  ipSlot: string | undefined;
  /**
   * The user who proved who they are (RFC 1929, HTTP Basic, GSS-API). Not `record.user`, which
   * also shows names that failed or were merely claimed (a SOCKS4 USERID).
   */
  authenticatedUser: string | undefined;
  /**
   * Let in without credentials by an `anonymous: true` access rule although users are configured:
   * only such rules may then allow its destinations.
   */
  anonymousByRule = false;

  constructor(
    id: number,
    socket: Socket,
    server: ServerContext,
    onEnd: (conn: Connection) => void,
    /** The listener's own address when it is bound to one (else the socket is asked). */
    local?: { address: string; port: number },
  ) {
    this.socket = socket;
    this.#stream = socket;
    this.server = server;
    this.#onEnd = onEnd;
    this.record = newSessionRecord(
      id,
      { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
      local ?? { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
    );
    socket.setNoDelay(true);
    socket.on('error', this.#onError);
    socket.once('close', this.#onClose);
    this.#handshakeTimer = setTimeout(this.#onHandshakeTimeout, server.options.handshakeTimeout);
  }

  /**
   * The client's byte stream: the socket itself, or — once a GSS-API session agreed integrity or
   * confidentiality — the encapsulation layer over it (RFC 1961 §5). The SOCKS request, the
   * replies and every relayed byte go through it; only the socket's addresses and lifetime are
   * read from {@link socket}.
   */
  get stream(): Duplex {
    return this.#stream;
  }

  /**
   * Routes the client's bytes through a protecting layer over the socket from now on. The layer
   * owns the socket: destroying it destroys the socket. Its errors (a tampered message) end the
   * session with their code.
   */
  protect(stream: GssapiSocket): void {
    this.#stream = stream;
    this.#protection = stream.encapsulation;
    stream.on('error', this.#onStreamError);
    if (this.closing) stream.destroy();
  }

  /**
   * The GSS-API encapsulation of a protected session (integrity or confidentiality), for what
   * does not travel on {@link stream}: UDP datagrams.
   */
  get protection(): Encapsulation | undefined {
    return this.#protection;
  }

  /** True once the server has started to drain: finish what is under way, start nothing new. */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Sets what the dialect does when the server starts draining (HTTP: close a keep-alive
   * connection that sits between requests at once instead of at the drain timeout).
   */
  onDrain(hook: () => void): void {
    this.#drainHook = hook;
  }

  /** Called by the server when it starts draining. */
  drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#drainHook?.();
  }

  /**
   * Aborted when the client goes away or the session is torn down: cancel dials with it. A real
   * AbortSignal, created on first use; {@link closingSignal} is the cheaper one to prefer.
   */
  get signal(): AbortSignal {
    return this.#closingSignal.signal;
  }

  /** The same event as {@link signal} for code that takes an {@link AbortLike} (dial, resolve). */
  get closingSignal(): AbortLike {
    return this.#closingSignal;
  }

  /**
   * Counts this session against its authenticated user's `maxSessionsPerUser`. Returns false when
   * the user is at the limit. Idempotent; released when the session ends.
   */
  acquireUserSlot(): boolean {
    const user = this.authenticatedUser;
    if (user === undefined || this.#userSlot !== undefined) return true;
    if (!this.server.userSessions.tryAcquire(user, this.server.options.maxSessionsPerUser))
      return false;
    this.#userSlot = user;
    return true;
  }

  /** The access policy for one request of this session (rules see user, dialect, command). */
  policy(command: CommandName): SessionPolicy {
    return this.server.options.rules.session({
      client: this.record.clientAddress,
      user: this.authenticatedUser,
      command,
      dialect: this.record.dialect ?? 'socks5',
      anonymous: this.anonymousByRule && this.authenticatedUser === undefined,
    });
  }

  /**
   * Records why a request failed (its error code; the rule, when a rule denied it) and returns
   * the session's end reason: `denied` for a rule, else `refused`.
   */
  noteFailure(err: unknown): string {
    const code =
      err instanceof SocksError ? err.code : (err as NodeJS.ErrnoException | undefined)?.code;
    if (code !== undefined) this.record.error ??= code;
    if (err instanceof NotAllowedError) {
      this.record.rule = err.rule.name;
      publish(channels.ruleDenied, () => ({ session: this.record, rule: err.rule.name }));
      return 'denied';
    }
    return 'refused';
  }

  /** True once the client socket is gone or a close is under way. */
  get closing(): boolean {
    return this.#closingSignal.aborted;
  }

  /**
   * The (first) reply or a refusal went out — or the handshake was abandoned (`answered` false):
   * the handshake deadline no longer applies.
   */
  handshakeDone(answered = true): void {
    if (this.#handshakeTimer === undefined) return;
    clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    if (answered) this.record.handshakeMs = Date.now() - this.record.startedAt;
  }

  /**
   * Hands the client and upstream sockets to the relay. The client must be paused with the
   * handshake's 'data' listener removed; `pending` is what the client pipelined after its request.
   * `reader`: the upstream was dialled with its `onread` (see UpstreamReader).
   */
  startRelay(upstream: Socket, pending: PendingInput, reader?: UpstreamReader): void {
    this.handshakeDone();
    this.socket.off('error', this.#onError);
    this.socket.off('close', this.#onClose);
    this.#stream.off('error', this.#onStreamError);
    if (this.closing) {
      upstream.destroy();
      this.#stream.destroy();
      this.socket.destroy();
      this.#end();
      return;
    }
    this.#relay = new TcpRelay(
      this.#stream,
      upstream,
      {
        idleTimeout: this.server.options.idleTimeout,
        counters: this.record,
        onEnd: this.#onRelayEnd,
        upstreamReader: reader,
      },
      pending,
    );
  }

  /** Sends a last message (a refusal, or nothing) and closes gracefully. */
  closeWith(bytes: Uint8Array | undefined, reason: string, error?: string): void {
    this.record.endReason ??= reason;
    if (error !== undefined) this.record.error ??= error;
    this.handshakeDone(bytes !== undefined && bytes.length > 0);
    this.#closingSignal.abort();
    // Through the stream: a refusal after a GSS-API level was agreed is wrapped like any reply.
    const stream = this.#stream;
    if (stream.destroyed) return;
    stream.removeAllListeners('data');
    stream.on('data', discard);
    stream.resume();
    if (bytes !== undefined && bytes.length > 0) stream.end(bytes);
    else stream.end();
    const linger = setTimeout(() => stream.destroy(), LINGER_MS);
    linger.unref();
    stream.once('close', () => clearTimeout(linger));
  }

  /** Closes now, whatever the state (drain deadline, handshake deadline). */
  destroy(reason: string): void {
    this.record.endReason ??= reason;
    this.#closingSignal.abort();
    if (this.#relay !== undefined) this.#relay.abort();
    else this.#stream.destroy();
  }

  readonly #onHandshakeTimeout = (): void => {
    this.#handshakeTimer = undefined;
    this.destroy('handshake-timeout');
  };

  readonly #onError = (err: NodeJS.ErrnoException): void => {
    this.record.error ??= err.code ?? 'ERR_SOCKET';
    this.record.endReason ??= 'client-error';
  };

  readonly #onStreamError = (err: Error): void => {
    this.record.error ??= (err as NodeJS.ErrnoException).code ?? 'ERR_SOCKET';
    this.record.endReason ??= 'protection-error';
    this.#closingSignal.abort();
  };

  readonly #onClose = (): void => {
    this.record.endReason ??= 'client-closed';
    this.handshakeDone(false);
    this.#closingSignal.abort();
    this.#end();
  };

  readonly #onRelayEnd = (result: RelayResult): void => {
    this.record.endReason ??= result.reason;
    if (result.error !== undefined) {
      this.record.error ??= (result.error as NodeJS.ErrnoException).code ?? 'ERR_SOCKET';
    }
    this.#closingSignal.abort();
    this.#end();
  };

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#userSlot !== undefined) this.server.userSessions.release(this.#userSlot);
    this.record.duration = Date.now() - this.record.startedAt;
    this.#onEnd(this);
  }
}
