/**
 * The server side of the GSS-API method's sub-negotiation (RFC 1961 §3–§4), after the server
 * selected METHOD 01 and before the SOCKS request:
 *
 * 1. Context establishment (§3): each MTYP 01 token from the client goes to
 *    gss_accept_sec_context on a worker thread (the handshake deadline still runs); its output
 *    token goes back as MTYP 01 — a zero-length one when the context completes with nothing to
 *    send ("to signal to the client that it is ready", §3.7 of the server's part).
 * 2. Protection-level negotiation (§4): the client's MTYP 02 token is its proposed level wrapped
 *    with conf_req_flag FALSE (§4.4) — or, with `nec`, a bare octet — and the server answers the
 *    level it chose the same way ({@link chooseProtectionLevel}).
 * 3. At `clear` the context is deleted and the SOCKS request follows in clear (curl, Dante);
 *    at integrity or confidentiality everything after is MTYP 03 (src/gssapi/stream.ts).
 *
 * Any failure — a context the library refuses, a malformed message, a level nobody can agree
 * on — is answered with the abort message `01 FF` (§3.8) and the connection closed. An abort
 * from the client closes it without an answer.
 */
import { ByteQueue } from '../protocol/byte-queue.js';
import { NEED_MORE } from '../protocol/decode.js';
import {
  GSSAPI_ABORT,
  ProtectionLevel,
  decodeGssapiMessage,
  decodeProtectionLevel,
  encodeGssapiMessage,
  encodeProtectionLevel,
  protectionLevelNames,
  type GssapiMessage,
} from '../protocol/gssapi.js';
import {
  GssapiErrorCode,
  ProtocolErrorCode,
  SocksError,
  SocksGssapiError,
  SocksProtocolError,
} from '../errors.js';
import { GssFlag } from '../gssapi/status.js';
import type { GssAcceptor } from '../gssapi/types.js';
import { Encapsulation } from '../gssapi/encapsulation.js';
import { GssapiSocket } from '../gssapi/stream.js';
import { channels, publish } from '../observability/channels.js';
import type { Connection } from './connection.js';
import type { ResolvedGssapiOptions } from './gssapi-options.js';

/**
 * Context tokens the server accepts before giving up (Kerberos needs one, or two with
 * mutual authentication and a replay check; SPNEGO a few more).
 */
const MAX_CONTEXT_ROUNDS = 8;

/**
 * The level the server answers (RFC 1961 §4.2: it "returns the security context protection
 * level which it agrees to — which may differ from that requested"): the client's proposal when
 * it is allowed and the context offers it, else the first allowed level the context offers;
 * undefined when there is none. `selective` (03) is never agreed.
 */
export function chooseProtectionLevel(
  proposed: ProtectionLevel,
  allowed: readonly ProtectionLevel[],
  contextFlags: number,
): ProtectionLevel | undefined {
  const offered = (level: ProtectionLevel): boolean =>
    level === ProtectionLevel.Clear ||
    (level === ProtectionLevel.Integrity && (contextFlags & GssFlag.Integ) !== 0) ||
    (level === ProtectionLevel.Confidentiality && (contextFlags & GssFlag.Conf) !== 0);
  const usable = allowed.filter(offered);
  return usable.includes(proposed) ? proposed : usable[0];
}

/** How the sub-negotiation ended well. */
export type GssapiOutcome =
  | { readonly level: typeof ProtectionLevel.Clear; readonly pending: Uint8Array }
  | { readonly level: ProtectionLevel; readonly stream: GssapiSocket };

function codeOf(err: unknown): string {
  return err instanceof SocksError ? err.code : 'ERR_SOCKS_GSSAPI';
}

export class GssapiServerMethod {
  readonly #conn: Connection;
  readonly #options: ResolvedGssapiOptions;
  readonly #onDone: (outcome: GssapiOutcome) => void;
  readonly #buffer = new ByteQueue();
  #acceptor: GssAcceptor | undefined;
  #phase: 'context' | 'level' | 'done' = 'context';
  #busy = false;
  #ended = false;
  #rounds = 0;

