/**
 * SOCKS4 and SOCKS4a (Ying-Da Lee, "SOCKS: A protocol for TCP proxy across firewalls" and
 * "SOCKS 4A: A Simple Extension to SOCKS 4 Protocol"), both directions: the client encodes
 * requests and decodes replies, the server decodes requests and encodes replies. Decoders take
 * any prefix of the input and return NEED_MORE or the message with the octets it used.
 *
 * SOCKS4 has no length fields: USERID and the SOCKS4a domain name end at a NUL octet. A server
 * must therefore bound them itself, or a peer that never sends the NUL makes it buffer forever.
 * The bound here is {@link Socks4Limits}: 255 octets each (the same as SOCKS5's one-octet length
 * fields); a longer field is a `ERR_SOCKS_MESSAGE_TOO_LARGE` protocol error, so no request is
 * ever longer than {@link MAX_SOCKS4_REQUEST_LENGTH} octets.
 *
 * A malformed SOCKS4 request has no reply code of its own (SOCKS4 has a single failure code,
 * `5B`), so the errors thrown here carry no SOCKS5 `reply`; a server answers `5B` to all of them.
 */
import { formatIPv4, parseIPv4, type SocksAddress } from './address.js';
import { NEED_MORE, readUint16, writeUint16, type DecodeResult, type NeedMore } from './decode.js';
import {
  ProtocolErrorCode,
  SocksProtocolError,
  SocksUsageError,
  UsageErrorCode,
} from '../errors.js';

/** VN of a SOCKS4/4a request. */
export const SOCKS4_VERSION = 0x04;
/** VN of a SOCKS4 reply: "the version of the reply code and should be 0". */
export const SOCKS4_REPLY_VERSION = 0x00;

/** CD of a request. SOCKS4 has no UDP. */
export const Socks4Command = {
  Connect: 0x01,
  Bind: 0x02,
} as const;
export type Socks4Command = (typeof Socks4Command)[keyof typeof Socks4Command];

/** CD of a reply. */
export const Socks4Reply = {
  /** 90: request granted. */
  Granted: 0x5a,
  /** 91: request rejected or failed. */
  Rejected: 0x5b,
  /** 92: rejected because the server cannot connect to identd on the client. */
  IdentdUnreachable: 0x5c,
  /** 93: rejected because identd and the client reported different user-ids. */
  IdentdMismatch: 0x5d,
} as const;
export type Socks4Reply = (typeof Socks4Reply)[keyof typeof Socks4Reply];

/** The protocol document's own wording for each reply code. */
export const socks4ReplyMessages: Readonly<Record<Socks4Reply, string>> = {
  [Socks4Reply.Granted]: 'request granted',
  [Socks4Reply.Rejected]: 'request rejected or failed',
  [Socks4Reply.IdentdUnreachable]: 'request rejected because the server cannot connect to identd',
  [Socks4Reply.IdentdMismatch]: 'request rejected because identd reported a different user-id',
};

/** Describes any SOCKS4 CD octet of a reply, including unassigned ones. */
export function describeSocks4Reply(code: number): string {
  return (
    (socks4ReplyMessages as Record<number, string | undefined>)[code] ??
    `unassigned SOCKS4 reply 0x${code.toString(16).padStart(2, '0')}`
  );
}

/** Bounds on the NUL-terminated fields; the protocol has none, so these are ferry's. */
export const Socks4Limits = {
  /** USERID octets, not counting its NUL. */
  maxUserIdLength: 255,
  /** SOCKS4a domain name octets, not counting its NUL (as SOCKS5's one-octet length allows). */
  maxDomainLength: 255,
} as const;

/** Header (VN CD DSTPORT DSTIP) + USERID + NUL + domain + NUL, at the limits. */
export const MAX_SOCKS4_REQUEST_LENGTH =
  8 + Socks4Limits.maxUserIdLength + 1 + Socks4Limits.maxDomainLength + 1;

/** The DSTIP a SOCKS4a client sends with a domain name: 0.0.0.x, x ≠ 0; ferry sends 0.0.0.1. */
export const SOCKS4A_MARKER_ADDRESS = '0.0.0.1';

const NUL = 0x00;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8');

function hex(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}

function usage(message: string): SocksUsageError {
  return new SocksUsageError(UsageErrorCode.InvalidArgument, message);
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw usage(`port must be an integer 0-65535, got ${String(port)}`);
  }
}

