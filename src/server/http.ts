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
import { Command } from '../protocol/constants.js';
import { formatHostPort, socksAddress } from '../protocol/address.js';
import { HttpStatus } from '../protocol/http.js';
import type { BasicCredentials, ConnectRequest, ProxyRequest } from '../protocol/http-proxy.js';
import { HttpServerSession, NEED_DATA, PAUSED } from '../protocol/http-server-session.js';
import { channels, publish } from '../observability/channels.js';
import type { Connection } from './connection.js';
import type { CommandContext } from './commands/context.js';
import { commandRunners } from './commands/index.js';
import { mayProceedAnonymously } from './anonymous.js';
import { ForwardExchange, UpstreamAgent, type ExchangeEnd } from './http-forward.js';
import { httpFailure } from './http-status.js';

const PROXY_AUTHENTICATE = { name: 'Proxy-Authenticate', value: 'Basic realm="ferry"' };
const textDecoder = new TextDecoder('utf-8');

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
            conn.record.reply = event.error.status;
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
      conn.record.reply = HttpStatus.ProxyAuthenticationRequired;
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
      void commandRunners[Command.Connect](this.#connectContext(request));
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
    const users = conn.server.users();
    try {
      if (users === undefined) {
        conn.record.method = 'none';
        return true;
      }
      if (credentials === undefined) return await mayProceedAnonymously(conn);
      if (credentials === 'malformed') {
        this.#publishAuth(undefined, false);
        return false;
      }
      const digest = createHash('sha256')
        .update(this.#salt)
        .update(credentials.username)
        .update(Uint8Array.of(0))
        .update(credentials.password)
        .digest();
      if (this.#verified !== undefined && timingSafeEqual(digest, this.#verified)) return true;
      const user = await users.verify(credentials.username, credentials.password);
      const name = textDecoder.decode(credentials.username);
      this.#publishAuth(name, user !== undefined);
      conn.record.user = user ?? name;
      if (user === undefined) return false;
      conn.record.method = 'username';
      this.#verified = digest;
      return true;
    } finally {
      if (typeof credentials === 'object') credentials.password.fill(0);
    }
  }

  #publishAuth(user: string | undefined, success: boolean): void {
    publish(channels.auth, () => ({
      session: this.#conn.record,
      method: 'username',
      user,
      success,
    }));
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
        conn.record.reply = HttpStatus.Ok;
        this.#write(session.send({ type: 'tunnel' }));
      },
      fail: (err) => {
        const failure = httpFailure(err, formatHostPort(host, port));
        conn.record.reply = failure.status;
        if (conn.closing) return;
        const pieces = session.send({
          type: 'error',
          status: failure.status,
          message: failure.message,
          close: true,
        });
        conn.closeWith(Buffer.concat(pieces), 'refused', failure.code);
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

  /** A response is complete: close, or wait (bounded) for the next request. */
  #afterExchange(): void {
    const conn = this.#conn;
    if (conn.closing) return;
    if (this.#session.closing) {
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
