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
  constructor(code: ProtocolErrorCode, message: string, reply?: Reply) {
    super(code, message);
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
