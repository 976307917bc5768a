/**
 * RFC 1929 username/password sub-negotiation, run after the server selects method 02.
 * Credentials are kept as octets (`Uint8Array`) as well as text so that a password is compared
 * exactly as sent, whatever its encoding.
 */
import { Limits, USER_PASS_VERSION, UserPassStatus } from './constants.js';
import { NEED_MORE, type DecodeResult } from './decode.js';
import {
  ProtocolErrorCode,
  SocksProtocolError,
  SocksUsageError,
  UsageErrorCode,
} from '../errors.js';

// --- Request (RFC 1929 §2) --------------------------------------------------------------------
//   +----+------+----------+------+----------+
//   |VER | ULEN |  UNAME   | PLEN |  PASSWD  |
//   +----+------+----------+------+----------+
//   | 1  |  1   | 1 to 255 |  1   | 1 to 255 |
//   +----+------+----------+------+----------+

export interface UserPassRequest {
  readonly username: Uint8Array;
  readonly password: Uint8Array;
}

const textEncoder = new TextEncoder();

/** Accepts text (encoded as UTF-8) or raw octets for each field. */
export function encodeUserPassRequest(credentials: {
  username: string | Uint8Array;
  password: string | Uint8Array;
}): Uint8Array {
  const user =
    typeof credentials.username === 'string'
      ? textEncoder.encode(credentials.username)
      : credentials.username;
  const pass =
    typeof credentials.password === 'string'
      ? textEncoder.encode(credentials.password)
      : credentials.password;
  for (const [name, field] of [
    ['username', user],
    ['password', pass],
  ] as const) {
    if (field.length < 1 || field.length > Limits.maxCredentialLength) {
      throw new SocksUsageError(
        UsageErrorCode.InvalidArgument,
        `${name} must be 1-255 octets, got ${field.length}`,
      );
    }
  }
  const out = new Uint8Array(3 + user.length + pass.length);
  out[0] = USER_PASS_VERSION;
  out[1] = user.length;
  out.set(user, 2);
  out[2 + user.length] = pass.length;
  out.set(pass, 3 + user.length);
  return out;
}

/** Throws BadVersion for VER ≠ 01 and BadCredentials for an empty UNAME or PASSWD. */
export function decodeUserPassRequest(bytes: Uint8Array): DecodeResult<UserPassRequest> {
  if (bytes.length < 1) return NEED_MORE;
  if (bytes[0] !== USER_PASS_VERSION) {
    throw new SocksProtocolError(
      ProtocolErrorCode.BadVersion,
      `username/password: expected version 0x01, got 0x${(bytes[0] ?? 0).toString(16).padStart(2, '0')}`,
    );
  }
  if (bytes.length < 2) return NEED_MORE;
  const ulen = bytes[1] ?? 0;
  if (ulen === 0)
    throw new SocksProtocolError(
      ProtocolErrorCode.BadCredentials,
      'username/password: empty username',
    );
  if (bytes.length < 3 + ulen) return NEED_MORE;
  const plen = bytes[2 + ulen] ?? 0;
  if (plen === 0)
    throw new SocksProtocolError(
      ProtocolErrorCode.BadCredentials,
      'username/password: empty password',
    );
  if (bytes.length < 3 + ulen + plen) return NEED_MORE;
  return {
    value: {
      username: bytes.slice(2, 2 + ulen),
      password: bytes.slice(3 + ulen, 3 + ulen + plen),
    },
    length: 3 + ulen + plen,
  };
}

// --- Response (RFC 1929 §2) -------------------------------------------------------------------
//   +----+--------+
//   |VER | STATUS |
//   +----+--------+
//   | 1  |   1    |
//   +----+--------+

export interface UserPassResponse {
  /** 00 success; any other value is failure (RFC 1929 §2). */
  readonly status: number;
}

export function encodeUserPassResponse(response: UserPassResponse): Uint8Array {
  return Uint8Array.of(USER_PASS_VERSION, response.status & 0xff);
}

export function decodeUserPassResponse(bytes: Uint8Array): DecodeResult<UserPassResponse> {
  if (bytes.length < 1) return NEED_MORE;
  if (bytes[0] !== USER_PASS_VERSION) {
    throw new SocksProtocolError(
      ProtocolErrorCode.BadVersion,
      `username/password response: expected version 0x01, got 0x${(bytes[0] ?? 0).toString(16).padStart(2, '0')}`,
    );
  }
  if (bytes.length < 2) return NEED_MORE;
  return { value: { status: bytes[1] ?? UserPassStatus.Failure }, length: 2 };
}

/** Largest RFC 1929 request: two 255-octet fields. */
export const MAX_USER_PASS_REQUEST_LENGTH = 3 + 255 + 255;
