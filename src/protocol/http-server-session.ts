/**
 * The server side of the HTTP proxy dialect as a sans-IO state machine (after h11): bytes go in
 * with {@link HttpServerSession.receiveData}, requests and their body come out of
 * {@link HttpServerSession.nextEvent}, and everything the proxy says is encoded (and checked
 * against the state) by {@link HttpServerSession.send}. It never touches a socket.
 *
 * Two halves, as in h11 — what the client is sending and what the server is sending:
 *
 *   client: head ──request──▶ body ──end-of-request──▶ done ─┐   (no body: head ──▶ done)
 *           head ◀──────── response ended, keep-alive ───────┘
 *           done ──tunnel (CONNECT 200)──▶ tunnel
 *   server: idle ──request──▶ waiting ──response head──▶ sending ──end-of-response──▶ idle | closed
 *           waiting ──error response──▶ idle | closed
 *
 * One exchange at a time: pipelined requests wait in the buffer (`nextEvent` is PAUSED while the
 * client is `done`) until the response before them has ended, so responses go out in order
 * (RFC 9112 §9.3.2). The response framing is chosen here, from what the adapter knows about the
 * upstream body: a known length → Content-Length; unknown → chunked for HTTP/1.1 clients, or
 * close-delimited for HTTP/1.0 ones. HEAD, 204 and 304 responses never carry a body.
 */
import { NEED_MORE } from './decode.js';
import {
  decodeRequestHead,
  encodeResponseHead,
  httpReasonPhrases,
  HttpStatus,
  type HeaderField,
  type HttpVersion,
  type RequestHead,
} from './http.js';
import { BodyDecoder, encodeChunk, LAST_CHUNK } from './http-body.js';
import { interpretProxyRequest, type ProxyRequest } from './http-proxy.js';
import { HttpProtocolError, SocksUsageError, UsageErrorCode } from '../errors.js';
import { NEED_DATA, PAUSED } from './server-session.js';

export { NEED_DATA, PAUSED };

export type HttpClientState = 'head' | 'body' | 'done' | 'tunnel' | 'closed' | 'failed';
export type HttpServerState = 'idle' | 'waiting' | 'sending' | 'tunnel' | 'closed';

export type HttpServerEvent =
  | { readonly type: 'request'; readonly head: RequestHead; readonly request: ProxyRequest }
  /** Request body octets, decoded (a view: forward or copy before the next receiveData). */
  | { readonly type: 'data'; readonly data: Uint8Array }
  | { readonly type: 'end-of-request' }
  | {
      readonly type: 'protocol-error';
      readonly error: HttpProtocolError;
      /** The error response to send before closing; empty once a response has begun. */
      readonly response: Uint8Array;
    };

export type HttpServerMessage =
  /** A 1xx from upstream (RFC 9110 §15.2: a proxy forwards them); dropped for HTTP/1.0 clients. */
  | {
      readonly type: 'informational';
      readonly status: number;
      readonly reason?: string | undefined;
      readonly headers: readonly HeaderField[];
    }
  /**
   * A response head. `headers` are end-to-end fields only (no Connection, Content-Length,
   * Transfer-Encoding: framing is decided here). `contentLength`: the upstream body's length when
   * known. `close`: end the connection after this response.
   */
  | {
      readonly type: 'response';
      readonly status: number;
      readonly reason?: string | undefined;
      readonly headers: readonly HeaderField[];
      readonly contentLength?: number | undefined;
      readonly close?: boolean;
    }
  | { readonly type: 'data'; readonly data: Uint8Array }
  | { readonly type: 'end-of-response' }
  /** CONNECT accepted: `200 Connection established`, then the bytes are the tunnel's. */
  | { readonly type: 'tunnel' }
  /** A whole response from ferry itself (407, 502, ...): a one-line text/plain body. */
  | {
      readonly type: 'error';
      readonly status: number;
      readonly message: string;
      readonly headers?: readonly HeaderField[];
      readonly close?: boolean;
    };

type BodyMode = 'none' | 'length' | 'chunked' | 'close';

const textEncoder = new TextEncoder();
const FRAMING_FIELDS = /^(connection|content-length|transfer-encoding)$/i;

/** A complete short response; `close` adds `Connection: close`. */
function shortResponse(
  status: number,
  message: string,
  close: boolean,
  headers: readonly HeaderField[] = [],
  withBody = true,
): Uint8Array[] {
  const body = textEncoder.encode(`${message}\n`);
  const head = encodeResponseHead({
    status,
    headers: [
      ...headers,
      { name: 'Content-Type', value: 'text/plain; charset=utf-8' },
      { name: 'Content-Length', value: String(body.length) },
      ...(close ? [{ name: 'Connection', value: 'close' }] : []),
    ],
  });
  return withBody ? [head, body] : [head];
}

