/**
 * RFC 1961 §5 per-message protection at an agreed level: data cut to what one MTYP 03 message
 * can carry, gss_wrap()ped with the level's conf_req_flag and framed; frames from the peer
 * unwrapped and checked. Used by both sides, for the byte stream (src/gssapi/stream.ts) and for
 * UDP datagrams. No FFI of its own: it works on any {@link GssSecurityContext}.
 */
import {
  GSSAPI_HEADER_LENGTH,
  GSSAPI_VERSION,
  GssapiMessageType,
  MAX_GSSAPI_TOKEN_LENGTH,
  ProtectionLevel,
  decodeGssapiMessage,
  protectionLevelNames,
} from '../protocol/gssapi.js';
import { NEED_MORE, writeUint16 } from '../protocol/decode.js';
import {
  GssapiErrorCode,
  ProtocolErrorCode,
  SocksGssapiError,
  SocksProtocolError,
  SocksUsageError,
  UsageErrorCode,
} from '../errors.js';
import { GssStatus } from './status.js';
import type { GssSecurityContext } from './types.js';

/** The levels that protect messages (RFC 1961 §4.3 levels 1 and 2). */
export type ProtectedLevel =
  typeof ProtectionLevel.Integrity | typeof ProtectionLevel.Confidentiality;

/** True for the levels whose traffic is wrapped (integrity, confidentiality). */
export function isProtectedLevel(level: ProtectionLevel): level is ProtectedLevel {
  return level === ProtectionLevel.Integrity || level === ProtectionLevel.Confidentiality;
}

export function protectionFailure(message: string, cause?: unknown): SocksGssapiError {
  const details =
    cause instanceof SocksGssapiError
      ? {
          operation: cause.operation ?? '',
          major: cause.major,
          minor: cause.minor,
          routine: cause.routine,
        }
      : {};
  return new SocksGssapiError(
    GssapiErrorCode.Protection,
    message,
    details,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * One security context at one protection level. Level 1 wraps with conf_req_flag FALSE, level 2
 * with TRUE (RFC 1961 §5: "MUST always be"). At level 2 a message that arrives unencrypted is
 * refused: only the peer can make one, and a peer that stops encrypting breaks the agreement the
 * user relies on. (At level 1 an encrypted message is accepted: it protects more, not less.)
 */
export class Encapsulation {
  readonly level: ProtectedLevel;
  readonly context: GssSecurityContext;
  /** The most data octets one message carries: gss_wrap_size_limit(65535). */
  readonly maxChunk: number;
  readonly #confidential: boolean;

  /**
   * @throws SocksUsageError when the context is not established, or 03 (selective) is asked for.
   * @throws SocksGssapiError when the library cannot size a token.
   */
  constructor(context: GssSecurityContext, level: ProtectionLevel) {
    if (!isProtectedLevel(level)) {
      throw new SocksUsageError(
        UsageErrorCode.InvalidArgument,
        `GSS-API encapsulation needs level integrity or confidentiality, not ${protectionLevelNames[level]}`,
      );
    }
    this.context = context;
    this.level = level;
    this.#confidential = level === ProtectionLevel.Confidentiality;
    this.maxChunk = context.wrapSizeLimit(MAX_GSSAPI_TOKEN_LENGTH, this.#confidential);
    if (this.maxChunk < 1) {
      throw protectionFailure('gss_wrap_size_limit leaves no room for data in a 65535-octet token');
    }
  }

  get name(): string {
    return protectionLevelNames[this.level];
  }

  /** One MTYP 03 frame for at most {@link maxChunk} octets (not checked here). */
  wrapFrame(data: Uint8Array): Uint8Array {
    const { token } = this.context.wrap(data, { confidential: this.#confidential });
    if (token.length > MAX_GSSAPI_TOKEN_LENGTH) {
      // gss_wrap_size_limit promised otherwise; never send a LEN that lies.
      throw protectionFailure(`gss_wrap made a ${token.length}-octet token from ${data.length}`);
    }
    const frame = new Uint8Array(GSSAPI_HEADER_LENGTH + token.length);
    frame[0] = GSSAPI_VERSION;
    frame[1] = GssapiMessageType.Encapsulated;
    writeUint16(frame, 2, token.length);
    frame.set(token, GSSAPI_HEADER_LENGTH);
    return frame;
  }

  /** Wraps any amount of data into as many frames as it takes, in order. */
  wrap(data: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    for (let at = 0; at < data.length; at += this.maxChunk) {
      frames.push(this.wrapFrame(data.subarray(at, at + this.maxChunk)));
    }
    return frames;
  }

  /**
   * Unwraps the TOKEN of an MTYP 03 message. On a stream every message must come in order; a
   * datagram may be late, early or lost (RFC 1961 §3.2 asks for no sequencing on UDP), but a
   * replay — or one too old for the replay window to judge — is still refused.
   * @throws SocksGssapiError `ERR_SOCKS_GSSAPI_PROTECTION` when the token fails its check.
   */
  unwrap(token: Uint8Array, datagram = false): Uint8Array {
    let result;
    try {
      result = this.context.unwrap(token, { allowOutOfSequence: datagram });
    } catch (err) {
      const routine = err instanceof SocksGssapiError ? err.routine : '';
      throw protectionFailure(
        `a GSS-API wrapped message failed its check${routine === '' ? '' : ` (${routine})`}`,
        err,
      );
    }
    if (datagram && (result.supplementary & GssStatus.DuplicateToken) !== 0) {
      throw protectionFailure('a GSS-API wrapped datagram was a replay (GSS_S_DUPLICATE_TOKEN)');
    }
    // Older than the library's replay window: it can no longer tell a late datagram from a
    // replayed one, so it is refused as a replay would be (a datagram that late is rare).
    if (datagram && (result.supplementary & GssStatus.OldToken) !== 0) {
      throw protectionFailure(
        'a GSS-API wrapped datagram was older than the replay window (GSS_S_OLD_TOKEN)',
      );
    }
    if (this.#confidential && !result.confidential) {
      throw protectionFailure(
        'a GSS-API message arrived without confidentiality although level 2 was agreed',
      );
    }
    return result.data;
  }

  /**
   * A whole UDP datagram (RFC 1928 §7 header and data) as one framed message, as Dante sends it.
   * @throws SocksGssapiError when it does not fit in one message.
   */
  wrapDatagram(datagram: Uint8Array): Uint8Array {
    if (datagram.length > this.maxChunk) {
      throw protectionFailure(
        `a ${datagram.length}-octet datagram does not fit in one GSS-API message (at most ${this.maxChunk})`,
      );
    }
    return this.wrapFrame(datagram);
  }

  /**
   * The datagram inside one framed, wrapped UDP payload.
   * @throws SocksProtocolError when the frame is malformed or not exactly one MTYP 03 message;
   *   SocksGssapiError when the token fails its check.
   */
  unwrapDatagram(payload: Uint8Array): Uint8Array {
    const decoded = decodeGssapiMessage(payload);
    if (
      decoded === NEED_MORE ||
      decoded.length !== payload.length ||
      decoded.value.type !== 'encapsulated'
    ) {
      throw new SocksProtocolError(
        ProtocolErrorCode.BadMessage,
        'a UDP datagram is not exactly one GSS-API encapsulated message',
      );
    }
    return this.unwrap(decoded.value.token, true);
  }
}