  constructor(
    conn: Connection,
    options: ResolvedGssapiOptions,
    onDone: (outcome: GssapiOutcome) => void,
  ) {
    this.#conn = conn;
    this.#options = options;
    this.#onDone = onDone;
    conn.record.method = 'gssapi';
    // Whatever ends the connection early ends the context with it.
    conn.signal.addEventListener('abort', this.#dispose, { once: true });
  }

  /** Bytes from the client (and whether it has sent its FIN). */
  receive(bytes: Uint8Array, ended: boolean): void {
    this.#buffer.push(bytes);
    this.#ended ||= ended;
    if (!this.#busy) void this.#advance();
  }

  async #advance(): Promise<void> {
    const conn = this.#conn;
    while (this.#phase !== 'done' && !conn.closing) {
      let message: GssapiMessage;
      try {
        const decoded = decodeGssapiMessage(this.#buffer.view());
        if (decoded === NEED_MORE) {
          if (this.#ended) conn.closeWith(undefined, 'client-closed');
          return;
        }
        this.#buffer.consume(decoded.length);
        message = decoded.value;
      } catch (err) {
        this.#fail(err, 'protocol-error');
        return;
      }
      if (message.type === 'abort') {
        this.#dispose();
        conn.closeWith(undefined, 'client-aborted', GssapiErrorCode.Aborted);
        return;
      }
      if (this.#phase === 'context' && message.type === 'context') {
        this.#busy = true;
        conn.stream.pause();
        try {
          await this.#contextStep(message.token);
        } finally {
          this.#busy = false;
        }
        if (this.#gone()) return;
        conn.stream.resume();
        continue;
      }
      if (this.#phase === 'level' && message.type === 'protection-level') {
        this.#negotiateLevel(message.token);
        return;
      }
      this.#fail(
        new SocksProtocolError(
          ProtocolErrorCode.UnexpectedData,
          `GSS-API ${message.type} message while expecting ${this.#phase === 'context' ? 'a context token' : 'the protection level'}`,
        ),
        'protocol-error',
      );
      return;
    }
  }

  async #contextStep(token: Uint8Array): Promise<void> {
    const conn = this.#conn;
    const server = conn.server;
    const ip = conn.record.clientAddress;
    if (this.#acceptor === undefined) {
      if (server.authThrottle.blocked(ip, Date.now())) {
        this.#publishAuth(undefined, true);
        this.#fail(undefined, 'auth-failed', 'ERR_SOCKS_AUTH_THROTTLED');
        return;
      }
      let service;
      try {
        service = await server.gssapi();
      } catch (err) {
        this.#fail(err, 'gssapi-unavailable');
        return;
      }
      if (service === undefined || conn.closing) {
        this.#fail(undefined, 'gssapi-unavailable', GssapiErrorCode.Unavailable);
        return;
      }
      this.#acceptor = service.binding.createAcceptor(service.credential);
    }
    const acceptor = this.#acceptor;
    if (++this.#rounds > MAX_CONTEXT_ROUNDS) {
      this.#fail(
        new SocksProtocolError(
          ProtocolErrorCode.BadMessage,
          `GSS-API context not established after ${MAX_CONTEXT_ROUNDS} tokens`,
        ),
        'auth-failed',
      );
      return;
    }
    let step;
    try {
      step = await acceptor.step(token);
    } catch (err) {
      if (conn.closing) return;
      this.#authFailed(err);
      return;
    }
    if (conn.closing) return;
    const out = step.token ?? new Uint8Array(0);
    if (out.length > 0 || step.complete) {
      conn.socket.write(encodeGssapiMessage({ type: 'context', token: out }));
    }
    if (!step.complete) return;
    const principal = acceptor.sourceName;
    if (principal === undefined || principal === '') {
      this.#authFailed(
        new SocksGssapiError(GssapiErrorCode.Failed, 'the GSS-API context has no initiator name'),
      );
      return;
    }
    conn.authenticatedUser = principal;
    conn.record.user = principal;
    this.#publishAuth(principal, false);
    this.#phase = 'level';
  }

