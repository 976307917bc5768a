/**
 * The server side of a SOCKS5 handshake as a sans-IO state machine (after h11): bytes go in
 * with {@link ServerSession.receiveData}, events come out of {@link ServerSession.nextEvent}, and
 * every message the server sends is produced (and checked against the state) by
 * {@link ServerSession.send}. It never touches a socket; the adapter in src/server does.
 *
 * The whole machine is the table {@link transitions} below: which client message each state
 * expects, and which server message moves it on. After a protocol error the session is `failed`
 * and refuses everything.
 */
import { AuthMethod, Command, Reply, UserPassStatus } from './constants.js';
import { UNSPECIFIED_ADDRESS, type SocksAddress } from './address.js';
import { NEED_MORE, type DecodeResult } from './decode.js';
import {
  decodeGreeting,
  decodeRequest,
  encodeMethodSelection,
  encodeReply,
  type Greeting,
  type Request,
} from './socks5.js';
import {
  decodeUserPassRequest,
  encodeUserPassResponse,
  type UserPassRequest,
} from './user-pass.js';
import { ByteQueue } from './byte-queue.js';
import {
  ProtocolErrorCode,
  SocksProtocolError,
  SocksUsageError,
  UsageErrorCode,
} from '../errors.js';

export type ServerState =
  | 'greeting' // waiting for VER NMETHODS METHODS
  | 'selecting-method' // greeting received; the server must send its METHOD
  | 'user-pass' // method 02 chosen; waiting for the RFC 1929 request
  | 'authenticating' // credentials received; the server must send the RFC 1929 status
  | 'method-specific' // another method (GSS-API, private) owns the bytes until authenticated()
  | 'request' // waiting for VER CMD RSV ATYP ADDR PORT
  | 'replying' // request received; the server must send its (first) reply
  | 'bind-accepting' // BIND's first reply sent; the second reply comes when the peer connects
  | 'established' // success; bytes now belong to the relay (CONNECT, BIND) or are ignored (UDP)
  | 'closed' // a refusal was sent; the server closes
  | 'failed'; // the client sent something malformed

/** Something the client said, or a malformed message and the answer to send before closing. */
export type ServerEvent =
  | { readonly type: 'greeting'; readonly methods: readonly number[] }
  | { readonly type: 'credentials'; readonly username: Uint8Array; readonly password: Uint8Array }
  | { readonly type: 'request'; readonly command: Command; readonly destination: SocksAddress }
  | {
      readonly type: 'protocol-error';
      readonly error: SocksProtocolError;
      /** Bytes to write before closing (e.g. `05 FF`, `01 01`, a full-length reply); may be empty. */
      readonly response: Uint8Array;
    };

/** Something the server says. */
export type ServerMessage =
  | { readonly type: 'method'; readonly method: number }
  | { readonly type: 'auth-result'; readonly success: boolean }
  | { readonly type: 'reply'; readonly reply: number; readonly bound: SocksAddress };

/** nextEvent(): the buffer holds no complete message yet. */
export const NEED_DATA: unique symbol = Symbol('ferry.needData');
/** nextEvent(): the client's next message depends on what the server sends first. */
export const PAUSED: unique symbol = Symbol('ferry.paused');

type Receive = {
  readonly decode: (bytes: Uint8Array) => DecodeResult<ServerEvent>;
  readonly next: ServerState;
  /** What to answer when this message is malformed (it decides the protocol-error response). */
  readonly onError: (error: SocksProtocolError) => Uint8Array;
};

const greeting = (r: DecodeResult<Greeting>): DecodeResult<ServerEvent> =>
  r === NEED_MORE ? r : { value: { type: 'greeting', methods: r.value.methods }, length: r.length };
const credentials = (r: DecodeResult<UserPassRequest>): DecodeResult<ServerEvent> =>
  r === NEED_MORE ? r : { value: { type: 'credentials', ...r.value }, length: r.length };
const request = (r: DecodeResult<Request>): DecodeResult<ServerEvent> =>
  r === NEED_MORE ? r : { value: { type: 'request', ...r.value }, length: r.length };

const noMethod = encodeMethodSelection({ method: AuthMethod.NoAcceptable });
const authFailed = encodeUserPassResponse({ status: UserPassStatus.Failure });
const failureReply = (reply: Reply): Uint8Array =>
  encodeReply({ reply, bound: UNSPECIFIED_ADDRESS });

