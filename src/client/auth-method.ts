/**
 * Pluggable SOCKS5 authentication methods for the client (RFC 1928 §3: METHOD 01 GSS-API,
 * 03–7F IANA-assigned, 80–FE private). None (00) and username/password (02, RFC 1929) are
 * built into the session machine; anything else is a {@link ClientAuthMethod}.
 *
 * A method may need several rounds in a format of its own (GSS-API, RFC 1961, exchanges
 * context tokens until both sides are done) and asynchronous work (a GSS library), so it is a
 * step function driven by the connection adapter: it sees the bytes from the proxy and says what
 * to send, until it is done; then the handshake resumes at the request.
 */
import type { Duplex } from 'node:stream';
import type { SocksAddress } from '../protocol/address.js';

/** What one step of a method decided. */
export interface AuthStep {
  /** Bytes to send to the proxy now (may be empty). */
  readonly output?: Uint8Array;
  /**
   * How many octets of the step's input the method used. Unused octets are offered again on the
   * next step, together with whatever arrives next; when `done`, they go back to the session
   * (they are the start of the proxy's reply). A step that uses nothing, sends nothing and is not
   * done means "need more bytes".
   */
  readonly consumed: number;
  /** The sub-negotiation succeeded; the session continues with the request. */
  readonly done: boolean;
  /**
   * With `done`: the method protects everything that follows (RFC 1961 §5 encapsulation) — the
   * request, the replies and the data. Called with the connection to the proxy (a socket, or an
   * earlier hop's layer) and the octets already read past the method's end; the handshake, the
   * later hops and the application then use the Duplex it returns.
   */
  readonly protect?: (connection: Duplex, pending: Uint8Array) => Duplex;
  /** Fail the handshake with this error once `output` (e.g. an abort message) was sent. */
  readonly error?: Error;
}

/** One run of a method over one connection. */
export interface AuthExchange {
  /**
   * Called first with the bytes (possibly none) the proxy sent right after selecting the method,
   * then whenever more arrive. Throw a `SocksAuthError` (or any error) to fail the handshake.
   */
  step(input: Uint8Array): AuthStep | Promise<AuthStep>;
}

/** Where a method is run: for messages and for methods that depend on the target. */
export interface AuthContext {
  /** The proxy, as `toString()` prints it (no password). */
  readonly proxy: string;
  readonly proxyHost: string;
  readonly destination: SocksAddress;
}

/** An authentication method the client can offer. */
export interface ClientAuthMethod {
  /** The METHOD octet offered in the greeting (not 00, 02 or FF, which are built in). */
  readonly method: number;
  /** A short name for messages, e.g. `'gssapi'`. */
  readonly name: string;
  /**
   * The proxy must authenticate: `none` (00) is not offered alongside this method, so neither
   * the proxy nor anyone rewriting its answer can fall back to no authentication. Default false.
   */
  readonly required?: boolean;
  /** Starts a fresh exchange for one connection. */
  start(context: AuthContext): AuthExchange;
}

/** Upper bounds that keep a misbehaving method or proxy from looping or buffering forever. */
export const AuthLimits = {
  /** Steps per exchange. */
  maxSteps: 64,
  /** Octets buffered while a method asks for more. */
  maxBuffered: 64 * 1024,
} as const;
