/**
 * The result shape every incremental decoder in `src/protocol` returns (DESIGN.md rule 2):
 * incomplete input is the value {@link NEED_MORE}, never an exception; a complete message comes
 * back with the number of bytes it used, so whatever follows it is the caller's to hand on.
 */
export const NEED_MORE: unique symbol = Symbol('ferry.needMore');
export type NeedMore = typeof NEED_MORE;

export interface Decoded<T> {
  readonly value: T;
  /** Octets the message used, counted from the start of the input. */
  readonly length: number;
}

export type DecodeResult<T> = Decoded<T> | NeedMore;

/** Reads a big-endian (network order) 16-bit value. The caller has checked the bounds. */
export function readUint16(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] ?? 0) << 8) | (bytes[offset + 1] ?? 0);
}

/** Writes a big-endian (network order) 16-bit value. */
export function writeUint16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = (value >>> 8) & 0xff;
  bytes[offset + 1] = value & 0xff;
}
