// HTTP request heads: hand-written requests decoded (split at every byte), the strictness that
// keeps request smuggling out, the size caps, and the response-head encoder.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeRequestHead,
  encodeResponseHead,
  latin1,
  latin1Bytes,
  type RequestHead,
} from '../../src/protocol/http.js';
import { NEED_MORE } from '../../src/protocol/decode.js';
import { HttpProtocolError, SocksProtocolError, SocksUsageError } from '../../src/errors.js';
import { checkVector } from '../helpers/vectors.js';

const ascii = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));
const CAP = 16 * 1024;
const decode = (b: Uint8Array) => decodeRequestHead(b, CAP);

function status(text: string | Uint8Array, cap = CAP): number {
  try {
    const r = decodeRequestHead(typeof text === 'string' ? ascii(text) : text, cap);
    return r === NEED_MORE ? 0 : 200;
  } catch (err) {
    assert.ok(err instanceof HttpProtocolError, String(err));
    return err.status;
  }
}

describe('decodeRequestHead', () => {
  it('an absolute-form GET, split at every byte', () => {
    const head =
      'GET http://example.com/a?b=c HTTP/1.1\r\n' + // request line: method SP target SP version
      'Host: example.com\r\n' + // field-name ":" OWS value
      'X-Spaces: \t padded value \t\r\n' + // OWS on both sides is not part of the value
      'x-empty:\r\n' + // an empty value is allowed
      '\r\n'; // end of the head
    const expected: RequestHead = {
      method: 'GET',
      target: 'http://example.com/a?b=c',
      version: '1.1',
      headers: [
        { name: 'Host', value: 'example.com' },
        { name: 'X-Spaces', value: 'padded value' },
        { name: 'x-empty', value: '' },
      ],
    };
    checkVector(ascii(head), expected, decode);
  });

  it('CONNECT in authority form, HTTP/1.0', () => {
    checkVector(
      ascii('CONNECT [::1]:443 HTTP/1.0\r\n\r\n'),
      { method: 'CONNECT', target: '[::1]:443', version: '1.0', headers: [] },
      decode,
    );
  });

  it('skips empty lines before the request line (RFC 9112 §2.2)', () => {
    const r = decode(ascii('\r\n\r\nGET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n'));
    assert.notEqual(r, NEED_MORE);
    if (r !== NEED_MORE) assert.equal(r.value.method, 'GET');
  });

  it('a 1.x minor above 1 is handled as 1.1; HTTP/2.0 is 505', () => {
    const r = decode(ascii('GET http://a/ HTTP/1.7\r\n\r\n'));
    assert.ok(r !== NEED_MORE && r.value.version === '1.1');
    assert.equal(status('PRI * HTTP/2.0\r\n\r\n'), 505);
  });

  it('field values keep obs-text octets byte for byte (latin1)', () => {
    const bytes = Uint8Array.from([
      ...ascii('GET http://a/ HTTP/1.1\r\nX: '),
      0xe9,
      0xff,
      ...ascii('\r\n\r\n'),
    ]);
    const r = decode(bytes);
    if (r === NEED_MORE) assert.fail('a complete head');
    assert.deepEqual(latin1Bytes(r.value.headers[0]?.value ?? ''), Uint8Array.of(0xe9, 0xff));
  });

  it('refuses what would let two parsers disagree (400)', () => {
    for (const [why, text] of [
      ['bare LF ends the request line', 'GET http://a/ HTTP/1.1\nHost: a\r\n\r\n'],
      ['bare LF ends a field', 'GET http://a/ HTTP/1.1\r\nHost: a\n\r\n'],
      ['bare LF ends the head', 'GET http://a/ HTTP/1.1\r\nHost: a\r\n\n'],
      ['bare CR inside a field', 'GET http://a/ HTTP/1.1\r\nHost: a\rX: b\r\n\r\n'],
      ['obs-fold', 'GET http://a/ HTTP/1.1\r\nX: a\r\n  folded\r\n\r\n'],
      ['space before the colon', 'GET http://a/ HTTP/1.1\r\nContent-Length : 5\r\n\r\n'],
      ['NUL in a value', 'GET http://a/ HTTP/1.1\r\nX: a\u0000b\r\n\r\n'],
      ['no colon', 'GET http://a/ HTTP/1.1\r\nJustText\r\n\r\n'],
      ['empty field name', 'GET http://a/ HTTP/1.1\r\n: v\r\n\r\n'],
      ['two spaces in the request line', 'GET  http://a/ HTTP/1.1\r\n\r\n'],
      ['tab in the request line', 'GET\thttp://a/ HTTP/1.1\r\n\r\n'],
      ['missing version', 'GET http://a/\r\n\r\n'],
      ['lower-case version', 'GET http://a/ http/1.1\r\n\r\n'],
      ['method with a bad char', 'G(T http://a/ HTTP/1.1\r\n\r\n'],
      ['space in the target', 'GET http://a/b c HTTP/1.1\r\n\r\n'],
      ['non-ASCII in the target', 'GET http://a/\u00e9 HTTP/1.1\r\n\r\n'],
    ]) {
      assert.equal(status(text ?? ''), 400, why);
    }
  });

  it('rejects garbage in an unfinished request line without waiting for its end', () => {
    assert.equal(status('GET http://a/\u0001'), 400);
    assert.equal(status('GET http://a/ HTT'), 0, 'a clean prefix needs more');
  });

  it('caps the head: 431 for the header block, 414 for the request line', () => {
    const cap = 1024;
    const big = `GET http://a/ HTTP/1.1\r\nX: ${'v'.repeat(1100)}\r\n\r\n`;
    assert.equal(status(big, cap), 431);
    // Refused as soon as the cap is passed, without the end of the head.
    assert.equal(status(big.slice(0, 1100), cap), 431);
    assert.equal(status(`GET http://a/${'p'.repeat(1100)}`, cap), 414);
    // Exactly at the cap is fine.
    const head = 'GET http://a/ HTTP/1.1\r\nX: ';
    const fits = `${head}${'v'.repeat(cap - head.length - 4)}\r\n\r\n`;
    assert.equal(fits.length, cap);
    assert.equal(status(fits, cap), 200);
    assert.equal(status(`${head}${'v'.repeat(cap - head.length - 3)}\r\n\r\n`, cap), 431);
  });

  it('property: any split of a valid head decodes the same; garbage raises only protocol errors', () => {
    const head = ascii('POST http://h:8/p HTTP/1.1\r\nHost: h:8\r\nContent-Length: 3\r\n\r\nabc');
    fc.assert(
      fc.property(fc.nat({ max: head.length }), (cut) => {
        const prefix = decode(head.subarray(0, cut));
        const whole = decode(head);
        assert.ok(whole !== NEED_MORE && whole.length === head.length - 3);
        if (cut < head.length - 3) assert.equal(prefix, NEED_MORE);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (garbage) => {
        try {
          decodeRequestHead(Uint8Array.of(0x47, ...garbage), 256);
        } catch (err) {
          if (!(err instanceof SocksProtocolError)) throw err;
        }
      }),
    );
  });
});

describe('encodeResponseHead', () => {
  it('encodes status line, fields and the blank line', () => {
    assert.equal(
      latin1(
        encodeResponseHead({
          status: 407,
          headers: [{ name: 'Proxy-Authenticate', value: 'Basic realm="ferry"' }],
        }),
      ),
      'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="ferry"\r\n\r\n',
    );
    assert.equal(
      latin1(encodeResponseHead({ status: 299, reason: 'Odd', headers: [] })),
      'HTTP/1.1 299 Odd\r\n\r\n',
    );
  });

  it('refuses to write a response split by CR/LF', () => {
    assert.throws(
      () =>
        encodeResponseHead({ status: 200, headers: [{ name: 'X', value: 'a\r\nSet-Cookie: b' }] }),
      SocksUsageError,
    );
    assert.throws(
      () => encodeResponseHead({ status: 200, reason: 'OK\r\n', headers: [] }),
      SocksUsageError,
    );
    assert.throws(
      () => encodeResponseHead({ status: 200, headers: [{ name: 'Bad Name', value: '' }] }),
      SocksUsageError,
    );
  });
});
