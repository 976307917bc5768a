/**
 * The client side of a SOCKS5 or SOCKS4/4a handshake as a sans-IO state machine, the mirror of
 * {@link ServerSession}: the client's messages are produced (and checked against the state) by
 * {@link ClientSession.send}; bytes from the proxy go in with {@link ClientSession.receiveData}
 * and come out of {@link ClientSession.nextEvent} as events. It never touches a socket; the
 * adapter in src/client does.
 *
 * The whole machine is two tables: {@link receive} (which proxy message each state waits for,
 * and where it leads) and {@link sends} (which state each client message is allowed in, and
 * where it leads). After a malformed message the session is `failed` and refuses everything.
 *
 * Authentication methods other than none and username/password (GSS-API, RFC 1961, and private
 * methods) can take several rounds with formats of their own, and may need asynchronous work
 * (a GSS library) — so they do not live in this table. When the proxy selects such a method the
 * session enters `method-specific`: the adapter runs the method over the connection (taking any
 * bytes already buffered with {@link ClientSession.takeMethodData}) and calls
 * {@link ClientSession.authenticated} with the bytes it read past its end; the session resumes
 * at the request. This mirrors the server session's hand-off.
 */
import { AuthMethod, Command, Reply, UserPassStatus } from './constants.js';
import type { SocksAddress } from './address.js';
import { NEED_MORE, type DecodeResult } from './decode.js';
import { decodeMethodSelection, decodeReply, encodeGreeting, encodeRequest } from './socks5.js';
import { decodeUserPassResponse, encodeUserPassRequest } from './user-pass.js';
import { decodeSocks4Reply, encodeSocks4Request, Socks4Command, Socks4Reply } from './socks4.js';
import { ByteQueue } from './byte-queue.js';
import { NEED_DATA, PAUSED } from './server-session.js';
import {
  ProtocolErrorCode,
  SocksProtocolError,
  SocksUsageError,
  UsageErrorCode,
} from '../errors.js';

export { NEED_DATA, PAUSED };

export type ClientState =
  | 'greeting' // SOCKS5: the client must send VER NMETHODS METHODS
  | 'method-selection' // waiting for the proxy's VER METHOD
  | 'user-pass' // method 02 selected: the client must send the RFC 1929 request
  | 'user-pass-status' // waiting for the RFC 1929 VER STATUS
  | 'method-specific' // another method owns the bytes until authenticated()
  | 'request' // the client must send its request (SOCKS4 sessions start here)
  | 'reply' // waiting for the (first) reply
  | 'bind-waiting' // BIND's first reply received; the second comes when the peer connects
  | 'established' // success: bytes now belong to the application (or nobody, for UDP)
  | 'closed' // the proxy refused (no method, bad credentials, failure reply)
  | 'failed'; // the proxy sent something malformed

/** Something the proxy said, or the malformed message that ended the session. */
export type ClientEvent =
  | { readonly type: 'method'; readonly method: number }
  | { readonly type: 'auth-result'; readonly success: boolean; readonly status: number }
  | {
      readonly type: 'reply';
      /** REP (SOCKS5) or CD (SOCKS4) as sent. */
      readonly reply: number;
      readonly succeeded: boolean;
      readonly bound: SocksAddress;
      /** False only for the first of BIND's two replies. */
      readonly final: boolean;
    }
  | { readonly type: 'protocol-error'; readonly error: SocksProtocolError };

/** Something the client says. `userId` is SOCKS4's only; `username`/`password` SOCKS5's. */
export type ClientMessage =
  | { readonly type: 'greeting'; readonly methods: readonly number[] }
  | {
      readonly type: 'credentials';
      readonly username: string | Uint8Array;
      readonly password: string | Uint8Array;
    }
  | {
      readonly type: 'request';
      readonly command: Command;
      readonly destination: SocksAddress;
      readonly userId?: string | Uint8Array;
    };

export interface ClientSessionOptions {
  /** 5 (default) for SOCKS5; 4 for SOCKS4, which becomes SOCKS4a for a `domain` destination. */
  readonly version?: 4 | 5;
}

/** What a table entry can see of the session. */
interface Context {
  readonly version: 4 | 5;
  readonly offered: readonly number[];
  readonly command: Command | undefined;
}

