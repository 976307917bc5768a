// The HTTP proxy session machine: exchanges, pipelining, response framing choices, error
// responses and keep-alive, CONNECT's tunnel hand-off, and protocol errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  HttpServerSession,
  NEED_DATA,
  PAUSED,
  type HttpServerEvent,
} from '../../src/protocol/http-server-session.js';
import { SocksProtocolError, SocksUsageError } from '../../src/errors.js';

const ascii = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));
const text = (pieces: readonly Uint8Array[]): string =>
  pieces.map((p) => Buffer.from(p).toString('latin1')).join('');

type Drained = (HttpServerEvent | 'NEED_DATA' | 'PAUSED')[];

/** Events until NEED_DATA or PAUSED, with body data as text. */
function drain(s: HttpServerSession): Drained {
  const out: Drained = [];
  for (;;) {
    const e = s.nextEvent();
    if (e === NEED_DATA) return [...out, 'NEED_DATA'];
    if (e === PAUSED) return [...out, 'PAUSED'];
    out.push(e);
    if (e.type === 'protocol-error') return out;
  }
}

const types = (d: Drained): string[] =>
  d.map((e) => (typeof e === 'string' ? e : e.type === 'data' ? `data:${text([e.data])}` : e.type));

const GET = (path: string, ...fields: string[]): string =>
  `GET http://o.example${path} HTTP/1.1\r\nHost: o.example\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`;