  #negotiateLevel(token: Uint8Array): void {
    const conn = this.#conn;
    const acceptor = this.#acceptor;
    if (acceptor === undefined) return;
    // The NEC form is a bare octet; a real gss_wrap token is never one octet long.
    const nec = token.length === 1;
    let chosen: ProtectionLevel | undefined;
    let answer: Uint8Array;
    try {
      if (nec && !this.#options.nec) {
        throw new SocksProtocolError(
          ProtocolErrorCode.BadMessage,
          'the client sent its protection level unwrapped (the NEC variant); set gssapi.nec to accept it',
        );
      }
      const proposed = decodeProtectionLevel(nec ? token : acceptor.unwrap(token).data);
      chosen = chooseProtectionLevel(proposed, this.#options.levels, acceptor.flags);
      if (chosen === undefined) {
        throw new SocksGssapiError(
          GssapiErrorCode.Level,
          `no allowed protection level for a client proposing ${protectionLevelNames[proposed]}`,
        );
      }
      const level = encodeProtectionLevel(chosen);
      answer = nec ? level : acceptor.wrap(level, { confidential: false }).token;
    } catch (err) {
      this.#fail(err, 'auth-failed');
      return;
    }
    conn.socket.write(encodeGssapiMessage({ type: 'protection-level', token: answer }));
    conn.record.protection = protectionLevelNames[chosen] as
      'clear' | 'integrity' | 'confidentiality';
    this.#phase = 'done';
    conn.signal.removeEventListener('abort', this.#dispose);
    const pending = this.#buffer.take();
    if (chosen === ProtectionLevel.Clear) {
      // Authentication only: the context has no further use (curl deletes its own too).
      this.#dispose();
      this.#onDone({ level: chosen, pending });
      return;
    }
    let stream: GssapiSocket;
    try {
      stream = new GssapiSocket(conn.socket, new Encapsulation(acceptor, chosen), {
        initial: pending,
        ended: this.#ended,
      });
    } catch (err) {
      this.#fail(err, 'protection-error');
      return;
    }
    this.#acceptor = undefined; // the stream owns the context now
    this.#onDone({ level: chosen, stream });
  }

  #authFailed(err: unknown): void {
    const conn = this.#conn;
    const ip = conn.record.clientAddress;
    this.#publishAuth(undefined, false, err);
    if (conn.server.authThrottle.fail(ip, Date.now())) {
      const { authFailureLimit: failures, authFailureWindow: window } = conn.server.options;
      publish(channels.authThrottled, () => ({ clientAddress: ip, failures, window }));
    }
    this.#fail(err, 'auth-failed');
  }

  #publishAuth(user: string | undefined, throttled: boolean, error?: unknown): void {
    const conn = this.#conn;
    publish(channels.auth, () => ({
      session: conn.record,
      method: 'gssapi',
      user,
      success: user !== undefined,
      throttled,
      ...(error === undefined ? {} : { error: codeOf(error) }),
    }));
  }

  /** Answers `01 FF` and closes, recording why. */
  #fail(err: unknown, reason: string, code?: string): void {
    this.#phase = 'done';
    this.#dispose();
    const conn = this.#conn;
    if (conn.closing) return;
    // On the socket as it is: nothing is encapsulated before the level is agreed.
    conn.closeWith(GSSAPI_ABORT.slice(), reason, code ?? codeOf(err));
  }

  // A method, not the getter: TypeScript would keep a narrowing of `closing` across an await.
  #gone(): boolean {
    return this.#conn.closing;
  }

  readonly #dispose = (): void => {
    this.#acceptor?.dispose();
    this.#acceptor = undefined;
  };
}