// --- Request --------------------------------------------------------------------------------
//   +----+----+----+----+----+----+----+----+----+----+....+----+
//   | VN | CD | DSTPORT |      DSTIP        | USERID       |NULL|
//   +----+----+----+----+----+----+----+----+----+----+....+----+
//      1    1      2              4           variable       1
// SOCKS4a: DSTIP = 0.0.0.x (x ≠ 0), and after USERID's NULL: | DOMAIN | NULL |

export interface Socks4Request {
  readonly command: Socks4Command;
  /** `ipv4` for SOCKS4; `domain` for SOCKS4a (DSTIP was 0.0.0.x). */
  readonly destination: SocksAddress;
  /** USERID decoded as UTF-8; informational only — never authentication. */
  readonly userId: string;
}

const knownCommands: ReadonlySet<number> = new Set(Object.values(Socks4Command));

/**
 * Encodes a request: SOCKS4 for an `ipv4` destination, SOCKS4a for a `domain`.
 * Throws SocksUsageError for an IPv6 destination (SOCKS4 cannot carry one), a field longer than
 * {@link Socks4Limits}, an empty domain, or a NUL inside USERID or the domain.
 */
export function encodeSocks4Request(request: {
  readonly command: Socks4Command;
  readonly destination: SocksAddress;
  readonly userId?: string | Uint8Array;
}): Uint8Array {
  const { destination } = request;
  checkPort(destination.port);
  const userId =
    typeof request.userId === 'string'
      ? textEncoder.encode(request.userId)
      : (request.userId ?? new Uint8Array(0));
  if (userId.length > Socks4Limits.maxUserIdLength) {
    throw usage(`a SOCKS4 user-id is at most 255 octets, got ${userId.length}`);
  }
  if (userId.includes(NUL)) throw usage('a SOCKS4 user-id cannot contain a NUL octet');
  let ip: Uint8Array | undefined;
  let domain: Uint8Array | undefined;
  switch (destination.type) {
    case 'ipv4':
      ip = parseIPv4(destination.host);
      if (ip === undefined) throw usage(`not an IPv4 address: ${destination.host}`);
      break;
    case 'domain':
      ip = parseIPv4(SOCKS4A_MARKER_ADDRESS);
      domain = textEncoder.encode(destination.host);
      if (domain.length < 1 || domain.length > Socks4Limits.maxDomainLength) {
        throw usage(`a SOCKS4a domain name must be 1-255 octets, got ${domain.length}`);
      }
      if (domain.includes(NUL)) throw usage('a SOCKS4a domain name cannot contain a NUL octet');
      break;
    case 'ipv6':
      throw usage(`SOCKS4 cannot carry an IPv6 destination (${destination.host})`);
  }
  const out = new Uint8Array(8 + userId.length + 1 + (domain ? domain.length + 1 : 0));
  out[0] = SOCKS4_VERSION;
  out[1] = request.command;
  writeUint16(out, 2, destination.port);
  out.set(ip ?? new Uint8Array(4), 4);
  out.set(userId, 8);
  out[8 + userId.length] = NUL;
  if (domain) {
    out.set(domain, 9 + userId.length);
    out[out.length - 1] = NUL;
  }
  return out;
}

/**
 * Finds the NUL ending a field that starts at `start`. Returns its index, NEED_MORE, or throws
 * MessageTooLarge once more than `max` octets have arrived without one.
 */
function findNul(bytes: Uint8Array, start: number, max: number, what: string): number | NeedMore {
  const end = Math.min(bytes.length, start + max + 1);
  const nul = bytes.subarray(start, end).indexOf(NUL);
  if (nul !== -1) return start + nul;
  if (end - start > max) {
    throw new SocksProtocolError(
      ProtocolErrorCode.MessageTooLarge,
      `SOCKS4 ${what} is longer than ${max} octets`,
    );
  }
  return NEED_MORE;
}

/**
 * Decodes a SOCKS4 or SOCKS4a request. Throws SocksProtocolError: BadVersion (VN ≠ 04),
 * UnsupportedCommand (CD not 01/02), MessageTooLarge (USERID or domain over 255 octets),
 * BadAddress (an empty SOCKS4a domain).
 */