function join(pieces: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One client connection of the HTTP proxy dialect. */
export class HttpServerSession {
  readonly #maxHeadSize: number;
  #client: HttpClientState = 'head';
  #server: HttpServerState = 'idle';
  #buffer: Uint8Array = new Uint8Array(0);
  #request: ProxyRequest | undefined;
  #version: HttpVersion = '1.1';
  #decoder: BodyDecoder | undefined;
  #mode: BodyMode = 'none';
  #remaining = 0;
  #keepAlive = false;

  /** @param maxHeadSize the request-head cap in octets (431 beyond it). */
  constructor(maxHeadSize: number) {
    this.#maxHeadSize = maxHeadSize;
  }

  /** What the client is doing. */
  get state(): HttpClientState {
    return this.#client;
  }

  get serverState(): HttpServerState {
    return this.#server;
  }

  /** The request being answered, if any. */
  get request(): ProxyRequest | undefined {
    return this.#request;
  }

  get bufferedLength(): number {
    return this.#buffer.length;
  }

  /**
   * Appends bytes from the client. The chunk is kept without copying: do not modify it
   * afterwards (Node never reuses a socket's 'data' chunk).
   */
  receiveData(chunk: Uint8Array): void {
    if (this.#client === 'failed') this.#misuse('receiveData');
    if (chunk.length === 0) return;
    this.#buffer = this.#buffer.length === 0 ? chunk : join([this.#buffer, chunk]);
  }

  /**
   * The next request, body data or end of request; {@link NEED_DATA} when more bytes are needed;
   * {@link PAUSED} while the server must answer first (or the connection is a tunnel or closed).
   * Malformed input is a `protocol-error` event, after which the session is `failed`.
   */
  nextEvent(): HttpServerEvent | typeof NEED_DATA | typeof PAUSED {
    try {
      if (this.#client === 'head') return this.#nextHead();
      if (this.#client === 'body') return this.#nextBody();
    } catch (err) {
      if (!(err instanceof HttpProtocolError)) throw err;
      const response =
        this.#server === 'idle' || this.#server === 'waiting'
          ? join(shortResponse(err.status, err.message, true))
          : new Uint8Array(0);
      this.#client = 'failed';
      this.#server = 'closed';
      this.#buffer = new Uint8Array(0);
      return { type: 'protocol-error', error: err, response };
    }
    return PAUSED;
  }

  #nextHead(): HttpServerEvent | typeof NEED_DATA {
    const result = decodeRequestHead(this.#buffer, this.#maxHeadSize);
    if (result === NEED_MORE) return NEED_DATA;
    this.#version = result.value.version;
    const request = interpretProxyRequest(result.value);
    this.#buffer = this.#buffer.subarray(result.length);
    this.#request = request;
    this.#server = 'waiting';
    if (request.kind === 'forward' && request.framing.kind !== 'none') {
      this.#decoder = new BodyDecoder(request.framing);
      this.#client = 'body';
    } else {
      this.#client = 'done';
    }
    return { type: 'request', head: result.value, request };
  }

  #nextBody(): HttpServerEvent | typeof NEED_DATA {
    const decoder = this.#decoder;
    if (decoder === undefined) return this.#misuse('nextEvent');
    for (;;) {
      const step = decoder.next(this.#buffer);
      if (step === NEED_MORE) return NEED_DATA;
      this.#buffer = this.#buffer.subarray(step.consumed);
      if (step.type === 'data') return { type: 'data', data: step.data };
      if (step.type === 'end') {
        this.#client = 'done';
        this.#decoder = undefined;
        return { type: 'end-of-request' };
      }
    }
  }

  /** Encodes a server message and advances the state. Throws SocksUsageError when out of turn. */
  send(message: HttpServerMessage): Uint8Array[] {
    switch (message.type) {
      case 'informational':
        this.#expectServer('waiting', message.type);
        if (message.status < 100 || message.status > 199 || message.status === 101) {
          this.#misuse(`informational status ${message.status}`);
        }
        return this.#version === '1.0' ? [] : [encodeResponseHead(message)];
      case 'response':
        return [this.#responseHead(message)];
      case 'data':
        return this.#data(message.data);
      case 'end-of-response': {
        this.#expectServer('sending', message.type);
        if (this.#mode === 'length' && this.#remaining > 0) {
          this.#misuse(`end-of-response with ${this.#remaining} octets of Content-Length unsent`);
        }
        const out = this.#mode === 'chunked' ? [LAST_CHUNK] : [];
        this.#finishExchange();
        return out;
      }
      case 'tunnel': {
        this.#expectServer('waiting', message.type);
        if (this.#request?.kind !== 'connect') this.#misuse('tunnel for a non-CONNECT request');
        this.#client = 'tunnel';
        this.#server = 'tunnel';
        return [
          encodeResponseHead({
            status: HttpStatus.Ok,
            reason: 'Connection established',
            headers: [],
          }),
        ];
      }
      case 'error': {
        this.#expectServer('waiting', message.type);
        this.#keepAlive =
          message.close !== true && this.#request?.keepAlive === true && this.#client === 'done';
        const out = shortResponse(
          message.status,
          message.message,
          !this.#keepAlive,
          message.headers,
          this.#request?.method !== 'HEAD',
        );
        this.#mode = 'none';
        this.#finishExchange();
        return out;
      }
    }
  }

  /** True once the connection must end after what has been sent (no further exchange). */
  get closing(): boolean {
    return this.#server === 'closed';
  }

  /** Bytes the client sent after a CONNECT request head: the tunnel's first bytes. */
  takeTrailingData(): Uint8Array {
    if (this.#client !== 'tunnel') this.#misuse('takeTrailingData');
    const out = this.#buffer;
    this.#buffer = new Uint8Array(0);
    return out;
  }

  #responseHead(message: Extract<HttpServerMessage, { type: 'response' }>): Uint8Array {
    this.#expectServer('waiting', message.type);
    if (message.status < 200 || message.status > 999)
      this.#misuse(`final status ${message.status}`);
    if (message.headers.some((h) => FRAMING_FIELDS.test(h.name))) {
      this.#misuse('Connection, Content-Length and Transfer-Encoding are set by the session');
    }
    const length = message.contentLength;
    const noBody =
      this.#request?.method === 'HEAD' || message.status === 204 || message.status === 304;
    const framing: HeaderField[] = [];
    if (noBody) {
      this.#mode = 'none';
      // HEAD and 304 may say how long the body would be; 204 must not (RFC 9110 §8.6).
      if (length !== undefined && message.status !== 204) {
        framing.push({ name: 'Content-Length', value: String(length) });
      }
    } else if (length !== undefined) {
      this.#mode = 'length';
      this.#remaining = length;
      framing.push({ name: 'Content-Length', value: String(length) });
    } else if (this.#version === '1.1') {
      this.#mode = 'chunked';
      framing.push({ name: 'Transfer-Encoding', value: 'chunked' });
    } else {
      this.#mode = 'close'; // HTTP/1.0: the end of the body is the end of the connection
    }
    this.#keepAlive =
      message.close !== true && this.#request?.keepAlive === true && this.#mode !== 'close';
    if (!this.#keepAlive) framing.push({ name: 'Connection', value: 'close' });
    this.#server = 'sending';
    return encodeResponseHead({
      status: message.status,
      reason: message.reason ?? httpReasonPhrases[message.status] ?? '',
      headers: [...message.headers, ...framing],
    });
  }

  #data(data: Uint8Array): Uint8Array[] {
    this.#expectServer('sending', 'data');
    if (data.length === 0) return [];
    switch (this.#mode) {
      case 'none':
        return this.#misuse('response data for a response without a body');
      case 'length':
        if (data.length > this.#remaining) this.#misuse('response data beyond its Content-Length');
        this.#remaining -= data.length;
        return [data];
      case 'chunked':
        return encodeChunk(data);
      case 'close':
        return [data];
    }
  }

  /** The exchange ended: on to the next request, or closed (no keep-alive, or body unread). */
  #finishExchange(): void {
    this.#request = undefined;
    if (this.#keepAlive && this.#client === 'done') {
      this.#client = 'head';
      this.#server = 'idle';
    } else {
      this.#client = 'closed';
      this.#server = 'closed';
    }
  }

  #expectServer(state: HttpServerState, what: string): void {
    if (this.#server !== state) this.#misuse(what);
  }

  #misuse(what: string): never {
    throw new SocksUsageError(
      UsageErrorCode.InvalidState,
      `${what} is not allowed in state "${this.#client}/${this.#server}"`,
    );
  }
}
