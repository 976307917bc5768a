// What a request means to the proxy: targets, Host rules, the framing (smuggling) policy,
// hop-by-hop removal, keep-alive, and Basic credentials. Table-driven from hand-written heads.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRequestHead } from '../../src/protocol/http.js';
import {
  endToEndFields,
  interpretProxyRequest,
  parseAuthority,
  parseProxyAuthorization,
  type ForwardRequest,
  type ProxyRequest,
} from '../../src/protocol/http-proxy.js';
import { NEED_MORE } from '../../src/protocol/decode.js';
import { HttpProtocolError } from '../../src/errors.js';

function interpret(head: string): ProxyRequest {
  const r = decodeRequestHead(Uint8Array.from(Buffer.from(head, 'latin1')), 16384);
  assert.notEqual(r, NEED_MORE);
  if (r === NEED_MORE) throw new Error('incomplete');
  return interpretProxyRequest(r.value);
}

function statusOf(head: string): number {
  try {
    interpret(head);
    return 0;
  } catch (err) {
    assert.ok(err instanceof HttpProtocolError, String(err));
    return err.status;
  }
}

const req = (line: string, ...fields: string[]): string =>
  `${line}\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`;

describe('interpretProxyRequest', () => {
  it('CONNECT host:port is a tunnel request', () => {
    const r = interpret(req('CONNECT Example.COM:443 HTTP/1.1', 'Host: example.com:443'));
    assert.equal(r.kind, 'connect');
    assert.deepEqual(r.target, { host: 'example.com', port: 443 });
    assert.equal(r.keepAlive, true);
  });

  it('CONNECT to an IPv6 literal', () => {
    const r = interpret(req('CONNECT [::1]:8443 HTTP/1.1', 'Host: [::1]:8443'));
    assert.deepEqual(r.target, { host: '::1', port: 8443 });
  });

  it('an absolute-form GET: target, origin-form path, upstream fields', () => {
    const r = interpret(
      req(
        'GET http://Example.com:8080/p/q?x=1 HTTP/1.1',
        'Host: ignored.example', // replaced by the target's authority (RFC 9112 §3.2.2)
        'Accept: */*',
        'Connection: keep-alive, X-Secret', // names X-Secret as hop-by-hop
        'X-Secret: dropped',
        'Keep-Alive: timeout=5',
        'Proxy-Connection: keep-alive',
        'Proxy-Authorization: Basic YTpi',
        'TE: trailers',
        'Trailer: X-T',
        'Upgrade: websocket',
        'Cookie: a=1',
      ),
    ) as ForwardRequest;
    assert.equal(r.kind, 'forward');
    assert.deepEqual(r.target, { host: 'example.com', port: 8080 });
    assert.equal(r.path, '/p/q?x=1');
    assert.deepEqual(r.framing, { kind: 'none' });
    assert.deepEqual(r.upstreamHeaders, [
      { name: 'Host', value: 'example.com:8080' },
      { name: 'Accept', value: '*/*' },
      { name: 'Cookie', value: 'a=1' },
      { name: 'Via', value: '1.1 ferry' },
    ]);
  });

  it('default port, empty path, query without a path, IPv6 host', () => {
    const a = interpret(req('GET http://a.example HTTP/1.1', 'Host: a')) as ForwardRequest;
    assert.deepEqual([a.target.port, a.path, a.upstreamHeaders[0]?.value], [80, '/', 'a.example']);
    const b = interpret(req('GET http://a.example:?q HTTP/1.1', 'Host: a')) as ForwardRequest;
    assert.deepEqual([b.target.port, b.path], [80, '/?q']);
    const c = interpret(req('GET http://[0:0::1]:81/ HTTP/1.1', 'Host: x')) as ForwardRequest;
    assert.deepEqual(c.target, { host: '::1', port: 81 });
    assert.equal(c.upstreamHeaders[0]?.value, '[::1]:81');
  });

  it('keep-alive: HTTP/1.1 unless Connection: close; HTTP/1.0 never', () => {
    assert.equal(
      interpret(req('GET http://a/ HTTP/1.1', 'Host: a', 'Connection: Close')).keepAlive,
      false,
    );
    assert.equal(
      interpret(req('GET http://a/ HTTP/1.0', 'Connection: keep-alive')).keepAlive,
      false,
    );
  });

  it('body framing: Content-Length, chunked, none', () => {
    const len = interpret(
      req('POST http://a/ HTTP/1.1', 'Host: a', 'Content-Length: 12'),
    ) as ForwardRequest;
    assert.deepEqual(len.framing, { kind: 'length', length: 12 });
    const ch = interpret(
      req('POST http://a/ HTTP/1.1', 'Host: a', 'Transfer-Encoding: Chunked'),
    ) as ForwardRequest;
    assert.deepEqual(ch.framing, { kind: 'chunked' });
    // Framing fields never go upstream as sent: the adapter re-declares them.
    assert.ok(!ch.upstreamHeaders.some((h) => /transfer-encoding|content-length/i.test(h.name)));
    const zero = interpret(
      req('POST http://a/ HTTP/1.1', 'Host: a', 'Content-Length: 0'),
    ) as ForwardRequest;
    assert.deepEqual(zero.framing, { kind: 'none' });
  });

  it('the smuggling policy: one unambiguous framing or a refusal', () => {
    const cases: [string, string, number][] = [
      [
        'TE and CL together',
        req(
          'POST http://a/ HTTP/1.1',
          'Host: a',
          'Content-Length: 3',
          'Transfer-Encoding: chunked',
        ),
        400,
      ],
      [
        'two Content-Length fields, equal',
        req('POST http://a/ HTTP/1.1', 'Host: a', 'Content-Length: 3', 'Content-Length: 3'),
        400,
      ],
      [
        'a Content-Length list',
        req('POST http://a/ HTTP/1.1', 'Host: a', 'Content-Length: 3, 3'),
        400,
      ],
      [
        'a signed Content-Length',
        req('POST http://a/ HTTP/1.1', 'Host: a', 'Content-Length: +3'),
        400,
      ],
      [
        'a huge Content-Length',
        req('POST http://a/ HTTP/1.1', 'Host: a', `Content-Length: ${'9'.repeat(16)}`),
        400,
      ],
      [
        'chunked not last',
        req('POST http://a/ HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked, gzip'),
        400,
      ],
      [
        'chunked twice',
        req(
          'POST http://a/ HTTP/1.1',
          'Host: a',
          'Transfer-Encoding: chunked',
          'Transfer-Encoding: chunked',
        ),
        501,
      ],
      [
        'another coding before chunked',
        req('POST http://a/ HTTP/1.1', 'Host: a', 'Transfer-Encoding: gzip, chunked'),
        501,
      ],
      [
        'an unknown coding alone',
        req('POST http://a/ HTTP/1.1', 'Host: a', 'Transfer-Encoding: identity'),
        400,
      ],
      ['TE in HTTP/1.0', req('POST http://a/ HTTP/1.0', 'Transfer-Encoding: chunked'), 400],
      [
        'CONNECT with content',
        req('CONNECT a:443 HTTP/1.1', 'Host: a:443', 'Content-Length: 5'),
        400,
      ],
      [
        'CONNECT with chunked',
        req('CONNECT a:443 HTTP/1.1', 'Host: a:443', 'Transfer-Encoding: chunked'),
        400,
      ],
    ];
    for (const [why, head, expected] of cases) assert.equal(statusOf(head), expected, why);
  });

  it('targets and Host that a proxy refuses (400)', () => {
    const cases: [string, string][] = [
      ['missing Host in 1.1', req('GET http://a/ HTTP/1.1')],
      ['two Host fields', req('GET http://a/ HTTP/1.1', 'Host: a', 'Host: b')],
      ['origin-form (not a proxy request)', req('GET / HTTP/1.1', 'Host: a')],
      ['asterisk-form', req('OPTIONS * HTTP/1.1', 'Host: a')],
      ['https in absolute form', req('GET https://a/ HTTP/1.1', 'Host: a')],
      ['another scheme', req('GET ftp://a/ HTTP/1.1', 'Host: a')],
      ['userinfo', req('GET http://u:p@a/ HTTP/1.1', 'Host: a')],
      ['a fragment', req('GET http://a/#x HTTP/1.1', 'Host: a')],
      ['empty host', req('GET http:///x HTTP/1.1', 'Host: a')],
      ['percent-encoded host', req('GET http://%61/ HTTP/1.1', 'Host: a')],
      ['port 0', req('GET http://a:0/ HTTP/1.1', 'Host: a')],
      ['port too large', req('GET http://a:65536/ HTTP/1.1', 'Host: a')],
      ['CONNECT without a port', req('CONNECT a HTTP/1.1', 'Host: a')],
      ['CONNECT to a zone id', req('CONNECT [fe80::1%25eth0]:1 HTTP/1.1', 'Host: a')],
      ['CONNECT with a URI', req('CONNECT http://a:443/ HTTP/1.1', 'Host: a')],
    ];
    for (const [why, head] of cases) assert.equal(statusOf(head), 400, why);
  });

  it('HTTP/1.0 needs no Host', () => {
    assert.equal(interpret(req('GET http://a/ HTTP/1.0')).kind, 'forward');
  });
});