/** The machine. States absent from `receive` expect nothing from the client. */
const receive: Partial<Record<ServerState, Receive>> = {
  greeting: {
    decode: (b) => greeting(decodeGreeting(b)),
    next: 'selecting-method',
    // Zero methods: answer "no acceptable methods" (RFC 1928 §3). Wrong VER: nothing to say.
    onError: (e) => (e.code === ProtocolErrorCode.NoMethods ? noMethod : new Uint8Array(0)),
  },
  'user-pass': {
    decode: (b) => credentials(decodeUserPassRequest(b)),
    next: 'authenticating',
    onError: () => authFailed, // RFC 1929 §2: a non-zero STATUS, then close.
  },
  request: {
    decode: (b) => request(decodeRequest(b)),
    next: 'replying',
    onError: (e) => failureReply(e.reply ?? Reply.GeneralFailure),
  },
};

/**
 * One SOCKS5 server handshake.
 *
 * @example
 *   session.receiveData(chunk);
 *   for (let e = session.nextEvent(); typeof e === 'object'; e = session.nextEvent()) { ... }
 */
export class ServerSession {
  #state: ServerState = 'greeting';
  #buffer = new ByteQueue();
  #command: Command | undefined;
  #method: number | undefined;

  get state(): ServerState {
    return this.#state;
  }

  /** The method the server selected, once it has. */
  get method(): number | undefined {
    return this.#method;
  }

  /** Octets received and not yet consumed by a message. */
  get bufferedLength(): number {
    return this.#buffer.length;
  }

  /** Appends bytes from the client. Allowed in any state but `failed`; they are decoded lazily. */
  receiveData(chunk: Uint8Array): void {
    if (this.#state === 'failed') this.#misuse('receiveData');
    this.#buffer.push(chunk);
  }

  /**
   * The next client message, {@link NEED_DATA} when more bytes are needed, or {@link PAUSED} when
   * the server must send first. Never throws on malformed input: that is a `protocol-error` event,
   * after which the state is `failed`.
   */
  nextEvent(): ServerEvent | typeof NEED_DATA | typeof PAUSED {
    const step = receive[this.#state];
    if (step === undefined) return PAUSED;
    let result: DecodeResult<ServerEvent>;
    try {
      result = step.decode(this.#buffer.view());
    } catch (err) {
      if (!(err instanceof SocksProtocolError)) throw err;
      this.#state = 'failed';
      this.#buffer.take();
      return { type: 'protocol-error', error: err, response: step.onError(err) };
    }
    if (result === NEED_MORE) return NEED_DATA;
    this.#buffer.consume(result.length);
    this.#state = step.next;
    if (result.value.type === 'request') this.#command = result.value.command;
    return result.value;
  }

  /** Encodes a server message and advances the state. Throws SocksUsageError when out of turn. */
  send(message: ServerMessage): Uint8Array {
    switch (message.type) {
      case 'method':
        this.#expect('selecting-method', message.type);
        this.#method = message.method;
        this.#state =
          message.method === AuthMethod.NoAcceptable
            ? 'closed'
            : message.method === AuthMethod.NoAuth
              ? 'request'
              : message.method === AuthMethod.UserPass
                ? 'user-pass'
                : 'method-specific';
        return encodeMethodSelection({ method: message.method });
      case 'auth-result':
        this.#expect('authenticating', message.type);
        this.#state = message.success ? 'request' : 'closed';
        return encodeUserPassResponse({
          status: message.success ? UserPassStatus.Success : UserPassStatus.Failure,
        });
      case 'reply': {
        const bytes = encodeReply(message);
        if (this.#state === 'replying') {
          const ok = message.reply === Reply.Succeeded;
          this.#state = !ok
            ? 'closed'
            : this.#command === Command.Bind
              ? 'bind-accepting'
              : 'established';
        } else {
          this.#expect('bind-accepting', 'second BIND reply');
          this.#state = message.reply === Reply.Succeeded ? 'established' : 'closed';
        }
        return bytes;
      }
    }
  }

  /**
   * For methods whose sub-negotiation lives outside this machine (GSS-API, RFC 1961): hands the
   * buffered bytes to that method, and later resumes at the request once it has authenticated.
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
   * Bytes the client sent after its request (pipelined payload). Call once the session is
   * `established`; they must be forwarded before anything else read from the socket.
   */
  takeTrailingData(): Uint8Array {
    this.#expect('established', 'takeTrailingData');
    return this.#buffer.take();
  }

  #expect(state: ServerState, what: string): void {
    if (this.#state !== state) this.#misuse(what);
  }

  #misuse(what: string): never {
    throw new SocksUsageError(
      UsageErrorCode.InvalidState,
      `${what} is not allowed in state "${this.#state}"`,
    );
  }
}
