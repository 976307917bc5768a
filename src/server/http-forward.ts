/**
 * One forwarded HTTP exchange (`GET http://host/path` through the proxy): the request goes
 * upstream through node:http, the response comes back through the session's framing, both bodies
 * streamed with backpressure.
 *
 * Why node:http for the upstream side (and not a hand-rolled client): responses come from
 * arbitrary origins, the least trusted input a forward proxy parses, and llhttp is a hardened,
 * fuzzed parser that already handles what a response can be — chunked, Content-Length or
 * close-delimited bodies, 1xx interim responses, HEAD/204/304 without a body, conflicting framing
 * (rejected). ferry only chooses the framing toward the client (http-server-session.ts) and
 * declares the request framing explicitly (Content-Length or Transfer-Encoding: chunked, never
 * node's per-method default). Connections are made by ferry's own dialer (Happy Eyeballs, connect
 * timeout, abort with the client) through an {@link UpstreamAgent} that belongs to one client
 * connection: keep-alive upstream follows keep-alive downstream, and no upstream socket is ever
 * shared between clients.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { dialTcp } from '../dial/connect.js';
import { resolveAllowed } from '../dial/destination.js';
import { sourceFor } from './commands/connect.js';
import { formatHostPort } from '../protocol/address.js';
import { Reply } from '../protocol/constants.js';
import { replyForError } from '../errors.js';
import type { HeaderField } from '../protocol/http.js';
import { endToEndFields, viaValue, type ForwardRequest } from '../protocol/http-proxy.js';
import type { HttpServerSession } from '../protocol/http-server-session.js';
import { channels, publish } from '../observability/channels.js';
import type { Connection } from './connection.js';
import { httpFailure } from './http-status.js';

/**
 * The upstream connections of one client connection: at most one in use and one idle (to the
 * origin used last). Each new connection goes through the same path as CONNECT: the access
 * rules on the resolved addresses ({@link resolveAllowed}), then {@link dialTcp} to exactly the
 * checked addresses, from the configured outbound address. An idle connection is reused only
 * for the same host and port it was checked and dialed for.
 */
export class UpstreamAgent extends http.Agent {
  readonly #conn: Connection;

  constructor(conn: Connection) {
    super({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1, scheduling: 'lifo' });
    this.#conn = conn;
  }

  override createConnection(
    options: http.ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const conn = this.#conn;
    const host = options.host ?? 'localhost';
    const port = Number(options.port);
    const started = Date.now();
    this.#dial(host, port).then(
      (socket) => {
        conn.record.connectMs = Date.now() - started;
        conn.record.remote = formatHostPort(socket.remoteAddress ?? '', socket.remotePort ?? 0);
        socket.resume();
        callback?.(null, socket);
      },
      (err: unknown) => {
        conn.record.connectMs = Date.now() - started;
        callback?.(err as Error, undefined as unknown as Duplex);
      },
    );
    return undefined;
  }

  async #dial(host: string, port: number): Promise<Socket> {
    const conn = this.#conn;
    const options = conn.server.options;
    const checked = await resolveAllowed(conn.policy('connect'), options.resolver, host, port, {
      signal: conn.signal,
    });
    conn.record.rule = checked.verdict.rule.name;
    return dialTcp(checked.host, checked.port, {
      timeout: options.connectTimeout,
      signal: conn.signal,
      ...sourceFor(checked, options.outbound),
    });
  }

  /** Closes idle connections to every origin but `target`'s (one idle upstream at most). */
  keepOnly(host: string, port: number): void {
    const name = this.getName({ host, port });
    for (const [key, sockets] of Object.entries(this.freeSockets)) {
      if (key !== name) for (const s of sockets ?? []) s.destroy();
    }
  }
}

/** How the exchange ended: `broken` when the response was cut short (destroy the client). */
export interface ExchangeEnd {
  readonly broken: boolean;
}

