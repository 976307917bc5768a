/**
 * A stand-in security context for tests of the encapsulation layer without a KDC. Its "wrap"
 * is not cryptography, just enough structure to be checked: `CONF(1) SEQ(4) DATA SUM(1)`, where
 * SUM is the octet sum of everything before it. unwrap() fails like MIT's would: a wrong sum is
 * GSS_S_BAD_SIG, a sequence number seen before is GSS_S_DUPLICATE_TOKEN, one ahead of time a
 * gap (fatal unless out-of-sequence tokens are allowed).
 */
import { GssapiErrorCode, SocksGssapiError, SocksUsageError } from '../../src/errors.js';
import { GssFlag, GssStatus } from '../../src/gssapi/status.js';
import type { GssSecurityContext, UnwrapResult, WrapResult } from '../../src/gssapi/types.js';

export const FAKE_OVERHEAD = 6;

function sum(bytes: Uint8Array): number {
  let s = 0;
  for (const b of bytes) s = (s + b) & 0xff;
  return s;
}

export class FakeGssContext implements GssSecurityContext {
  readonly role = 'acceptor' as const;
  readonly complete = true;
  readonly flags = GssFlag.Integ | GssFlag.Conf | GssFlag.Sequence | GssFlag.Replay;
  readonly sourceName = 'alice@FAKE.TEST';
  readonly targetName = 'rcmd/localhost@FAKE.TEST';
  readonly lifetime = 0xffffffff;
  disposed = false;
  #sent = 0;
  #expected = 0;
  readonly #seen = new Set<number>();
  /** The largest data one token may carry is min(this, maxTokenLength - overhead). */
  maxData = Infinity;

  wrap(data: Uint8Array, options: { readonly confidential?: boolean } = {}): WrapResult {
    this.#alive();
    const token = new Uint8Array(data.length + FAKE_OVERHEAD);
    token[0] = options.confidential === true ? 1 : 0;
    new DataView(token.buffer).setUint32(1, this.#sent++);
    token.set(data, 5);
    token[token.length - 1] = sum(token.subarray(0, token.length - 1));
    return { token, confidential: options.confidential === true };
  }

  unwrap(token: Uint8Array, options: { readonly allowOutOfSequence?: boolean } = {}): UnwrapResult {
    this.#alive();
    if (token.length < FAKE_OVERHEAD || sum(token.subarray(0, token.length - 1)) !== token.at(-1)) {
      throw new SocksGssapiError(GssapiErrorCode.Failed, 'fake: bad checksum', {
        operation: 'gss_unwrap',
        routine: 'GSS_S_BAD_SIG',
      });
    }
    const seq = new DataView(token.buffer, token.byteOffset).getUint32(1);
    let supplementary = 0;
    if (this.#seen.has(seq)) supplementary |= GssStatus.DuplicateToken;
    else if (seq !== this.#expected) supplementary |= GssStatus.GapToken;
    this.#seen.add(seq);
    this.#expected = Math.max(this.#expected, seq + 1);
    if (supplementary !== 0 && options.allowOutOfSequence !== true) {
      throw new SocksGssapiError(GssapiErrorCode.Failed, 'fake: out of sequence', {
        operation: 'gss_unwrap',
        routine: 'GSS_S_DUPLICATE_TOKEN',
      });
    }
    return {
      data: token.slice(5, token.length - 1),
      confidential: token[0] === 1,
      qop: 0,
      supplementary,
    };
  }

  wrapSizeLimit(maxTokenLength: number): number {
    return Math.min(this.maxData, maxTokenLength - FAKE_OVERHEAD);
  }

  exportContext(): Uint8Array {
    throw new SocksUsageError('ERR_SOCKS_INVALID_STATE', 'fake: not exportable');
  }

  dispose(): void {
    this.disposed = true;
  }

  #alive(): void {
    if (this.disposed) throw new SocksUsageError('ERR_SOCKS_INVALID_STATE', 'fake: disposed');
  }
}