type Receive = {
  readonly decode: (bytes: Uint8Array, ctx: Context) => DecodeResult<ClientEvent>;
  readonly next: (event: ClientEvent, ctx: Context) => ClientState;
};

const hex = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;

function map<T>(r: DecodeResult<T>, f: (value: T) => ClientEvent): DecodeResult<ClientEvent> {
  return r === NEED_MORE ? r : { value: f(r.value), length: r.length };
}

function decodeAnyReply(
  bytes: Uint8Array,
  ctx: Context,
  final: boolean,
): DecodeResult<ClientEvent> {
  if (ctx.version === 4) {
    return map(decodeSocks4Reply(bytes), (m) => ({
      type: 'reply' as const,
      reply: m.code,
      succeeded: m.code === Socks4Reply.Granted,
      bound: m.bound,
      final,
    }));
  }
  return map(decodeReply(bytes), (m) => ({
    type: 'reply' as const,
    reply: m.reply,
    succeeded: m.reply === Reply.Succeeded,
    bound: m.bound,
    final,
  }));
}

/** The receiving half of the machine. States absent here expect nothing from the proxy. */
const receive: Partial<Record<ClientState, Receive>> = {
  'method-selection': {
    decode: (bytes, ctx) =>
      map(decodeMethodSelection(bytes), ({ method }) => {
        // RFC 1928 §3: the server selects "from among the methods given" — or FF.
        if (method !== AuthMethod.NoAcceptable && !ctx.offered.includes(method)) {
          throw new SocksProtocolError(
            ProtocolErrorCode.UnexpectedMethod,
            `the proxy selected method ${hex(method)}, which was not offered`,
          );
        }
        return { type: 'method', method };
      }),
    next: (e) =>
      e.type !== 'method' || e.method === AuthMethod.NoAcceptable
        ? 'closed'
        : e.method === AuthMethod.NoAuth
          ? 'request'
          : e.method === AuthMethod.UserPass
            ? 'user-pass'
            : 'method-specific',
  },
  'user-pass-status': {
    decode: (bytes) =>
      map(decodeUserPassResponse(bytes), ({ status }) => ({
        type: 'auth-result',
        status,
        success: status === UserPassStatus.Success,
      })),
    // RFC 1929 §2: any STATUS other than 00 is failure and the server closes.
    next: (e) => (e.type === 'auth-result' && e.success ? 'request' : 'closed'),
  },
  reply: {
    decode: (bytes, ctx) => decodeAnyReply(bytes, ctx, ctx.command !== Command.Bind),
    next: (e, ctx) =>
      e.type !== 'reply' || !e.succeeded
        ? 'closed'
        : ctx.command === Command.Bind
          ? 'bind-waiting'
          : 'established',
  },
  'bind-waiting': {
    decode: (bytes, ctx) => decodeAnyReply(bytes, ctx, true),
    next: (e) => (e.type === 'reply' && e.succeeded ? 'established' : 'closed'),
  },
};

/** The sending half: the state each client message is allowed in. */
const sends: Readonly<Record<ClientMessage['type'], { readonly from: ClientState }>> = {
  greeting: { from: 'greeting' },
  credentials: { from: 'user-pass' },
  request: { from: 'request' },
};

const socks4Commands: Readonly<Partial<Record<Command, Socks4Command>>> = {
  [Command.Connect]: Socks4Command.Connect,
  [Command.Bind]: Socks4Command.Bind,
};

/**
 * One client handshake with one proxy.
 *
 * @example
 *   socket.write(session.send({ type: 'greeting', methods: [AuthMethod.NoAuth] }));
 *   session.receiveData(chunk);
 *   for (let e = session.nextEvent(); typeof e === 'object'; e = session.nextEvent()) { ... }
 */
export class ClientSession {
  readonly version: 4 | 5;
  #state: ClientState;
  #buffer = new ByteQueue();
  #offered: readonly number[] = [];
  #command: Command | undefined;
  #method: number | undefined;

  /** @throws SocksUsageError when `version` is neither 4 nor 5. */
  constructor(options: ClientSessionOptions = {}) {
    const version: number = options.version ?? 5;
    if (version !== 4 && version !== 5) {
      throw new SocksUsageError(
        UsageErrorCode.InvalidOption,
        `version: must be 4 or 5, got ${String(version)}`,
      );
    }
    this.version = version;
    this.#state = version === 5 ? 'greeting' : 'request';
  }

