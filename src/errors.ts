/**
 * The one error family of ferry, and the one table that turns an error into a SOCKS5 reply code.
 *
 * Every error ferry throws or emits is a {@link SocksError} with a stable `code` (`ERR_SOCKS_*`).
 * Errors caused by the peer (bytes it sent, a reply it gave) are {@link SocksProtocolError}s and
 * its kin; errors caused by the caller (bad options, a call in the wrong state) are
 * {@link SocksUsageError}s. This module is pure: the protocol codec depends on it.
 */
import { Reply } from './protocol/constants.js';

/** The base class: `code` is stable and safe to switch on; the message is for humans. */
export class SocksError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Stable codes of {@link SocksProtocolError}: what was wrong with the bytes the peer sent. */
export const ProtocolErrorCode = {
  BadVersion: 'ERR_SOCKS_BAD_VERSION',
  NoMethods: 'ERR_SOCKS_NO_METHODS',
  UnsupportedCommand: 'ERR_SOCKS_UNSUPPORTED_COMMAND',
  UnsupportedAddressType: 'ERR_SOCKS_UNSUPPORTED_ADDRESS_TYPE',
  BadAddress: 'ERR_SOCKS_BAD_ADDRESS',
  BadCredentials: 'ERR_SOCKS_BAD_CREDENTIALS_FORMAT',
  BadMessage: 'ERR_SOCKS_BAD_MESSAGE',
  UnexpectedData: 'ERR_SOCKS_UNEXPECTED_DATA',
  MessageTooLarge: 'ERR_SOCKS_MESSAGE_TOO_LARGE',
  /** A server selected a METHOD the client never offered (RFC 1928 §3). */
  UnexpectedMethod: 'ERR_SOCKS_UNEXPECTED_METHOD',
  /** The peer closed the connection in the middle of a handshake. */
  UnexpectedClose: 'ERR_SOCKS_UNEXPECTED_CLOSE',
} as const;
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

/**
 * The peer sent bytes that are not a valid message. `reply` is the REP a server should answer
 * with when the malformed message was a request (RFC 1928 §6); `undefined` when there is no
 * meaningful reply (a bad greeting is answered by closing).
 */
export class SocksProtocolError extends SocksError {
  declare readonly code: ProtocolErrorCode;
  readonly reply: Reply | undefined;
  constructor(code: ProtocolErrorCode, message: string, reply?: Reply, options?: ErrorOptions) {
    super(code, message, options);
    this.reply = reply;
  }
}

/** The caller misused the API: invalid options, or a call the session state does not allow. */
export class SocksUsageError extends SocksError {}

/** Codes of {@link SocksUsageError}. */
export const UsageErrorCode = {
  InvalidState: 'ERR_SOCKS_INVALID_STATE',
  InvalidOption: 'ERR_SOCKS_INVALID_OPTION',
  InvalidArgument: 'ERR_SOCKS_INVALID_ARGUMENT',
} as const;

/** An option or argument failed validation; the message names the field. */
export function invalidOption(field: string, problem: string): SocksUsageError {
  return new SocksUsageError(UsageErrorCode.InvalidOption, `${field}: ${problem}`);
}

/** Something that should have a reply code of its own (denied by rules, timed out, ...). */
export class SocksDialError extends SocksError {
  readonly reply: Reply;
  constructor(code: string, message: string, reply: Reply, options?: ErrorOptions) {
    super(code, message, options);
    this.reply = reply;
  }
}

// --- Errors of the client (src/client) ------------------------------------------------------

