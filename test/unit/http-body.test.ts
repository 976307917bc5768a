// Streamed request bodies: Content-Length and chunked decoding from hand-written bytes, fed whole,
// one byte at a time and in arbitrary chunks; the chunked framing errors; the chunk encoder.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BodyDecoder,
  ChunkedLimits,
  encodeChunk,
  LAST_CHUNK,
  type BodyFraming,
} from '../../src/protocol/http-body.js';
import { NEED_MORE } from '../../src/protocol/decode.js';
import { HttpProtocolError } from '../../src/errors.js';

const ascii = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

/** Feeds `chunks` in order, returning the body, whether it ended, and what was left over. */
function decodeAll(
  framing: BodyFraming,
  chunks: readonly Uint8Array[],
): { body: string; ended: boolean; rest: string } {
  const d = new BodyDecoder(framing);
  let buffer = new Uint8Array(0);
  let body = '';
  for (const [i, c] of chunks.entries()) {
    buffer = Uint8Array.from([...buffer, ...c]);
    for (;;) {
      const step = d.next(buffer);
      if (step === NEED_MORE) break;
      buffer = buffer.subarray(step.consumed);
      if (step.type === 'data') body += text(step.data);
      if (step.type === 'end') {
        const rest =
          text(buffer) +
          chunks
            .slice(i + 1)
            .map(text)
            .join('');
        return { body, ended: true, rest };
      }
    }
  }
  return { body, ended: false, rest: text(buffer) };
}

const bytewise = (s: string): Uint8Array[] => [...ascii(s)].map((b) => Uint8Array.of(b));

// prettier-ignore
const CHUNKED =
  '5\r\n' +                 // chunk-size 5
  'hello\r\n' +             // chunk-data, CRLF
  '6;name=value\r\n' +      // chunk-size 6 with a chunk extension (ignored)
  ' world\r\n' +
  'A \t;ext\r\n' +          // size 0xA, BWS before the extension
  '0123456789\r\n' +
  '000\r\n' +               // last-chunk: 1*("0")
  'Trailer-Field: x\r\n' +  // a trailer field (validated, discarded)
  '\r\n'; // end of the trailer section

describe('BodyDecoder', () => {
  it('Content-Length: exactly that many octets, then the next request is left alone', () => {
    const r = decodeAll({ kind: 'length', length: 5 }, [ascii('hel'), ascii('loGET ')]);
    assert.deepEqual(r, { body: 'hello', ended: true, rest: 'GET ' });
  });

  it('chunked, whole and one byte at a time', () => {
    const whole = decodeAll({ kind: 'chunked' }, [ascii(`${CHUNKED}NEXT`)]);
    assert.deepEqual(whole, { body: 'hello world0123456789', ended: true, rest: 'NEXT' });
    assert.deepEqual(decodeAll({ kind: 'chunked' }, bytewise(`${CHUNKED}NEXT`)), whole);
  });

  it('property: any chunking of a chunked body decodes to the same octets', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (parts, cuts) => {
          const wire = Uint8Array.from([
            ...parts.flatMap((p) => encodeChunk(p).flatMap((x) => [...x])),
            ...LAST_CHUNK,
          ]);
          const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
          const chunks: Uint8Array[] = [];
          let prev = 0;
          for (const p of [...points, wire.length]) {
            chunks.push(wire.subarray(prev, p));
            prev = p;
          }
          const r = decodeAll({ kind: 'chunked' }, chunks);
          assert.equal(r.ended, true);
          assert.equal(r.body, parts.map(text).join(''));
          assert.equal(r.rest, '');
        },
      ),
    );
  });

  it('refuses malformed chunked framing (400)', () => {
    for (const [why, wire] of [
      ['not hex', 'x\r\nabc\r\n0\r\n\r\n'],
      ['bare LF after the size', '3\nabc\r\n0\r\n\r\n'],
      ['data longer than its size', '3\r\nabcd\r\n0\r\n\r\n'],
      ['data not followed by CRLF', '3\r\nabc\n0\r\n\r\n'],
      ['a size that is not a safe integer', '20000000000000\r\n'],
      ['leading whitespace before the size', ' 3\r\nabc\r\n0\r\n\r\n'],
      ['a control octet in an extension', '3;a\u0001b\r\nabc\r\n0\r\n\r\n'],
      ['junk after the size', '3 x\r\nabc\r\n0\r\n\r\n'],
      ['an obs-folded trailer', '0\r\nA: b\r\n c\r\n\r\n'],
      ['a trailer without a colon', '0\r\nnope\r\n\r\n'],
      ['bare LF ending the trailers', '0\r\n\n'],
    ]) {
      assert.throws(
        () => decodeAll({ kind: 'chunked' }, [ascii(wire ?? '')]),
        (err: unknown) => err instanceof HttpProtocolError && err.status === 400,
        why,
      );
    }
  });

  it('leading zeros are fine, however many fit on the size line', () => {
    assert.equal(
      decodeAll({ kind: 'chunked' }, [ascii(`${'0'.repeat(40)}3\r\nabc\r\n0\r\n\r\n`)]).body,
      'abc',
    );
  });

  it('bounds what it buffers: a size line or a trailer section past its limit is 400', () => {
    const longExt = `3;${'e'.repeat(ChunkedLimits.maxSizeLine)}`;
    assert.throws(() => decodeAll({ kind: 'chunked' }, [ascii(longExt)]), HttpProtocolError);
    const trailers = `0\r\n${'T: v\r\n'.repeat(ChunkedLimits.maxTrailers / 6 + 1)}`;
    assert.throws(() => decodeAll({ kind: 'chunked' }, [ascii(trailers)]), HttpProtocolError);
  });

  it('encodeChunk: hex size line, the data itself (not a copy), CRLF', () => {
    const data = ascii('x'.repeat(26));
    const pieces = encodeChunk(data);
    assert.equal(text(pieces[0]!), '1a\r\n');
    assert.equal(pieces[1], data);
    assert.equal(text(pieces[2]!), '\r\n');
    assert.equal(text(LAST_CHUNK), '0\r\n\r\n');
  });
});
