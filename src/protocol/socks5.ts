/**
 * SOCKS5 messages (RFC 1928 §3–§6): encoders return fresh arrays; decoders take any prefix of the
 * input and return NEED_MORE or the message with the octets it used. Malformed input throws a
 * SocksProtocolError carrying the reply a server should answer with.
 */
import { AuthMethod, Command, Reply, SOCKS5_VERSION } from './constants.js';
import { decodeAddress, encodeAddress, type SocksAddress } from './address.js';
import { NEED_MORE, type DecodeResult } from './decode.js';
import {
  ProtocolErrorCode,
  SocksProtocolError,
  SocksUsageError,
  UsageErrorCode,
} from '../errors.js';

function hex(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}

function checkVersion(version: number | undefined, what: string, reply?: Reply): void {
  if (version !== SOCKS5_VERSION) {
    throw new SocksProtocolError(
      ProtocolErrorCode.BadVersion,
      `${what}: expected SOCKS version 0x05, got ${hex(version ?? 0)}`,
      reply,
    );
  }
}

// --- Greeting (RFC 1928 §3) -------------------------------------------------------------------
//   +----+----------+----------+
//   |VER | NMETHODS | METHODS  |
//   +----+----------+----------+
//   | 1  |    1     | 1 to 255 |
//   +----+----------+----------+

export interface Greeting {
  /** The METHOD octets the client offers, in its order (duplicates kept as sent). */
  readonly methods: readonly number[];
}

export function encodeGreeting(greeting: Greeting): Uint8Array {
  const n = greeting.methods.length;
  if (n < 1 || n > 255) {
    throw new SocksUsageError(
      UsageErrorCode.InvalidArgument,
      `a greeting offers 1-255 methods, got ${n}`,
    );
  }
  return Uint8Array.of(SOCKS5_VERSION, n, ...greeting.methods);
}

/** Throws BadVersion (no reply: answer by closing) and NoMethods (answer `05 FF`). */
export function decodeGreeting(bytes: Uint8Array): DecodeResult<Greeting> {
  if (bytes.length < 1) return NEED_MORE;
  checkVersion(bytes[0], 'greeting');
  if (bytes.length < 2) return NEED_MORE;
  const n = bytes[1] ?? 0;
  if (n === 0)
    throw new SocksProtocolError(
      ProtocolErrorCode.NoMethods,
      'greeting offers no methods (NMETHODS = 0)',
    );
  if (bytes.length < 2 + n) return NEED_MORE;
  return { value: { methods: Array.from(bytes.subarray(2, 2 + n)) }, length: 2 + n };
}

// --- Method selection (RFC 1928 §3) -----------------------------------------------------------
//   +----+--------+
//   |VER | METHOD |
//   +----+--------+
//   | 1  |   1    |
//   +----+--------+

export interface MethodSelection {
  /** The chosen METHOD; {@link AuthMethod.NoAcceptable} (`FF`) means none was acceptable. */
  readonly method: number;
}

export function encodeMethodSelection(selection: MethodSelection): Uint8Array {
  return Uint8Array.of(SOCKS5_VERSION, selection.method & 0xff);
}

export function decodeMethodSelection(bytes: Uint8Array): DecodeResult<MethodSelection> {
  if (bytes.length < 1) return NEED_MORE;
  checkVersion(bytes[0], 'method selection');
  if (bytes.length < 2) return NEED_MORE;
  return { value: { method: bytes[1] ?? AuthMethod.NoAcceptable }, length: 2 };
}

// --- Request (RFC 1928 §4) --------------------------------------------------------------------
//   +----+-----+-------+------+----------+----------+
//   |VER | CMD |  RSV  | ATYP | DST.ADDR | DST.PORT |
//   +----+-----+-------+------+----------+----------+
//   | 1  |  1  | X'00' |  1   | Variable |    2     |
//   +----+-----+-------+------+----------+----------+

export interface Request {
  readonly command: Command;
  readonly destination: SocksAddress;
}

const knownCommands: ReadonlySet<number> = new Set(Object.values(Command));

export function encodeRequest(request: Request): Uint8Array {
  const address = encodeAddress(request.destination);
  const out = new Uint8Array(3 + address.length);
  out[0] = SOCKS5_VERSION;
  out[1] = request.command;
  out[2] = 0x00; // RSV
  out.set(address, 3);
  return out;
}

/**
 * Throws: BadVersion (reply 01), UnsupportedCommand (reply 07), UnsupportedAddressType (08),
 * BadAddress (01). RSV is reserved and not checked, as most implementations do.
 */
export function decodeRequest(bytes: Uint8Array): DecodeResult<Request> {
  if (bytes.length < 1) return NEED_MORE;
  checkVersion(bytes[0], 'request', Reply.GeneralFailure);
  if (bytes.length < 2) return NEED_MORE;
  const command = bytes[1] ?? 0;
  if (!knownCommands.has(command)) {
    throw new SocksProtocolError(
      ProtocolErrorCode.UnsupportedCommand,
      `unknown command ${hex(command)}`,
      Reply.CommandNotSupported,
    );
  }
  if (bytes.length < 4) return NEED_MORE;
  const address = decodeAddress(bytes, 3);
  if (address === NEED_MORE) return NEED_MORE;
  return {
    value: { command: command as Command, destination: address.value },
    length: 3 + address.length,
  };
}

// --- Reply (RFC 1928 §6) ----------------------------------------------------------------------
//   +----+-----+-------+------+----------+----------+
//   |VER | REP |  RSV  | ATYP | BND.ADDR | BND.PORT |
//   +----+-----+-------+------+----------+----------+
//   | 1  |  1  | X'00' |  1   | Variable |    2     |
//   +----+-----+-------+------+----------+----------+

export interface ReplyMessage {
  /** REP; any octet (09–FF are unassigned but a peer may send them). */
  readonly reply: number;
  readonly bound: SocksAddress;
}

/** Always full length: a failure reply with no better address carries `01 00000000 0000`. */
export function encodeReply(message: ReplyMessage): Uint8Array {
  const address = encodeAddress(message.bound);
  const out = new Uint8Array(3 + address.length);
  out[0] = SOCKS5_VERSION;
  out[1] = message.reply & 0xff;
  out[2] = 0x00; // RSV
  out.set(address, 3);
  return out;
}

export function decodeReply(bytes: Uint8Array): DecodeResult<ReplyMessage> {
  if (bytes.length < 1) return NEED_MORE;
  checkVersion(bytes[0], 'reply');
  if (bytes.length < 4) return NEED_MORE;
  const address = decodeAddress(bytes, 3);
  if (address === NEED_MORE) return NEED_MORE;
  return {
    value: { reply: bytes[1] ?? Reply.GeneralFailure, bound: address.value },
    length: 3 + address.length,
  };
}

/** Largest request or reply: domain of 255 octets. Bounds the handshake buffer. */
export const MAX_REQUEST_LENGTH = 3 + 1 + 1 + 255 + 2;