  get state(): ClientState {
    return this.#state;
  }

  /** The method the proxy selected, once it has (SOCKS5). */
  get method(): number | undefined {
    return this.#method;
  }

  /** Octets received and not yet consumed by a message. */
  get bufferedLength(): number {
    return this.#buffer.length;
  }

  /** Appends bytes from the proxy. Allowed in any state but `failed`; decoded lazily. */
  receiveData(chunk: Uint8Array): void {
    if (this.#state === 'failed') this.#misuse('receiveData');
    this.#buffer.push(chunk);
  }

  /**
   * The next proxy message, {@link NEED_DATA} when more bytes are needed, or {@link PAUSED} when
   * the client must act first (send, run a method) or the handshake is over. Never throws on
   * malformed input: that is a `protocol-error` event, after which the state is `failed`.
   */
  nextEvent(): ClientEvent | typeof NEED_DATA | typeof PAUSED {
    const step = receive[this.#state];
    if (step === undefined) return PAUSED;
    const ctx = this.#context();
    let result: DecodeResult<ClientEvent>;
    try {
      result = step.decode(this.#buffer.view(), ctx);
    } catch (err) {
      if (!(err instanceof SocksProtocolError)) throw err;
      this.#state = 'failed';
      this.#buffer.take();
      return { type: 'protocol-error', error: err };
    }
    if (result === NEED_MORE) return NEED_DATA;
    this.#buffer.consume(result.length);
    this.#state = step.next(result.value, ctx);
    if (result.value.type === 'method') this.#method = result.value.method;
    return result.value;
  }

  /**
   * Encodes a client message and advances the state.
   * @throws SocksUsageError when the message is out of turn or cannot be encoded (an IPv6
   *   destination or a UDP ASSOCIATE over SOCKS4, a field over its length limit).
   */
  send(message: ClientMessage): Uint8Array {
    const rule = sends[message.type];
    if (this.#state !== rule.from) this.#misuse(`sending ${message.type}`);
    switch (message.type) {
      case 'greeting': {
        const bytes = encodeGreeting(message);
        this.#offered = [...message.methods];
        this.#state = 'method-selection';
        return bytes;
      }
      case 'credentials': {
        const bytes = encodeUserPassRequest(message);
        this.#state = 'user-pass-status';
        return bytes;
      }
      case 'request': {
        const bytes = this.version === 5 ? encodeRequest(message) : this.#socks4Request(message);
        this.#command = message.command;
        this.#state = 'reply';
        return bytes;
      }
    }
  }

  /**
   * For a method whose sub-negotiation lives outside this machine (GSS-API, RFC 1961): hands
   * over the bytes already received, which belong to that method.
   */
  takeMethodData(): Uint8Array {
    this.#expect('method-specific', 'takeMethodData');
    return this.#buffer.take();
  }

  /** The method-specific sub-negotiation succeeded; `pending` are bytes it read past its end. */
  authenticated(pending: Uint8Array = new Uint8Array(0)): void {
    this.#expect('method-specific', 'authenticated');
    this.#state = 'request';
    this.#buffer.push(pending);
  }

  /**
   * Bytes the proxy sent after its (final) reply: the first bytes from the destination. Call
   * once the session is `established`; they must be delivered before anything read later.
   */
  takeTrailingData(): Uint8Array {
    this.#expect('established', 'takeTrailingData');
    return this.#buffer.take();
  }

  #socks4Request(message: Extract<ClientMessage, { type: 'request' }>): Uint8Array {
    const command = socks4Commands[message.command];
    if (command === undefined) {
      throw new SocksUsageError(
        UsageErrorCode.InvalidArgument,
        `SOCKS4 has no command ${hex(message.command)} (only CONNECT and BIND)`,
      );
    }
    return encodeSocks4Request({
      command,
      destination: message.destination,
      ...(message.userId === undefined ? {} : { userId: message.userId }),
    });
  }

  #context(): Context {
    return { version: this.version, offered: this.#offered, command: this.#command };
  }

  #expect(state: ClientState, what: string): void {
    if (this.#state !== state) this.#misuse(what);
  }

  #misuse(what: string): never {
    throw new SocksUsageError(
      UsageErrorCode.InvalidState,
      `${what} is not allowed in state "${this.#state}"`,
    );
  }
}