export function decodeSocks4Request(bytes: Uint8Array): DecodeResult<Socks4Request> {
  if (bytes.length < 1) return NEED_MORE;
  if (bytes[0] !== SOCKS4_VERSION) {
    throw new SocksProtocolError(
      ProtocolErrorCode.BadVersion,
      `SOCKS4 request: expected version 0x04, got ${hex(bytes[0] ?? 0)}`,
    );
  }
  if (bytes.length < 2) return NEED_MORE;
  const command = bytes[1] ?? 0;
  if (!knownCommands.has(command)) {
    throw new SocksProtocolError(
      ProtocolErrorCode.UnsupportedCommand,
      `SOCKS4 request: unknown command ${hex(command)}`,
    );
  }
  if (bytes.length < 8) return NEED_MORE;
  const port = readUint16(bytes, 2);
  const userIdEnd = findNul(bytes, 8, Socks4Limits.maxUserIdLength, 'user-id');
  if (userIdEnd === NEED_MORE) return NEED_MORE;
  const userId = textDecoder.decode(bytes.subarray(8, userIdEnd));
  // SOCKS4a: DSTIP 0.0.0.x with x ≠ 0 means "the domain name follows".
  const isSocks4a = bytes[4] === 0 && bytes[5] === 0 && bytes[6] === 0 && bytes[7] !== 0;
  if (!isSocks4a) {
    return {
      value: {
        command: command as Socks4Command,
        destination: { type: 'ipv4', host: formatIPv4(bytes, 4), port },
        userId,
      },
      length: userIdEnd + 1,
    };
  }
  const domainStart = userIdEnd + 1;
  const domainEnd = findNul(bytes, domainStart, Socks4Limits.maxDomainLength, 'domain name');
  if (domainEnd === NEED_MORE) return NEED_MORE;
  if (domainEnd === domainStart) {
    throw new SocksProtocolError(
      ProtocolErrorCode.BadAddress,
      'SOCKS4a request: empty domain name',
    );
  }
  return {
    value: {
      command: command as Socks4Command,
      destination: {
        type: 'domain',
        host: textDecoder.decode(bytes.subarray(domainStart, domainEnd)),
        port,
      },
      userId,
    },
    length: domainEnd + 1,
  };
}

// --- Reply ----------------------------------------------------------------------------------
//   +----+----+----+----+----+----+----+----+
//   | VN | CD | DSTPORT |      DSTIP        |
//   +----+----+----+----+----+----+----+----+
//      1    1      2              4
// VN is 0. For CONNECT, DSTPORT/DSTIP "should be ignored"; for BIND's first reply they are where
// the server listens (DSTIP 0 = "use the SOCKS server's own address"); the second names the peer.

export interface Socks4ReplyMessage {
  /** CD; any octet (a peer may send an unassigned one). */
  readonly code: number;
  /** Always `ipv4`. */
  readonly bound: SocksAddress;
}

/** The address of a reply that has nothing better to say: 0.0.0.0, port 0. */
const UNSPECIFIED: SocksAddress = Object.freeze({ type: 'ipv4', host: '0.0.0.0', port: 0 });

/** Encodes a reply. Throws SocksUsageError when `bound` is not IPv4 (SOCKS4 cannot say so). */
export function encodeSocks4Reply(reply: {
  readonly code: number;
  readonly bound?: SocksAddress;
}): Uint8Array {
  const bound = reply.bound ?? UNSPECIFIED;
  checkPort(bound.port);
  const ip = bound.type === 'ipv4' ? parseIPv4(bound.host) : undefined;
  if (ip === undefined) throw usage(`a SOCKS4 reply carries only IPv4, got ${bound.host}`);
  const out = new Uint8Array(8);
  out[0] = SOCKS4_REPLY_VERSION;
  out[1] = reply.code & 0xff;
  writeUint16(out, 2, bound.port);
  out.set(ip, 4);
  return out;
}

/** Decodes a reply. Throws SocksProtocolError BadVersion when VN is not 00. */
export function decodeSocks4Reply(bytes: Uint8Array): DecodeResult<Socks4ReplyMessage> {
  if (bytes.length < 1) return NEED_MORE;
  if (bytes[0] !== SOCKS4_REPLY_VERSION) {
    throw new SocksProtocolError(
      ProtocolErrorCode.BadVersion,
      `SOCKS4 reply: expected version 0x00, got ${hex(bytes[0] ?? 0)}`,
    );
  }
  if (bytes.length < 8) return NEED_MORE;
  return {
    value: {
      code: bytes[1] ?? Socks4Reply.Rejected,
      bound: { type: 'ipv4', host: formatIPv4(bytes, 4), port: readUint16(bytes, 2) },
    },
    length: 8,
  };
}
