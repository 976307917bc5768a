/**
 * Password hashes in PHC string form with scrypt (RFC 7914):
 * `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt, base64>$<hash, base64>` (base64 without padding, as
 * the PHC string format specifies).
 */
import {
  randomBytes,
  scrypt as scryptCallback,
  timingSafeEqual,
  type ScryptOptions,
} from 'node:crypto';
import { SocksUsageError, UsageErrorCode } from '../errors.js';

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. Default 14 (16 MiB, a few tens of ms). */
  readonly ln: number;
  /** Block size. Default 8. */
  readonly r: number;
  /** Parallelism. Default 1. */
  readonly p: number;
}

export interface PasswordHash extends ScryptParams {
  readonly salt: Buffer;
  readonly hash: Buffer;
}

export const defaultScryptParams: ScryptParams = Object.freeze({ ln: 14, r: 8, p: 1 });
const SALT_LENGTH = 16;
const HASH_LENGTH = 32;

function scrypt(
  password: Uint8Array,
  salt: Uint8Array,
  params: ScryptParams,
  length: number,
): Promise<Buffer> {
  const N = 2 ** params.ln;
  // scrypt needs 128·N·r·p bytes; Node refuses above maxmem (32 MiB by default).
  const options: ScryptOptions = {
    N,
    r: params.r,
    p: params.p,
    maxmem: 256 * N * params.r * params.p,
  };
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, length, options, (err, key) => {
      if (err) reject(err);
      else resolve(key);
    });
  });
}

const phcPattern =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** Parses a PHC scrypt string. Returns undefined when it is not one (the caller names the line). */
export function parsePasswordHash(text: string): PasswordHash | undefined {
  const m = phcPattern.exec(text);
  if (m === null) return undefined;
  const [, ln, r, p, salt, hash] = m;
  const params = { ln: Number(ln), r: Number(r), p: Number(p) };
  if (
    params.ln < 1 ||
    params.ln > 24 ||
    params.r < 1 ||
    params.p < 1 ||
    params.r * params.p >= 2 ** 30
  )
    return undefined;
  const saltBytes = Buffer.from(salt ?? '', 'base64');
  const hashBytes = Buffer.from(hash ?? '', 'base64');
  if (saltBytes.length < 8 || hashBytes.length < 16) return undefined;
  return { ...params, salt: saltBytes, hash: hashBytes };
}

const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');

export function formatPasswordHash(h: PasswordHash): string {
  return `$scrypt$ln=${h.ln},r=${h.r},p=${h.p}$${b64(h.salt)}$${b64(h.hash)}`;
}

/** Hashes a password with a fresh random salt. */
export async function hashPassword(
  password: string | Uint8Array,
  params: ScryptParams = defaultScryptParams,
): Promise<string> {
  const bytes = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  if (bytes.length < 1 || bytes.length > 255) {
    // RFC 1929 carries 1-255 octets: a longer password could never be sent.
    throw new SocksUsageError(UsageErrorCode.InvalidArgument, 'a password must be 1-255 octets');
  }
  const salt = randomBytes(SALT_LENGTH);
  const hash = await scrypt(bytes, salt, params, HASH_LENGTH);
  return formatPasswordHash({ ...params, salt, hash });
}

/** Recomputes and compares in constant time. Always does the full scrypt work. */
export async function verifyPassword(password: Uint8Array, stored: PasswordHash): Promise<boolean> {
  const computed = await scrypt(password, stored.salt, stored, stored.hash.length);
  return timingSafeEqual(computed, stored.hash);
}
