/**
 * RFC 1961 framing: every message of the GSS-API method (SOCKS5 method 01) after the method
 * selection. Pure: tokens are opaque octets here; producing and checking them is the binding's
 * job (src/gssapi). Decoders return NEED_MORE on a prefix and report the octets they used.
 *
 * Every message but the abort has the same frame (RFC 1961 §3 context tokens and server reply, §4.3, §5):
 *
 *   +------+------+------+.......................+
 *   + ver  | mtyp | len  |       token           |
 *   +------+------+------+.......................+
 *   + 0x01 | 0x0? | 0x02 | up to 2^16 - 1 octets |
 *   +------+------+------+.......................+
 *
 * (The "0x02" under len is its size in octets: a 16-bit big-endian length.) So a token is at
 * most 65535 octets — for MTYP 03 that bounds the *wrapped* token, and a sender must cut its
 * data with gss_wrap_size_limit(65535) before wrapping.
 *
 * The abort (RFC 1961 §3.8) is two octets, with no LEN and no TOKEN:
 *
 *   +------+------+
 *   + ver  | mtyp |
 *   +------+------+
 *   + 0x01 | 0xff |
 *   +------+------+
 */
import { NEED_MORE, readUint16, writeUint16, type DecodeResult } from './decode.js';
import {
  ProtocolErrorCode,
  SocksProtocolError,
  SocksUsageError,
  UsageErrorCode,
} from '../errors.js';

/** VER of every RFC 1961 message: "the first version of the SOCKS/GSS-API protocol". */
export const GSSAPI_VERSION = 0x01;

/** MTYP values (RFC 1961 §3, §3.8, §4.3, §5). */
export const GssapiMessageType = {
  /** Context establishment: a token of gss_init_sec_context / gss_accept_sec_context. */
  Context: 0x01,
  /** Protection-level negotiation: the gss_wrap()ped level octet (§4.3). */
  ProtectionLevel: 0x02,
  /** Encapsulated user data: a gss_wrap()ped chunk of the SOCKS request, reply or relay (§5). */
  Encapsulated: 0x03,
  /** Abort: "the server refuses the client's connection for any reason" (§3.8). */
  Abort: 0xff,
} as const;
export type GssapiMessageType = (typeof GssapiMessageType)[keyof typeof GssapiMessageType];

/**
 * The protection-level octet (RFC 1961 §4.3), which travels wrapped with conf_req_flag FALSE
 * (§4.4) — or bare, in the NEC reference implementation's variant (curl
 * `--socks5-gssapi-nec`, Dante `gssapi.nec`), which sends the single octet as the TOKEN.
 *
 * `Clear` (00) is NOT in RFC 1961. curl and Dante use it for "authenticated, but no per-message
 * protection": curl proposes 02 when the context offers confidentiality (else 01, else 00), then
 * accepts whatever level the server answers — and curl 7.88 implements no encapsulation, so it
 * fails the request ("SOCKS5 GSS-API protection not yet implemented") unless the server answers
 * 00, in which case it deletes the context and speaks plain SOCKS5. Dante (`gssapi.enctype:
 * clear`) names 00 `SOCKS_GSSAPI_CLEAR` and, on 00, continues in clear text ("Not RFC compliant
 * but useful if authentication only is required"); its server echoes the client's level when its
 * rule allows that level and never accepts 03. RFC 1961 §4.2 lets the server answer a level other
 * than the one asked for; the client must close if it cannot accept it (§4.4).
 */
export const ProtectionLevel = {
  /** Not RFC 1961: no per-message protection (curl, Dante). */
  Clear: 0x00,
  /** "Required per-message integrity": gss_wrap with conf_req_flag FALSE (§5). */
  Integrity: 0x01,
  /** "Required per-message integrity and confidentiality": conf_req_flag TRUE (§5). */
  Confidentiality: 0x02,
  /** "Selective per-message integrity or confidentiality based on local ... configuration". */
  SelectivePerMessage: 0x03,
} as const;
export type ProtectionLevel = (typeof ProtectionLevel)[keyof typeof ProtectionLevel];

/** Names for logs, events and configuration. */
export const protectionLevelNames: Readonly<Record<ProtectionLevel, string>> = {
  [ProtectionLevel.Clear]: 'clear',
  [ProtectionLevel.Integrity]: 'integrity',
  [ProtectionLevel.Confidentiality]: 'confidentiality',
  [ProtectionLevel.SelectivePerMessage]: 'selective',
};

/** VER + MTYP + LEN. */
export const GSSAPI_HEADER_LENGTH = 4;
/** LEN is 16 bits: a TOKEN (for MTYP 03, the wrapped token) is at most 65535 octets. */
export const MAX_GSSAPI_TOKEN_LENGTH = 0xffff;
/** The abort message, `01 FF`, whole. */
export const GSSAPI_ABORT: Readonly<Uint8Array> = Uint8Array.of(
  GSSAPI_VERSION,
  GssapiMessageType.Abort,
);

