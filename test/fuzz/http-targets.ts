/**
 * Fuzz targets for the HTTP dialect's pure codec: the request-head decoder (alone and with the
 * proxy interpretation a server applies to it) and the streaming chunked-body decoder.
 */
import { isDeepStrictEqual } from 'node:util';
import { NEED_MORE, type DecodeResult } from '../../src/protocol/decode.js';
import { decodeRequestHead } from '../../src/protocol/http.js';
import { interpretProxyRequest, type ProxyRequest } from '../../src/protocol/http-proxy.js';
import { BodyDecoder, ChunkedLimits } from '../../src/protocol/http-body.js';
import { SocksProtocolError } from '../../src/errors.js';
import { decoder, expectTyped, fail, type FuzzTarget } from './target.js';

/** A small cap so that mutated inputs cross it (414 / 431). */
const MAX_HEAD = 512;

export const httpRequestHeadTarget = decoder(
  'http-request-head',
  (b) => decodeRequestHead(b, MAX_HEAD),
  // With more than MAX_HEAD octets and no end of head, the decoder must have refused.
  { corpus: ['http-request-head'], maxLength: MAX_HEAD + 1 },
);

/** The head as the server reads it: decoded, then interpreted as a proxy request (or refused). */
function decodeProxyRequest(b: Uint8Array): DecodeResult<ProxyRequest> {
  const head = decodeRequestHead(b, MAX_HEAD);
  if (head === NEED_MORE) return NEED_MORE;
  return { value: interpretProxyRequest(head.value), length: head.length };
}

export const httpProxyRequestTarget = decoder('http-proxy-request', decodeProxyRequest, {
  corpus: ['http-request-head'],
  maxLength: MAX_HEAD + 1,
});

type BodyOutcome =
  | { kind: 'end'; data: Buffer; consumed: number }
  | { kind: 'more'; data: Buffer }
  | { kind: 'error'; code: string };

/**
 * Drives a chunked BodyDecoder as the HTTP session does: pieces arrive at `cuts`, the caller keeps
 * what a step did not consume and offers it again with the next piece. Returns the body octets,
 * and where the body ended (or that more is needed, or the error).
 */
function driveChunked(input: Uint8Array, cuts: readonly number[]): BodyOutcome {
  const body = new BodyDecoder({ kind: 'chunked' });
  const ends = [...new Set([...cuts.filter((c) => c > 0 && c < input.length), input.length])].sort(
    (a, b) => a - b,
  );
  const data: Buffer[] = [];
  let start = 0; // first octet not yet consumed
  for (const end of ends) {
    for (;;) {
      const pending = input.subarray(start, end);
      // Bounded buffering: what waits for the rest of a line never exceeds the line limits.
      if (pending.length > ChunkedLimits.maxTrailers + 2) {
        fail('bounded-buffering', `${pending.length} octets unconsumed`);
      }
      let step;
      try {
        step = body.next(pending);
      } catch (err) {
        expectTyped(err, SocksProtocolError);
        const status = (err as { status?: unknown }).status;
        return { kind: 'error', code: `${(err as SocksProtocolError).code}/${String(status)}` };
      }
      if (step === NEED_MORE) break;
      if (step.consumed < 0 || step.consumed > pending.length) {
        fail('length-in-input', `consumed ${step.consumed} of ${pending.length}`);
      }
      if (step.type === 'data') {
        if (step.data.length === 0) fail('progress', 'an empty data step');
        data.push(Buffer.from(step.data));
      } else if (step.type === 'framing' && step.consumed === 0) {
        fail('progress', 'a framing step that consumed nothing');
      }
      start += step.consumed;
      if (step.type === 'end') {
        if (!body.done) fail('state', 'end while not done');
        return { kind: 'end', data: Buffer.concat(data), consumed: start };
      }
    }
  }
  return { kind: 'more', data: Buffer.concat(data) };
}

/**
 * The chunked-body decoder: only typed errors; the same body (octets and end) however the input
 * is cut, and an error on one cutting is the same error (or a not-yet-decided body) on another.
 */
export const httpChunkedBodyTarget: FuzzTarget = {
  name: 'http-chunked-body',
  corpus: ['http-body-chunked'],
  maxInput: ChunkedLimits.maxSizeLine + 200,
  validate: (entry) => {
    const r = driveChunked(entry, []);
    if (r.kind !== 'end' || r.consumed !== entry.length)
      fail('corpus', `not one whole chunked body: ${JSON.stringify(r)}`);
  },
  check: (input, cuts) => {
    const whole = driveChunked(input, []);
    const cut = driveChunked(input, cuts);
    const onePerOctet = driveChunked(
      input,
      Array.from({ length: Math.min(input.length, 64) }, (_, i) => i + 1),
    );
    for (const [name, r] of [
      ['cut', cut],
      ['octet by octet (first 64)', onePerOctet],
    ] as const) {
      if (!isDeepStrictEqual(r, whole)) {
        fail(
          'chunking',
          `${name}: ${JSON.stringify(r).slice(0, 200)}; whole: ${JSON.stringify(whole).slice(0, 200)}`,
        );
      }
    }
  },
};