/** Stable codes of the client's errors. */
export const ClientErrorCode = {
  /** The proxy answered the request with a failure reply ({@link SocksReplyError}). */
  Reply: 'ERR_SOCKS_REPLY',
  /** The proxy accepted none of the offered methods (`05 FF`). */
  NoAcceptableMethod: 'ERR_SOCKS_NO_ACCEPTABLE_METHOD',
  /** The proxy rejected the credentials (RFC 1929 STATUS ≠ 00) or another method failed. */
  AuthFailed: 'ERR_SOCKS_AUTH_FAILED',
  /** The handshake (or another bounded wait) took longer than its timeout. */
  Timeout: 'ERR_SOCKS_TIMEOUT',
  /** The caller's AbortSignal fired. */
  Aborted: 'ERR_SOCKS_ABORTED',
  /** The TCP connection to the (first) proxy failed or broke; `cause` holds the errno error. */
  ProxyConnection: 'ERR_SOCKS_PROXY_CONNECTION',
  /** A destination name could not be resolved locally (socks5:// and socks4:// resolve here). */
  Resolve: 'ERR_SOCKS_RESOLVE',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/**
 * The proxy refused a request: `reply` is the REP (SOCKS5) or CD (SOCKS4, `5B`–`5D`) octet it
 * sent, `version` says which, and the message names the proxy, the destination and the RFC's
 * meaning of the code.
 */
export class SocksReplyError extends SocksError {
  declare readonly code: typeof ClientErrorCode.Reply;
  readonly reply: number;
  readonly version: 4 | 5;
  constructor(reply: number, version: 4 | 5, message: string) {
    super(ClientErrorCode.Reply, message);
    this.reply = reply;
    this.version = version;
  }
}

/** The proxy would not let us in: no acceptable method, or authentication failed. */
export class SocksAuthError extends SocksError {}

/** A bounded wait ran out; `timeout` is the limit in milliseconds. */
export class SocksTimeoutError extends SocksError {
  declare readonly code: typeof ClientErrorCode.Timeout;
  readonly timeout: number;
  constructor(timeout: number, message: string) {
    super(ClientErrorCode.Timeout, message);
    this.timeout = timeout;
  }
}

/** The caller aborted; `cause` is the signal's reason. */
export class SocksAbortError extends SocksError {
  declare readonly code: typeof ClientErrorCode.Aborted;
  constructor(message: string, options?: ErrorOptions) {
    super(ClientErrorCode.Aborted, message, options);
  }
}

/** The connection to a proxy could not be made or broke during the handshake. */
export class SocksConnectionError extends SocksError {}

/** Codes of {@link SocksGssapiError}. */
export const GssapiErrorCode = {
  /** A GSS-API call failed; `major`, `minor` and `routine` say how. */
  Failed: 'ERR_SOCKS_GSSAPI',
  /** The binding cannot be used here: koffi or MIT libgssapi_krb5 is missing. */
  Unavailable: 'ERR_SOCKS_GSSAPI_UNAVAILABLE',
} as const;
export type GssapiErrorCode = (typeof GssapiErrorCode)[keyof typeof GssapiErrorCode];

/**
 * A GSS-API failure (RFC 1961 method 01). The message carries the library's own
 * gss_display_status() text for the major and minor status; `routine` is the symbolic major
 * status (e.g. `GSS_S_BAD_SIG` for a tampered token) and is safe to switch on. For
 * `ERR_SOCKS_GSSAPI_UNAVAILABLE` the message is one line starting "GSS-API unavailable:".
 */
export class SocksGssapiError extends SocksError {
  declare readonly code: GssapiErrorCode;
  /** The C function that failed, e.g. `gss_unwrap`; undefined for "unavailable". */
  readonly operation: string | undefined;
  readonly major: number;
  readonly minor: number;
  /** Symbolic major status, e.g. `GSS_S_DEFECTIVE_TOKEN`; empty for "unavailable". */
  readonly routine: string;
  constructor(
    code: GssapiErrorCode,
    message: string,
    details: { operation?: string; major?: number; minor?: number; routine?: string } = {},
    options?: ErrorOptions,
  ) {
    super(code, message, options);
    this.operation = details.operation;
    this.major = details.major ?? 0;
    this.minor = details.minor ?? 0;
    this.routine = details.routine ?? '';
  }
}

/**
 * errno (or ferry code) → REP, as summarised in SOCKS.md §3 — the mapping Dante, microsocks and
 * sing-box use. The only place in ferry where an error becomes a reply code; never match on text.
 */
const replyByCode: Readonly<Record<string, Reply>> = {
  ECONNREFUSED: Reply.ConnectionRefused,
  ENETUNREACH: Reply.NetworkUnreachable,
  ENETDOWN: Reply.NetworkUnreachable,
  EHOSTUNREACH: Reply.HostUnreachable,
  EHOSTDOWN: Reply.HostUnreachable,
  ENOTFOUND: Reply.HostUnreachable,
  EAI_AGAIN: Reply.HostUnreachable,
  EAI_NONAME: Reply.HostUnreachable,
  EAI_FAIL: Reply.HostUnreachable,
  EAI_NODATA: Reply.HostUnreachable,
  ENODATA: Reply.HostUnreachable,
  ETIMEDOUT: Reply.TtlExpired,
  ETIMEOUT: Reply.TtlExpired,
  EACCES: Reply.NotAllowed,
  EPERM: Reply.NotAllowed,
  EAFNOSUPPORT: Reply.AddressTypeNotSupported,
  EAI_FAMILY: Reply.AddressTypeNotSupported,
  [ClientErrorCode.Timeout]: Reply.TtlExpired,
  [ClientErrorCode.NoAcceptableMethod]: Reply.NotAllowed,
  [ClientErrorCode.AuthFailed]: Reply.NotAllowed,
};

/** When Happy Eyeballs fails with several errors, the most telling one wins (SOCKS.md §3). */
const foldOrder: readonly Reply[] = [
  Reply.ConnectionRefused,
  Reply.HostUnreachable,
  Reply.NetworkUnreachable,
  Reply.TtlExpired,
  Reply.NotAllowed,
  Reply.AddressTypeNotSupported,
];

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/**
 * The SOCKS5 REP code for an error: a ferry error's own `reply`, else the errno table, else
 * `01` general failure. An `AggregateError` (Happy Eyeballs) is folded to its most telling member.
 */
export function replyForError(err: unknown): Reply {
  if (err instanceof SocksDialError) return err.reply;
  if (err instanceof SocksProtocolError && err.reply !== undefined) return err.reply;
  // An upstream SOCKS5 proxy's own assigned failure code passes through unchanged.
  if (
    err instanceof SocksReplyError &&
    err.version === 5 &&
    err.reply > Reply.Succeeded &&
    err.reply <= Reply.AddressTypeNotSupported
  ) {
    return err.reply as Reply;
  }
  if (err instanceof AggregateError) {
    const replies = new Set(err.errors.map(replyForError));
    return foldOrder.find((r) => replies.has(r)) ?? Reply.GeneralFailure;
  }
  const code = errorCode(err);
  if (code !== undefined) {
    const reply = replyByCode[code];
    if (reply !== undefined) return reply;
  }
  return Reply.GeneralFailure;
}

/**
 * A malformed HTTP request (the HTTP proxy dialect): `status` is the response the server sends
 * before closing — 400 malformed, 414 request line too long, 431 header block too large, 501 an
 * unsupported transfer coding, 505 an HTTP version other than 1.x. `code` is the closest
 * {@link ProtocolErrorCode} (`MessageTooLarge` for 414/431, `BadVersion` for 505, ...).
 */
export class HttpProtocolError extends SocksProtocolError {
  readonly status: number;
  constructor(code: ProtocolErrorCode, status: number, message: string) {
    super(code, message);
    this.status = status;
  }
}

/**
 * Codes of {@link SocksDialError}s raised before any connection attempt. DNS failures are
 * wrapped (the resolver's own code is kept in `cause`): c-ares codes such as ECONNREFUSED
 * (the DNS server refused) or ETIMEOUT would otherwise be misread by the errno table above.
 */
export const DialErrorCode = {
  /** The name could not be resolved (NXDOMAIN, no addresses, DNS unreachable): reply 04. */
  Resolve: 'ERR_SOCKS_RESOLVE',
  /** The destination host is neither an IP address nor a valid name: reply 04. */
  BadHost: 'ERR_SOCKS_BAD_HOST',
  /** Denied by the access rules: reply 02. */
  NotAllowed: 'ERR_SOCKS_NOT_ALLOWED',
} as const;
export type DialErrorCode = (typeof DialErrorCode)[keyof typeof DialErrorCode];
