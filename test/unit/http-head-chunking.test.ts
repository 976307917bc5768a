/**
 * The answer to a request head must not depend on how its octets arrived (found by the fuzzer,
 * issue 8): every prefix is NEED_MORE or the same error as the whole. Cap 512 octets.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRequestHead } from '../../src/protocol/http.js';
import { NEED_MORE } from '../../src/protocol/decode.js';
import { HttpProtocolError } from '../../src/errors.js';

const CAP = 512;
const latin1 = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));

function outcome(bytes: Uint8Array): string {
  try {
    return decodeRequestHead(bytes, CAP) === NEED_MORE ? 'more' : 'head';
  } catch (err) {
    assert.ok(err instanceof HttpProtocolError);
    return String(err.status);
  }
}

/** The whole's answer, after checking every prefix agrees with it (or is still undecided). */
function consistent(bytes: Uint8Array): string {
  const whole = outcome(bytes);
  for (let n = 1; n < bytes.length; n++) {
    const part = outcome(bytes.subarray(0, n));
    assert.ok(part === 'more' || part === whole, `prefix ${n}: ${part}, whole: ${whole}`);
  }
  return whole;
}

describe('request head: the same answer however it is chunked', () => {
  it('a control octet in an unfinished request line longer than the cap: 400', () => {
    // "GET http://ex" NUL, then 600 × "a": garbage within the cap is judged before the length.
    assert.equal(consistent(latin1(`GET http://ex\x00${'a'.repeat(600)}`)), '400');
  });

  it('a bare LF past the cap does not turn 414 into 400', () => {
    // A 600-octet request line ending in a bare LF: the line cannot fit, whatever ends it.
    assert.equal(consistent(latin1(`GET /${'a'.repeat(600)}\n`)), '414');
  });

  it('a header line running past the cap with a bare LF after it: 431', () => {
    const head = `GET http://a/ HTTP/1.1\r\nX-Long: ${'b'.repeat(600)}\n`;
    assert.equal(consistent(latin1(head)), '431');
  });

  it('empty lines before the request line: CR must be followed by LF, decided at once', () => {
    // CR "x": bare CR (400) whether or not a LF ever follows.
    assert.equal(consistent(latin1(`\r${'x'.repeat(600)}\n`)), '400');
    // CRLF CRLF then a request: still a head.
    assert.equal(consistent(latin1('\r\n\r\nGET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n')), 'head');
  });
});
