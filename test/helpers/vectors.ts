/** Checks a hand-written wire vector against a decoder and an encoder. */
import assert from 'node:assert/strict';
import { NEED_MORE, type DecodeResult } from '../../src/protocol/decode.js';

export const hex = (s: string): Uint8Array =>
  Uint8Array.from(Buffer.from(s.replace(/[\s|]/g, ''), 'hex'));

/**
 * decode: every strict prefix is NEED_MORE (split at every byte), the whole vector decodes to
 * `expected` using exactly its length, and trailing bytes are left alone.
 * encode (when given): produces exactly the vector (mirror).
 */
export function checkVector<T>(
  bytes: Uint8Array,
  expected: T,
  decode: (b: Uint8Array) => DecodeResult<T>,
  encode?: (v: T) => Uint8Array,
): void {
  for (let i = 0; i < bytes.length; i++) {
    assert.equal(decode(bytes.subarray(0, i)), NEED_MORE, `prefix of ${i} bytes should need more`);
  }
  const whole = decode(bytes);
  assert.notEqual(whole, NEED_MORE);
  assert.deepEqual(whole, { value: expected, length: bytes.length });
  const trailing = new Uint8Array(bytes.length + 3);
  trailing.set(bytes);
  trailing.set([0xde, 0xad, 0xbf], bytes.length);
  assert.deepEqual(
    decode(trailing),
    { value: expected, length: bytes.length },
    'trailing bytes are not consumed',
  );
  if (encode !== undefined) assert.deepEqual(encode(expected), bytes, 'encoder mirrors the vector');
}

/** Asserts decoding throws a SocksProtocolError with this code (and reply, when given). */
export function checkError(fn: () => unknown, code: string, reply?: number): void {
  assert.throws(fn, (err: unknown) => {
    const e = err as { name: string; code: string; reply?: number };
    assert.equal(e.name, 'SocksProtocolError');
    assert.equal(e.code, code);
    if (reply !== undefined) assert.equal(e.reply, reply);
    return true;
  });
}