describe('HttpServerSession', () => {
  it('a GET, a Content-Length response, keep-alive back to the next request', () => {
    const s = new HttpServerSession(16384);
    s.receiveData(ascii(GET('/a')));
    assert.deepEqual(types(drain(s)), ['request', 'PAUSED']);
    assert.equal(s.serverState, 'waiting');
    const head = s.send({
      type: 'response',
      status: 200,
      reason: 'OK',
      headers: [{ name: 'X', value: 'y' }],
      contentLength: 5,
    });
    assert.equal(text(head), 'HTTP/1.1 200 OK\r\nX: y\r\nContent-Length: 5\r\n\r\n');
    assert.equal(text(s.send({ type: 'data', data: ascii('hel') })), 'hel');
    assert.throws(() => s.send({ type: 'end-of-response' }), SocksUsageError, 'two octets unsent');
    assert.equal(text(s.send({ type: 'data', data: ascii('lo') })), 'lo');
    assert.throws(() => s.send({ type: 'data', data: ascii('!') }), SocksUsageError);
    assert.deepEqual(s.send({ type: 'end-of-response' }), []);
    assert.equal(s.state, 'head');
    assert.equal(s.closing, false);
  });

  it('pipelined requests wait their turn; responses stay in order', () => {
    const s = new HttpServerSession(16384);
    s.receiveData(ascii(GET('/1') + GET('/2') + GET('/3').slice(0, 10)));
    const first = drain(s);
    assert.deepEqual(
      types(first),
      ['request', 'PAUSED'],
      'the second waits for the first response',
    );
    assert.equal(
      (first[0] as Extract<HttpServerEvent, { type: 'request' }>).head.target,
      'http://o.example/1',
    );
    s.send({ type: 'response', status: 204, headers: [] });
    s.send({ type: 'end-of-response' });
    const second = drain(s);
    assert.equal(
      (second[0] as Extract<HttpServerEvent, { type: 'request' }>).head.target,
      'http://o.example/2',
    );
    s.send({ type: 'error', status: 407, message: 'no' });
    assert.deepEqual(types(drain(s)), ['NEED_DATA'], 'the third is still incomplete');
    s.receiveData(ascii(GET('/3').slice(10)));
    assert.deepEqual(types(drain(s)), ['request', 'PAUSED']);
  });

  it('streams a chunked request body, then the next request', () => {
    const s = new HttpServerSession(16384);
    s.receiveData(
      ascii(
        'POST http://o.example/u HTTP/1.1\r\nHost: o.example\r\nTransfer-Encoding: chunked\r\n\r\n' +
          '3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n' +
          GET('/next'),
      ),
    );
    assert.deepEqual(types(drain(s)), [
      'request',
      'data:abc',
      'data:de',
      'end-of-request',
      'PAUSED',
    ]);
    s.send({ type: 'response', status: 201, headers: [], contentLength: 0 });
    s.send({ type: 'end-of-response' });
    assert.deepEqual(types(drain(s)), ['request', 'PAUSED']);
  });

  it('unknown response length: chunked to an HTTP/1.1 client', () => {
    const s = new HttpServerSession(16384);
    s.receiveData(ascii(GET('/')));
    drain(s);
    assert.equal(
      text(s.send({ type: 'response', status: 200, headers: [] })),
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    assert.equal(
      text(s.send({ type: 'data', data: ascii('0123456789abcdef!') })),
      '11\r\n0123456789abcdef!\r\n',
    );
    assert.deepEqual(
      s.send({ type: 'data', data: new Uint8Array(0) }),
      [],
      'an empty write is not a last chunk',
    );
    assert.equal(text(s.send({ type: 'end-of-response' })), '0\r\n\r\n');
    assert.equal(s.state, 'head');
  });

  it('unknown response length to an HTTP/1.0 client: close-delimited', () => {
    const s = new HttpServerSession(16384);
    s.receiveData(ascii('GET http://o/ HTTP/1.0\r\n\r\n'));
    drain(s);
    assert.equal(
      text(s.send({ type: 'response', status: 200, headers: [] })),
      'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n',
    );
    assert.equal(text(s.send({ type: 'data', data: ascii('raw') })), 'raw');
    s.send({ type: 'end-of-response' });
    assert.equal(s.closing, true);
    assert.throws(
      () => s.send({ type: 'informational', status: 100, headers: [] }),
      SocksUsageError,
    );
  });

  it('HEAD, 204 and 304 carry no body; HEAD and 304 keep the length they announce', () => {
    const s = new HttpServerSession(16384);
    s.receiveData(ascii('HEAD http://o/ HTTP/1.1\r\nHost: o\r\n\r\n'));
    drain(s);
    assert.equal(
      text(s.send({ type: 'response', status: 200, headers: [], contentLength: 1234 })),
      'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n',
    );
    assert.throws(() => s.send({ type: 'data', data: ascii('x') }), SocksUsageError);
    s.send({ type: 'end-of-response' });
    s.receiveData(ascii(GET('/')));
    drain(s);
    assert.equal(
      text(s.send({ type: 'response', status: 204, headers: [], contentLength: 0 })),
      'HTTP/1.1 204 \r\n\r\n', // 204 must not announce a length (RFC 9110 §8.6)
    );
  });

  it('Connection: close from the client closes after the response', () => {
    const s = new HttpServerSession(16384);
    s.receiveData(ascii(GET('/', 'Connection: close')));
    drain(s);
    assert.match(
      text(s.send({ type: 'response', status: 200, headers: [], contentLength: 0 })),
      /Connection: close\r\n/,
    );
    s.send({ type: 'end-of-response' });
    assert.equal(s.closing, true);
    assert.equal(s.nextEvent(), PAUSED);
  });

  it('a response that ends before the request body closes the connection', () => {
    const s = new HttpServerSession(16384);
    s.receiveData(ascii('POST http://o/ HTTP/1.1\r\nHost: o\r\nContent-Length: 10\r\n\r\nabc'));
    assert.deepEqual(types(drain(s)), ['request', 'data:abc', 'NEED_DATA']);
    s.send({ type: 'error', status: 502, message: 'upstream gone' });
    assert.equal(s.closing, true);
  });

  it('407 keeps the connection when the request had no body; the body is one text line', () => {
    const s = new HttpServerSession(16384);
    s.receiveData(ascii(GET('/')));
    drain(s);
    const out = text(
      s.send({
        type: 'error',
        status: 407,
        message: 'auth please',
        headers: [{ name: 'Proxy-Authenticate', value: 'Basic realm="ferry"' }],
      }),
    );
    assert.equal(
      out,
      'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="ferry"\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\nContent-Length: 12\r\n\r\nauth please\n',
    );
    assert.equal(s.state, 'head');
  });

  it('1xx responses are forwarded to HTTP/1.1 clients only', () => {
    const s = new HttpServerSession(16384);
    s.receiveData(
      ascii(
        'PUT http://o/ HTTP/1.1\r\nHost: o\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n',
      ),
    );
    drain(s);
    assert.equal(
      text(s.send({ type: 'informational', status: 100, headers: [] })),
      'HTTP/1.1 100 Continue\r\n\r\n',
    );
    assert.throws(
      () => s.send({ type: 'informational', status: 101, headers: [] }),
      SocksUsageError,
    );
  });

  it('CONNECT: 200 then the bytes that followed the head belong to the tunnel', () => {
    const s = new HttpServerSession(16384);
    s.receiveData(ascii('CONNECT o:443 HTTP/1.1\r\nHost: o:443\r\n\r\n\u0016\u0003\u0001'));
    assert.deepEqual(types(drain(s)), ['request', 'PAUSED']);
    assert.equal(text(s.send({ type: 'tunnel' })), 'HTTP/1.1 200 Connection established\r\n\r\n');
    assert.equal(text([s.takeTrailingData()]), '\u0016\u0003\u0001');
    assert.equal(s.nextEvent(), PAUSED);
  });

  it('a tunnel only for CONNECT; framing fields only from the session', () => {
    const s = new HttpServerSession(16384);
    s.receiveData(ascii(GET('/')));
    drain(s);
    assert.throws(() => s.send({ type: 'tunnel' }), SocksUsageError);
    assert.throws(
      () =>
        s.send({
          type: 'response',
          status: 200,
          headers: [{ name: 'content-length', value: '1' }],
        }),
      SocksUsageError,
    );
  });

  it('a malformed head: the error response to send, then failed', () => {
    const s = new HttpServerSession(16384);
    s.receiveData(ascii('GET http://o/ HTTP/1.1\r\n\r\n')); // no Host
    const [e] = drain(s) as Extract<HttpServerEvent, { type: 'protocol-error' }>[];
    assert.equal(e?.type, 'protocol-error');
    assert.match(
      text([e.response]),
      /^HTTP\/1\.1 400 Bad Request\r\n[^]*Connection: close\r\n\r\nmissing Host field\n$/,
    );
    assert.equal(s.state, 'failed');
    assert.throws(() => s.receiveData(ascii('x')), SocksUsageError);
  });

  it('a malformed chunk after the response began: no response bytes, just failed', () => {
    const s = new HttpServerSession(16384);
    s.receiveData(
      ascii('POST http://o/ HTTP/1.1\r\nHost: o\r\nTransfer-Encoding: chunked\r\n\r\n'),
    );
    drain(s);
    s.send({ type: 'response', status: 200, headers: [] });
    s.receiveData(ascii('zz\r\n'));
    const [e] = drain(s) as Extract<HttpServerEvent, { type: 'protocol-error' }>[];
    assert.equal(e?.response.length, 0);
  });

  it('property: arbitrary chunking of pipelined traffic yields the same events', () => {
    const wire = ascii(
      GET('/1') +
        'POST http://o/2 HTTP/1.1\r\nHost: o\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n' +
        'PUT http://o/3 HTTP/1.1\r\nHost: o\r\nContent-Length: 3\r\n\r\nabc',
    );
    const run = (chunks: Uint8Array[]): string => {
      const s = new HttpServerSession(16384);
      let log = '';
      for (const c of chunks) {
        s.receiveData(c);
        for (;;) {
          const e = s.nextEvent();
          if (e === NEED_DATA) break;
          if (e === PAUSED) {
            s.send({ type: 'response', status: 200, headers: [], contentLength: 0 });
            s.send({ type: 'end-of-response' });
            continue;
          }
          log += e.type === 'data' ? text([e.data]) : `<${e.type}>`;
        }
      }
      return log;
    };
    const expected = run([wire]);
    assert.equal(expected, '<request><request>wxyz<end-of-request><request>abc<end-of-request>');
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), (cuts) => {
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let prev = 0;
        for (const p of [...points, wire.length]) {
          chunks.push(wire.subarray(prev, p));
          prev = p;
        }
        assert.equal(run(chunks), expected);
      }),
    );
  });

  it('property: garbage never throws, and never buffers past the head cap', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (garbage) => {
        const s = new HttpServerSession(512);
        s.receiveData(Uint8Array.of(0x47, ...garbage));
        const e = s.nextEvent();
        if (typeof e === 'object' && e.type === 'protocol-error') {
          assert.ok(e.error instanceof SocksProtocolError);
        } else if (e === NEED_DATA) {
          assert.ok(s.bufferedLength <= 512);
        }
      }),
    );
  });
});