/** One RFC 1961 message. */
export type GssapiMessage =
  | {
      /**
       * A context-establishment token. May be empty: "If no token is returned [by a complete
       * gss_accept_sec_context], a zero length token should be sent by the server to signal to
       * the client that it is ready to receive the client's request" (RFC 1961 §3, server
       * context establishment).
       */
      readonly type: 'context';
      readonly token: Uint8Array;
    }
  | { readonly type: 'protection-level'; readonly token: Uint8Array }
  | { readonly type: 'encapsulated'; readonly token: Uint8Array }
  | { readonly type: 'abort' };

const typeByName = {
  context: GssapiMessageType.Context,
  'protection-level': GssapiMessageType.ProtectionLevel,
  encapsulated: GssapiMessageType.Encapsulated,
} as const;

function hex(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}

/**
 * Encodes a message. @throws SocksUsageError when the token is longer than 65535 octets, or an
 * empty token is given for a protection-level or encapsulated message.
 */
export function encodeGssapiMessage(message: GssapiMessage): Uint8Array {
  if (message.type === 'abort') return GSSAPI_ABORT.slice();
  const { token } = message;
  if (token.length > MAX_GSSAPI_TOKEN_LENGTH) {
    throw new SocksUsageError(
      UsageErrorCode.InvalidArgument,
      `GSS-API ${message.type} token is ${token.length} octets; LEN allows at most ${MAX_GSSAPI_TOKEN_LENGTH}`,
    );
  }
  if (token.length === 0 && message.type !== 'context') {
    throw new SocksUsageError(
      UsageErrorCode.InvalidArgument,
      `GSS-API ${message.type} token must not be empty`,
    );
  }
  const out = new Uint8Array(GSSAPI_HEADER_LENGTH + token.length);
  out[0] = GSSAPI_VERSION;
  out[1] = typeByName[message.type];
  writeUint16(out, 2, token.length);
  out.set(token, GSSAPI_HEADER_LENGTH);
  return out;
}

/**
 * Decodes one message from the start of `bytes`. The token is a view into `bytes`, not a copy.
 * NEED_MORE until the whole message is there.
 * @throws SocksProtocolError `ERR_SOCKS_BAD_VERSION` for VER ≠ 01; `ERR_SOCKS_BAD_MESSAGE` for an
 *   unknown MTYP or an empty protection-level / encapsulated token. (A server answers either
 *   with {@link GSSAPI_ABORT} and closes.)
 */
export function decodeGssapiMessage(bytes: Uint8Array): DecodeResult<GssapiMessage> {
  if (bytes.length < 1) return NEED_MORE;
  const version = bytes[0] ?? 0;
  if (version !== GSSAPI_VERSION) {
    throw new SocksProtocolError(
      ProtocolErrorCode.BadVersion,
      `GSS-API message: expected version 0x01, got ${hex(version)}`,
    );
  }
  if (bytes.length < 2) return NEED_MORE;
  const mtyp = bytes[1] ?? 0;
  let type: 'context' | 'protection-level' | 'encapsulated';
  switch (mtyp) {
    case GssapiMessageType.Abort:
      return { value: { type: 'abort' }, length: 2 };
    case GssapiMessageType.Context:
      type = 'context';
      break;
    case GssapiMessageType.ProtectionLevel:
      type = 'protection-level';
      break;
    case GssapiMessageType.Encapsulated:
      type = 'encapsulated';
      break;
    default:
      throw new SocksProtocolError(
        ProtocolErrorCode.BadMessage,
        `GSS-API message: unknown message type ${hex(mtyp)}`,
      );
  }
  if (bytes.length < GSSAPI_HEADER_LENGTH) return NEED_MORE;
  const length = readUint16(bytes, 2);
  if (length === 0 && type !== 'context') {
    throw new SocksProtocolError(
      ProtocolErrorCode.BadMessage,
      `GSS-API ${type} message with an empty token`,
    );
  }
  const end = GSSAPI_HEADER_LENGTH + length;
  if (bytes.length < end) return NEED_MORE;
  return { value: { type, token: bytes.subarray(GSSAPI_HEADER_LENGTH, end) }, length: end };
}

/** The one octet to gss_wrap (or, NEC variant, to send bare) for a protection level. */
export function encodeProtectionLevel(level: ProtectionLevel): Uint8Array {
  if (!(level in protectionLevelNames)) {
    throw new SocksUsageError(
      UsageErrorCode.InvalidArgument,
      `unknown GSS-API protection level ${String(level)}`,
    );
  }
  return Uint8Array.of(level);
}

/**
 * Reads the protection level from an unwrapped (or NEC bare) level token: exactly one octet,
 * 00–03. @throws SocksProtocolError `ERR_SOCKS_BAD_MESSAGE` otherwise.
 */
export function decodeProtectionLevel(data: Uint8Array): ProtectionLevel {
  if (data.length !== 1) {
    throw new SocksProtocolError(
      ProtocolErrorCode.BadMessage,
      `GSS-API protection level must be one octet, got ${data.length}`,
    );
  }
  const level = data[0] ?? 0;
  if (!(level in protectionLevelNames)) {
    throw new SocksProtocolError(
      ProtocolErrorCode.BadMessage,
      `unknown GSS-API protection level ${hex(level)}`,
    );
  }
  return level as ProtectionLevel;
}
