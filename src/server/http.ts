/**
 * The HTTP proxy dialect: drives the sans-IO HttpServerSession over a client socket.
 * `CONNECT host:port` goes to the shared command table (the same CONNECT as SOCKS, then the TCP
 * relay); an absolute-URI request (`GET http://host/path`) is forwarded by a ForwardExchange, one
 * exchange at a time, keep-alive and pipelining included.
 *
 * Authentication: with users configured, every request needs `Proxy-Authorization: Basic`
 * checked against the same users file (or the `allowUnauthenticated` hook's consent); otherwise
 * `407` with `Proxy-Authenticate: Basic realm="ferry"` (RFC 9110 §11.7.1, RFC 7617). A
 * connection remembers only a salted SHA-256 of the credentials it verified, so later requests
 * on it carrying the same header do not pay for scrypt again; different credentials are verified
 * afresh.
 *
 * Deadlines: the first request head is bound by the connection's handshake deadline; after each
 * response the next complete head must arrive within the same `handshakeTimeout`, or the idle
 * keep-alive connection is closed; an exchange in progress is bound by `idleTimeout`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Command, Reply } from '../protocol/constants.js';
import { formatHostPort, socksAddress } from '../protocol/address.js';
import { HttpStatus } from '../protocol/http.js';
import type { BasicCredentials, ConnectRequest, ProxyRequest } from '../protocol/http-proxy.js';
import { HttpServerSession, NEED_DATA, PAUSED } from '../protocol/http-server-session.js';
import { replyForError, SocksDialError } from '../errors.js';
import type { Connection } from './connection.js';
import type { CommandContext } from './commands/context.js';
import { runCommand } from './commands/index.js';
import { mayProceedAnonymously } from './anonymous.js';
import { authenticateUser } from './authenticate.js';
import { ForwardExchange, UpstreamAgent, type ExchangeEnd } from './http-forward.js';
import { httpFailure } from './http-status.js';

const PROXY_AUTHENTICATE = { name: 'Proxy-Authenticate', value: 'Basic realm="ferry"' };

export class HttpHandler {
  readonly #conn: Connection;
  readonly #session: HttpServerSession;
  readonly #agent: UpstreamAgent;
  readonly #salt = randomBytes(16);
  #verified: Buffer | undefined;
  #exchange: ForwardExchange | undefined;
  #clientEnded = false;
  /** A request is being authorised or dispatched: events wait. */
  #busy = false;
  /** The upstream request's buffer is full: the client is paused until it drains. */
  #waitingDrain = false;
  #keepAliveTimer: NodeJS.Timeout | undefined;

  constructor(conn: Connection) {
    this.#conn = conn;
    conn.record.dialect = 'http';
    this.#session = new HttpServerSession(conn.server.options.httpMaxHeaderSize);
    this.#agent = new UpstreamAgent(conn);
    conn.socket.on('data', this.#onData);
    conn.socket.once('end', this.#onEnd);
    conn.signal.addEventListener('abort', this.#onAbort, { once: true });
    conn.onDrain(this.#onServerDrain);
  }

  /** Feeds bytes already read by the dialect detector. */
  receive(chunk: Uint8Array): void {
    this.#session.receiveData(chunk);
    this.#advance();
  }

  readonly #onData = (chunk: Buffer): void => {
    this.receive(chunk);
  };

  readonly #onEnd = (): void => {
    this.#clientEnded = true;
    this.#advance();
  };

  /** The connection is closing (client gone, refusal, drain): nothing upstream may outlive it. */
  readonly #onAbort = (): void => {
    this.#clearKeepAlive();
    this.#exchange?.abort();
    this.#exchange = undefined;
    this.#agent.destroy();
  };

  #advance(): void {
    const conn = this.#conn;
    const socket = conn.socket;
    while (!conn.closing && !this.#busy && !this.#waitingDrain) {
      const event = this.#session.nextEvent();
      if (event === NEED_DATA) {
        if (this.#clientEnded) this.#clientGone();
        else socket.resume();
        return;
      }
      if (event === PAUSED) {
        socket.pause();
        return;
      }
      switch (event.type) {
        case 'request':
          this.#busy = true;
          socket.pause();
          void this.#onRequest(event.request);
          return;
        case 'data':
          if (this.#exchange?.writeBody(event.data) === false) {
            this.#waitingDrain = true;
            socket.pause();
            return;
          }
          break;
        case 'end-of-request':
          this.#exchange?.endBody();
          break;
        case 'protocol-error':
          this.#exchange?.abort();
          this.#exchange = undefined;
          if (event.response.length > 0) {
            conn.record.httpStatus = event.error.status;
            conn.closeWith(event.response, 'protocol-error', event.error.code);
          } else {
            conn.record.error ??= event.error.code;
            conn.destroy('protocol-error');
          }
          return;
      }
    }
  }

  /** The client sent its FIN and we need more bytes: done between requests, else cut off. */
  #clientGone(): void {
    const between = this.#session.state === 'head' && this.#session.bufferedLength === 0;
    if (!between) {
      this.#exchange?.abort();
      this.#exchange = undefined;
    }
    this.#conn.closeWith(undefined, between ? 'closed' : 'client-closed');
  }

  async #onRequest(request: ProxyRequest): Promise<void> {
    const conn = this.#conn;
    this.#clearKeepAlive();
    conn.handshakeDone();
    conn.record.httpRequests++;
    conn.record.httpMethod = request.method;
    conn.record.command = 'connect';
    conn.record.destination = formatHostPort(request.target.host, request.target.port);
    const allowed = await this.#authenticate(request.credentials);
    if (conn.closing) return;
    if (!allowed) {
      conn.record.httpStatus = HttpStatus.ProxyAuthenticationRequired;
      this.#write(
        this.#session.send({
          type: 'error',
          status: HttpStatus.ProxyAuthenticationRequired,
          message: 'ferry: proxy authentication required',
          headers: [PROXY_AUTHENTICATE],
        }),
      );
      this.#busy = false;
      this.#afterExchange();
      return;
    }
    if (request.kind === 'connect') {
      runCommand(Command.Connect, this.#connectContext(request));
      return;
    }
    if (!conn.acquireUserSlot()) {
      this.#refuse(
        new SocksDialError(
          'ERR_SOCKS_USER_LIMIT',
          `user ${conn.record.user ?? ''} is at maxSessionsPerUser`,
          Reply.NotAllowed,
        ),
        formatHostPort(request.target.host, request.target.port),
      );
      this.#busy = false;
      this.#afterExchange();
      return;
    }
    this.#exchange = new ForwardExchange(conn, this.#session, request, this.#agent, {
      onEnd: this.#onExchangeEnd,
      onDrain: this.#onDrain,
    });
    this.#busy = false;
    this.#advance();
  }

  async #authenticate(credentials: BasicCredentials | 'malformed' | undefined): Promise<boolean> {
    const conn = this.#conn;
    if (conn.server.users() === undefined) {
      if (typeof credentials === 'object') credentials.password.fill(0);
      conn.record.method = 'none';
      return true;
    }
    if (credentials === undefined) return mayProceedAnonymously(conn);
    if (credentials === 'malformed') {
      // Unusable credentials count as a failed login (throttle, auth event) like a wrong password.
      return (await authenticateUser(conn, new Uint8Array(0), new Uint8Array(0))) !== undefined;
    }
    const digest = createHash('sha256')
      .update(this.#salt)
      .update(credentials.username)
      .update(Uint8Array.of(0))
      .update(credentials.password)
      .digest();
    if (this.#verified !== undefined && timingSafeEqual(digest, this.#verified)) {
      credentials.password.fill(0);
      return true;
    }
    // authenticateUser zeroes the password, applies the failure throttle and publishes the event.
    const user = await authenticateUser(conn, credentials.username, credentials.password);
    if (user === undefined) return false;
    this.#verified = digest;
    return true;
  }

  /** A refusal from ferry itself (403/502/504) for the current request; the connection goes on. */
  #refuse(err: unknown, destination: string): void {
    const conn = this.#conn;
    const failure = httpFailure(err, destination);
    conn.record.reply = replyForError(err);
    conn.record.httpStatus = failure.status;
    conn.noteFailure(err);
    this.#write(
      this.#session.send({ type: 'error', status: failure.status, message: failure.message }),
    );
  }

  #connectContext(request: ConnectRequest): CommandContext {
    const conn = this.#conn;
    const session = this.#session;
    const { host, port } = request.target;
    return {
      conn,
      destination: socksAddress(host, port),
      succeed: () => {
        conn.handshakeDone();
        conn.record.reply = Reply.Succeeded;
        conn.record.httpStatus = HttpStatus.Ok;
        this.#write(session.send({ type: 'tunnel' }));
      },
      fail: (err) => {
        const failure = httpFailure(err, formatHostPort(host, port));
        conn.record.reply = replyForError(err);
        conn.record.httpStatus = failure.status;
        if (conn.closing) return;
        const pieces = session.send({
          type: 'error',
          status: failure.status,
          message: failure.message,
          close: true,
        });
        conn.closeWith(Buffer.concat(pieces), conn.noteFailure(err));
      },
      takePending: () => {
        conn.socket.off('data', this.#onData);
        conn.socket.off('end', this.#onEnd);
        conn.signal.removeEventListener('abort', this.#onAbort);
        this.#clearKeepAlive();
        this.#agent.destroy();
        return { data: session.takeTrailingData(), ended: this.#clientEnded };
      },
    };
  }

  readonly #onExchangeEnd = (end: ExchangeEnd): void => {
    this.#exchange = undefined;
    this.#waitingDrain = false;
    if (end.broken) {
      // The response is cut short: only a reset (or a missing last chunk) tells the client.
      this.#conn.destroy('upstream-error');
      return;
    }
    this.#afterExchange();
  };

  readonly #onDrain = (): void => {
    if (!this.#waitingDrain) return;
    this.#waitingDrain = false;
    this.#advance();
  };

  /** The server drains: a connection idle between requests closes now, a busy one after it. */
  readonly #onServerDrain = (): void => {
    if (this.#keepAliveTimer !== undefined && this.#session.bufferedLength === 0) {
      this.#clearKeepAlive();
      this.#conn.closeWith(undefined, 'closed');
    }
  };

  /** A response is complete: close, or wait (bounded) for the next request. */
  #afterExchange(): void {
    const conn = this.#conn;
    if (conn.closing) return;
    if (this.#session.closing || conn.draining) {
      conn.closeWith(undefined, 'closed');
      return;
    }
    this.#keepAliveTimer = setTimeout(() => {
      this.#keepAliveTimer = undefined;
      conn.closeWith(undefined, 'keepalive-timeout');
    }, conn.server.options.handshakeTimeout);
    this.#keepAliveTimer.unref();
    this.#advance();
  }

  #clearKeepAlive(): void {
    if (this.#keepAliveTimer !== undefined) clearTimeout(this.#keepAliveTimer);
    this.#keepAliveTimer = undefined;
  }

  #write(pieces: readonly Uint8Array[]): void {
    const socket = this.#conn.socket;
    if (socket.destroyed) return;
    socket.cork();
    for (const p of pieces) socket.write(p);
    socket.uncork();
  }
}