export interface ExchangeHooks {
  /** Called once, when the exchange is over (not after {@link ForwardExchange.abort}). */
  readonly onEnd: (end: ExchangeEnd) => void;
  /** The upstream request can take more body again after {@link ForwardExchange.writeBody} said no. */
  readonly onDrain: () => void;
}

/** Field lines from node's `rawHeaders` (name, value, name, value, ...). */
function fieldsOf(raw: readonly string[]): HeaderField[] {
  const out: HeaderField[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2)
    out.push({ name: raw[i] ?? '', value: raw[i + 1] ?? '' });
  return out;
}

export class ForwardExchange {
  readonly #conn: Connection;
  readonly #session: HttpServerSession;
  readonly #request: ForwardRequest;
  readonly #hooks: ExchangeHooks;
  readonly #destination: string;
  readonly #startedAt = Date.now();
  readonly #req: http.ClientRequest;
  #res: http.IncomingMessage | undefined;
  #headSent = false;
  #finished = false;
  #status: number | undefined;
  #error: string | undefined;
  #bytesUp = 0;
  #bytesDown = 0;
  #lastActivity = Date.now();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    conn: Connection,
    session: HttpServerSession,
    request: ForwardRequest,
    agent: UpstreamAgent,
    hooks: ExchangeHooks,
  ) {
    this.#conn = conn;
    this.#session = session;
    this.#request = request;
    this.#hooks = hooks;
    const { host, port } = request.target;
    this.#destination = formatHostPort(host, port);
    const headers: string[] = request.upstreamHeaders.flatMap((h) => [h.name, h.value]);
    // Framing declared explicitly from what was decoded (never the client's fields as sent).
    if (request.framing.kind === 'length')
      headers.push('Content-Length', String(request.framing.length));
    if (request.framing.kind === 'chunked') headers.push('Transfer-Encoding', 'chunked');
    agent.keepOnly(host, port);
    this.#req = http.request({
      agent,
      host,
      port,
      method: request.method,
      path: request.path,
      headers,
      setHost: false,
    });
    this.#req.on('information', this.#onInformation);
    this.#req.on('response', this.#onResponse);
    this.#req.on('error', this.#onUpstreamError);
    this.#req.on('close', this.#onRequestClose);
    this.#req.on('drain', hooks.onDrain);
    if (request.framing.kind === 'none') this.#req.end();
    const idle = conn.server.options.idleTimeout;
    if (idle > 0) this.#armIdle(idle);
  }

  /** Forwards request body octets. False: stop reading the client until `onDrain`. */
  writeBody(data: Uint8Array): boolean {
    this.#bytesUp += data.length;
    this.#conn.record.bytesUp += data.length;
    this.#lastActivity = Date.now();
    return this.#req.write(data);
  }

  /** The request body is complete. */
  endBody(): void {
    this.#req.end();
  }

  /** Tears the exchange down without a response (the client went away, or a protocol error). */
  abort(): void {
    this.#finished = true;
    this.#clearIdle();
    this.#res?.destroy();
    this.#req.destroy();
  }

  readonly #onInformation = (info: http.InformationEvent): void => {
    if (this.#finished || info.statusCode === 101) return;
    this.#write(
      this.#session.send({
        type: 'informational',
        status: info.statusCode,
        reason: info.statusMessage,
        headers: endToEndFields(fieldsOf(info.rawHeaders)),
      }),
    );
  };

  readonly #onResponse = (res: http.IncomingMessage): void => {
    if (this.#finished) {
      res.destroy();
      return;
    }
    this.#res = res;
    const te = res.headers['transfer-encoding'];
    if (te !== undefined && te.toLowerCase() !== 'chunked') {
      // A transfer coding node does not decode would reach the client mislabelled.
      this.#fail(
        Object.assign(new Error('unsupported transfer coding'), { code: 'HPE_UNSUPPORTED_TE' }),
      );
      return;
    }
    const length = res.headers['content-length'];
    const status = res.statusCode ?? 502;
    this.#status = status;
    this.#conn.record.reply = Reply.Succeeded;
    this.#conn.record.httpStatus = status;
    this.#headSent = true;
    this.#write(
      this.#session.send({
        type: 'response',
        status,
        reason: res.statusMessage,
        headers: [
          ...endToEndFields(fieldsOf(res.rawHeaders), ['content-length']),
          { name: 'Via', value: viaValue(res.httpVersion) },
        ],
        contentLength: te === undefined && length !== undefined ? Number(length) : undefined,
      }),
    );
    const client = this.#conn.socket;
    let paused = false;
    res.on('data', (chunk: Buffer) => {
      this.#bytesDown += chunk.length;
      this.#conn.record.bytesDown += chunk.length;
      this.#lastActivity = Date.now();
      if (!this.#write(this.#session.send({ type: 'data', data: chunk })) && !paused) {
        paused = true;
        res.pause();
        client.once('drain', () => {
          paused = false;
          res.resume();
        });
      }
    });
    res.on('end', () => {
      if (this.#finished) return;
      this.#write(this.#session.send({ type: 'end-of-response' }));
      this.#finish(false);
    });
    res.on('error', (err: NodeJS.ErrnoException) => {
      this.#error ??= err.code ?? 'ERR_UPSTREAM';
    });
    res.on('close', () => {
      // Closed before 'end': the upstream broke off mid-body; the client must see a truncation.
      if (!res.complete) this.#finish(true);
    });
  };

  readonly #onUpstreamError = (err: Error): void => {
    this.#fail(err);
  };

  readonly #onRequestClose = (): void => {
    // Closed without a response or an error (e.g. a 101 that node does not hand over).
    if (this.#res === undefined) {
      this.#fail(Object.assign(new Error('no response'), { code: 'ERR_SOCKS_NO_RESPONSE' }));
    }
  };

  /** Before the response head: a 502/504 from ferry. After it: the response is broken. */
  #fail(err: unknown): void {
    if (this.#finished) return;
    const failure = httpFailure(err, this.#destination);
    this.#error ??= failure.code;
    this.#req.destroy();
    if (this.#headSent) {
      this.#finish(true);
      return;
    }
    this.#status = failure.status;
    this.#conn.record.reply = replyForError(err);
    this.#conn.record.httpStatus = failure.status;
    this.#conn.noteFailure(err);
    this.#write(
      this.#session.send({ type: 'error', status: failure.status, message: failure.message }),
    );
    this.#finish(false);
  }

  #write(pieces: readonly Uint8Array[]): boolean {
    const socket: Socket = this.#conn.socket;
    if (pieces.length === 0 || socket.destroyed) return true;
    socket.cork();
    let ok = true;
    for (const p of pieces) ok = socket.write(p);
    socket.uncork();
    return ok;
  }

  #finish(broken: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#clearIdle();
    if (broken) {
      this.#res?.destroy();
      this.#req.destroy();
    }
    publish(channels.httpRequest, () => ({
      session: this.#conn.record,
      method: this.#request.method,
      destination: this.#destination,
      status: this.#status,
      bytesUp: this.#bytesUp,
      bytesDown: this.#bytesDown,
      durationMs: Date.now() - this.#startedAt,
      error: broken ? (this.#error ?? 'ERR_SOCKS_UPSTREAM_BROKEN') : this.#error,
    }));
    this.#hooks.onEnd({ broken });
  }

  /** One timer per exchange that checks the last activity when it fires (as the TCP relay does). */
  #armIdle(timeout: number): void {
    this.#timer = setTimeout(() => {
      const idle = Date.now() - this.#lastActivity;
      if (idle < timeout) {
        this.#armIdle(timeout - idle);
        return;
      }
      this.#fail(Object.assign(new Error(`no activity for ${timeout} ms`), { code: 'ETIMEDOUT' }));
    }, timeout);
    this.#timer.unref();
  }

  #clearIdle(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