describe('Proxy-Authorization: Basic (RFC 7617)', () => {
  const field = (value: string) => [{ name: 'Proxy-Authorization', value }];
  it('decodes user and password as octets; the password may hold colons', () => {
    // base64("alice:s3cret:x") = YWxpY2U6czNjcmV0Ong=
    const c = parseProxyAuthorization(field('Basic YWxpY2U6czNjcmV0Ong='));
    assert.ok(typeof c === 'object');
    assert.equal(Buffer.from(c.username).toString(), 'alice');
    assert.equal(Buffer.from(c.password).toString(), 's3cret:x');
    assert.ok(
      typeof parseProxyAuthorization(field('basic YTpi')) === 'object',
      'scheme is case-insensitive',
    );
  });

  it('absent is undefined; anything unusable is malformed', () => {
    assert.equal(parseProxyAuthorization([]), undefined);
    for (const v of [
      'Bearer abc',
      'Basic',
      'Basic !!!!',
      'Basic YWJj' /* "abc": no colon */,
      'Basic YTpi=',
    ]) {
      assert.equal(parseProxyAuthorization(field(v)), 'malformed', v);
    }
    assert.equal(
      parseProxyAuthorization([...field('Basic YTpi'), ...field('Basic YTpi')]),
      'malformed',
    );
  });
});

describe('helpers', () => {
  it('endToEndFields drops hop-by-hop fields and those Connection names, case-insensitively', () => {
    assert.deepEqual(
      endToEndFields([
        { name: 'connection', value: 'X-A, x-b' },
        { name: 'X-A', value: '1' },
        { name: 'X-B', value: '2' },
        { name: 'Transfer-Encoding', value: 'chunked' },
        { name: 'Proxy-Authenticate', value: 'Basic' },
        { name: 'X-C', value: '3' },
      ]),
      [{ name: 'X-C', value: '3' }],
    );
  });

  it('parseAuthority lower-cases names, keeps IPv4, normalises IPv6', () => {
    assert.deepEqual(parseAuthority('WWW.Example.ORG:81', undefined), {
      host: 'www.example.org',
      port: 81,
    });
    assert.deepEqual(parseAuthority('10.0.0.1', 80), { host: '10.0.0.1', port: 80 });
    assert.deepEqual(parseAuthority('[2001:DB8:0::1]:1', undefined), {
      host: '2001:db8::1',
      port: 1,
    });
  });
});
