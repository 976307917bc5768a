/**
 * The server side of a SOCKS4/SOCKS4a handshake as a sans-IO state machine, the twin of
 * {@link ServerSession} for SOCKS5: bytes go in with {@link Socks4ServerSession.receiveData}, the
 * request comes out of {@link Socks4ServerSession.nextEvent}, and every reply is produced (and
 * checked against the state) by {@link Socks4ServerSession.send}. It never touches a socket.
 *
 * SOCKS4 is one request and one reply (two for BIND), with no negotiation and no credentials:
 *
 *   request ──(request received)──▶ replying ──(5A)──▶ established        (CONNECT)
 *                                     │  └──(5A)──▶ bind-accepting ──(5A)──▶ established  (BIND)
 *                                     └──(5B)──▶ closed           bind-accepting ──(5B)──▶ closed
 *
 * A malformed request has no reply code of its own (SOCKS4 has one failure code): the
 * protocol-error event carries a `5B` reply to send before closing.
 */
import { formatIPv4, parseIPv4, parseIPv6, type SocksAddress } from './address.js';
import { NEED_MORE, type DecodeResult } from './decode.js';
import { ByteQueue } from './byte-queue.js';
import {
  decodeSocks4Request,
  encodeSocks4Reply,
  Socks4Command,
  Socks4Reply,
  type Socks4Request,
} from './socks4.js';
import { SocksProtocolError, SocksUsageError, UsageErrorCode } from '../errors.js';
import { NEED_DATA, PAUSED } from './server-session.js';

export { NEED_DATA, PAUSED };

export type Socks4ServerState =
  | 'request' // waiting for VN CD DSTPORT DSTIP USERID NUL [DOMAIN NUL]
  | 'replying' // request received; the server must send its (first) reply
  | 'bind-accepting' // BIND's first reply sent; the second comes when the peer connects
  | 'established' // granted; bytes now belong to the relay
  | 'closed' // a 5B reply was sent; the server closes
  | 'failed'; // the client sent something malformed

/** What the client said, or a malformed request and the `5B` reply to send before closing. */
export type Socks4ServerEvent =
  | ({ readonly type: 'request' } & Socks4Request)
  | {
      readonly type: 'protocol-error';
      readonly error: SocksProtocolError;
      /** The 8-octet `00 5B ...` reply to write before closing. */
      readonly response: Uint8Array;
    };

/** What the server says: granted (`5A`) or rejected (`5B`), with the address to report. */
export interface Socks4ServerReply {
  readonly type: 'reply';
  readonly granted: boolean;
  /**
   * CONNECT: ignored by clients, ferry reports its outgoing socket. BIND: first reply, where the
   * server listens; second reply, the peer that connected. Any address is accepted; one SOCKS4
   * cannot carry becomes 0.0.0.0 (see {@link socks4ReplyAddress}).
   */
  readonly bound?: { readonly address: string; readonly port: number } | undefined;
}

const UNSPECIFIED: SocksAddress = Object.freeze({ type: 'ipv4', host: '0.0.0.0', port: 0 });

/**
 * The IPv4 address a SOCKS4 reply can carry for `address`: itself, the IPv4 inside an
 * IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, as Node reports on dual-stack sockets), otherwise
 * 0.0.0.0 — which the SOCKS4 BIND text tells the client to replace with the server's address.
 */
export function socks4ReplyAddress(address: string, port: number): SocksAddress {
  if (parseIPv4(address) !== undefined) return { type: 'ipv4', host: address, port };
  const v6 = parseIPv6(address);
  const mapped =
    v6 !== undefined &&
    v6.subarray(0, 10).every((b) => b === 0) &&
    v6[10] === 0xff &&
    v6[11] === 0xff;
  if (v6 !== undefined && mapped) return { type: 'ipv4', host: formatIPv4(v6, 12), port };
  return { type: 'ipv4', host: '0.0.0.0', port };
}

const rejectedReply = (): Uint8Array =>
  encodeSocks4Reply({ code: Socks4Reply.Rejected, bound: UNSPECIFIED });

/**
 * One SOCKS4/4a server handshake.
 *
 * @example
 *   session.receiveData(chunk);
 *   const event = session.nextEvent(); // NEED_DATA until the request is complete
 */
export class Socks4ServerSession {
  #state: Socks4ServerState = 'request';
  readonly #buffer = new ByteQueue();
  #command: Socks4Command | undefined;

  get state(): Socks4ServerState {
    return this.#state;
  }

  /** Octets received and not yet consumed by the request. */
  get bufferedLength(): number {
    return this.#buffer.length;
  }

  /** Appends bytes from the client. Allowed in any state but `failed`. */
  receiveData(chunk: Uint8Array): void {
    if (this.#state === 'failed') this.#misuse('receiveData');
    this.#buffer.push(chunk);
  }

  /**
   * The request, {@link NEED_DATA} while it is incomplete, or {@link PAUSED} once it has been
   * received (the server speaks next). Never throws on malformed input: that is a
   * `protocol-error` event, after which the state is `failed`.
   */
  nextEvent(): Socks4ServerEvent | typeof NEED_DATA | typeof PAUSED {
    if (this.#state !== 'request') return PAUSED;
    let result: DecodeResult<Socks4Request>;
    try {
      result = decodeSocks4Request(this.#buffer.view());
    } catch (err) {
      if (!(err instanceof SocksProtocolError)) throw err;
      this.#state = 'failed';
      this.#buffer.take();
      return { type: 'protocol-error', error: err, response: rejectedReply() };
    }
    if (result === NEED_MORE) return NEED_DATA;
    this.#buffer.consume(result.length);
    this.#state = 'replying';
    this.#command = result.value.command;
    return { type: 'request', ...result.value };
  }

  /** Encodes a reply and advances the state. Throws SocksUsageError when out of turn. */
  send(message: Socks4ServerReply): Uint8Array {
    const bound =
      message.bound === undefined
        ? UNSPECIFIED
        : socks4ReplyAddress(message.bound.address, message.bound.port);
    if (this.#state === 'replying') {
      this.#state = !message.granted
        ? 'closed'
        : this.#command === Socks4Command.Bind
          ? 'bind-accepting'
          : 'established';
    } else {
      this.#expect('bind-accepting', 'second BIND reply');
      this.#state = message.granted ? 'established' : 'closed';
    }
    return encodeSocks4Reply({
      code: message.granted ? Socks4Reply.Granted : Socks4Reply.Rejected,
      bound,
    });
  }

  /**
   * Bytes the client sent after its request (pipelined payload). Call once `established`; they
   * must be forwarded before anything else read from the socket.
   */
  takeTrailingData(): Uint8Array {
    this.#expect('established', 'takeTrailingData');
    return this.#buffer.take();
  }

  #expect(state: Socks4ServerState, what: string): void {
    if (this.#state !== state) this.#misuse(what);
  }

  #misuse(what: string): never {
    throw new SocksUsageError(
      UsageErrorCode.InvalidState,
      `${what} is not allowed in state "${this.#state}"`,
    );
  }
}
