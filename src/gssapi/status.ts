/**
 * GSS-API constants from RFC 2744 (the C bindings) that the binding and its callers share:
 * context flags, major status layout and names. Pure: no FFI here, so the server can import it
 * without loading anything.
 */

/** RFC 2744 §3.14 req_flags / ret_flags bits. */
export const GssFlag = {
  Deleg: 0x01,
  Mutual: 0x02,
  Replay: 0x04,
  Sequence: 0x08,
  Conf: 0x10,
  Integ: 0x20,
  Anon: 0x40,
  ProtReady: 0x80,
  Trans: 0x100,
} as const;
export type GssFlag = (typeof GssFlag)[keyof typeof GssFlag];

/**
 * The flags a SOCKS client requests (RFC 1961 §3.2: "the client always requests ...
 * GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG"; GSS_C_SEQUENCE_FLAG "only for TCP-based clients"), plus
 * integrity and confidentiality so that either protection level can be agreed.
 */
export const SOCKS_TCP_CLIENT_FLAGS =
  GssFlag.Mutual | GssFlag.Replay | GssFlag.Sequence | GssFlag.Integ | GssFlag.Conf;

/** Names of the set bits, for messages and events: `['mutual', 'replay', ...]`. */
export function describeFlags(flags: number): string[] {
  return Object.entries(GssFlag)
    .filter(([, bit]) => (flags & bit) !== 0)
    .map(([name]) => name.toLowerCase());
}

/** gss_qop_t GSS_C_QOP_DEFAULT (RFC 1961 §5: "the default value of quality of protection"). */
export const GSS_C_QOP_DEFAULT = 0;

/** gss_display_status() status_type values (RFC 2744 §5.11). */
export const GSS_C_GSS_CODE = 1;
export const GSS_C_MECH_CODE = 2;

/** gss_cred_usage_t (RFC 2744 §3.6). */
export const CredUsage = { Both: 0, Initiate: 1, Accept: 2 } as const;

/**
 * A major status is three fields (RFC 2744 §3.9.1): calling error (bits 24–31), routine error
 * (bits 16–23) and supplementary info (bits 0–15). Only calling and routine errors are failures.
 */
export const GssStatus = {
  Complete: 0,
  /** Supplementary: call gss_init/accept_sec_context again with the peer's next token. */
  ContinueNeeded: 0x0001,
  /** Supplementary (unwrap): this token was seen before — a replay. */
  DuplicateToken: 0x0002,
  /** Supplementary (unwrap): too old to check for duplication. */
  OldToken: 0x0004,
  /** Supplementary (unwrap): a later token has already been processed. */
  UnseqToken: 0x0008,
  /** Supplementary (unwrap): an expected earlier token has not arrived. */
  GapToken: 0x0010,
} as const;

/** All four out-of-sequence supplementary bits: fatal on a byte stream. */
export const OUT_OF_SEQUENCE =
  GssStatus.DuplicateToken | GssStatus.OldToken | GssStatus.UnseqToken | GssStatus.GapToken;

const routineErrors: readonly string[] = [
  '',
  'GSS_S_BAD_MECH',
  'GSS_S_BAD_NAME',
  'GSS_S_BAD_NAMETYPE',
  'GSS_S_BAD_BINDINGS',
  'GSS_S_BAD_STATUS',
  'GSS_S_BAD_SIG', // also GSS_S_BAD_MIC
  'GSS_S_NO_CRED',
  'GSS_S_NO_CONTEXT',
  'GSS_S_DEFECTIVE_TOKEN',
  'GSS_S_DEFECTIVE_CREDENTIAL',
  'GSS_S_CREDENTIALS_EXPIRED',
  'GSS_S_CONTEXT_EXPIRED',
  'GSS_S_FAILURE',
  'GSS_S_BAD_QOP',
  'GSS_S_UNAUTHORIZED',
  'GSS_S_UNAVAILABLE',
  'GSS_S_DUPLICATE_ELEMENT',
  'GSS_S_NAME_NOT_MN',
];

const callingErrors: readonly string[] = [
  '',
  'GSS_S_CALL_INACCESSIBLE_READ',
  'GSS_S_CALL_INACCESSIBLE_WRITE',
  'GSS_S_CALL_BAD_STRUCTURE',
];

/** True when a major status reports a failure (GSS_ERROR() in RFC 2744). */
export function isGssError(major: number): boolean {
  return (major & 0xffff0000) !== 0;
}

const supplementaryNames: readonly [number, string][] = [
  [GssStatus.ContinueNeeded, 'GSS_S_CONTINUE_NEEDED'],
  [GssStatus.DuplicateToken, 'GSS_S_DUPLICATE_TOKEN'],
  [GssStatus.OldToken, 'GSS_S_OLD_TOKEN'],
  [GssStatus.UnseqToken, 'GSS_S_UNSEQ_TOKEN'],
  [GssStatus.GapToken, 'GSS_S_GAP_TOKEN'],
];

/** The routine error field, e.g. 6 for GSS_S_BAD_SIG (0 when none). */
export function routineError(major: number): number {
  return (major >>> 16) & 0xff;
}

/**
 * The symbolic name of a major status, e.g. `GSS_S_BAD_SIG`,
 * `GSS_S_CALL_INACCESSIBLE_READ|GSS_S_NO_CONTEXT` or `GSS_S_DUPLICATE_TOKEN`; `GSS_S_COMPLETE`
 * when no bit is set.
 */
export function majorStatusName(major: number): string {
  const calling = (major >>> 24) & 0xff;
  const routine = routineError(major);
  const parts: string[] = [];
  if (calling !== 0) parts.push(callingErrors[calling] ?? `GSS_S_CALLING_ERROR_${calling}`);
  if (routine !== 0) parts.push(routineErrors[routine] ?? `GSS_S_ROUTINE_ERROR_${routine}`);
  for (const [bit, name] of supplementaryNames) if ((major & bit) !== 0) parts.push(name);
  return parts.length === 0 ? 'GSS_S_COMPLETE' : parts.join('|');
}
