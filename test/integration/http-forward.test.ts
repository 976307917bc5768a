/** HTTP forward proxying (absolute-URI requests) over real loopback sockets, raw client bytes. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closedPort, connectTo, Reader, startFerry } from '../helpers/net.js';
import { readResponse, sha256, startOrigin, type Origin } from '../helpers/http-raw.js';
import { ChannelLog } from '../helpers/events.js';
import {
  channelNames,
  type HttpRequestEvent,
  type SessionEvent,
} from '../../src/observability/channels.js';

async function client(port: number): Promise<Reader> {
  return new Reader(await connectTo(port));
}

const headersSeen = (body: Buffer): [string, string][] => {
  const raw = (JSON.parse(body.toString()) as { rawHeaders: string[] }).rawHeaders;
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
};

describe('HTTP forward proxy', () => {
  let ferry: Awaited<ReturnType<typeof startFerry>>;
  let origin: Origin;
  let base: string;
  before(async () => {
    ferry = await startFerry();
    origin = await startOrigin();
    base = `http://127.0.0.1:${origin.port}`;
  });
  after(async () => {
    await ferry.close();
    await origin.close();
  });

  it('forwards a GET: Host from the URI, hop-by-hop fields removed, Via added both ways', async () => {
    const c = await client(ferry.port);
    c.socket.write(
      `GET ${base}/headers?q=1 HTTP/1.1\r\n` +
        'Host: wrong.example\r\n' +
        'User-Agent: raw\r\n' +
        'Connection: keep-alive, X-Hop\r\n' +
        'X-Hop: must go\r\n' +
        'Keep-Alive: timeout=5\r\n' +
        'Proxy-Connection: keep-alive\r\n' +
        'Proxy-Authorization: Basic YTpi\r\n' +
        'TE: trailers\r\n' +
        'Upgrade: h2c\r\n' +
        'X-End: stays\r\n\r\n',
    );
    const r = await readResponse(c);
    assert.equal(r.status, 200);
    assert.equal(r.headers.via, '1.1 ferry');
    assert.equal(r.headers.connection, undefined, 'persistent by default in HTTP/1.1');
    const seen = JSON.parse(r.body.toString()) as { url: string };
    assert.equal(seen.url, '/headers?q=1', 'origin-form upstream');
    const fields = headersSeen(r.body);
    const names = fields.map(([n]) => n.toLowerCase());
    assert.deepEqual(
      fields.find(([n]) => n === 'Host'),
      ['Host', `127.0.0.1:${origin.port}`],
    );
    for (const hop of [
      'x-hop',
      'keep-alive',
      'proxy-connection',
      'proxy-authorization',
      'te',
      'upgrade',
    ]) {
      assert.ok(!names.includes(hop), `${hop} is not forwarded`);
    }
    assert.ok(names.includes('x-end') && names.includes('user-agent'));
    assert.deepEqual(
      fields.find(([n]) => n === 'Via'),
      ['Via', '1.1 ferry'],
    );
    c.socket.destroy();
  });

  it('pipelined requests on one keep-alive connection: answered in order, one upstream connection', async () => {
    const before = origin.connections();
    using events = new ChannelLog<HttpRequestEvent>(channelNames.httpRequest);
    using ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    const c = await client(ferry.port);
    const get = (p: string): string => `GET ${base}${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
    c.socket.write(
      get('/one') + get('/two') + `HEAD ${base}/three HTTP/1.1\r\nHost: x\r\n\r\n` + get('/four'),
    );
    assert.equal((await readResponse(c)).body.toString(), 'hello from /one');
    assert.equal((await readResponse(c)).body.toString(), 'hello from /two');
    const head = await readResponse(c, { head: true });
    assert.equal(head.headers['content-length'], String('hello from /three'.length));
    assert.equal((await readResponse(c)).body.toString(), 'hello from /four');
    assert.equal(origin.connections() - before, 1, 'the upstream connection was kept alive too');
    const localPort = c.socket.localPort;
    c.socket.end();
    await c.readToEnd();
    const { session } = await ended.waitFor((m) => m.session.clientPort === localPort);
    assert.equal(session.httpRequests, 4);
    assert.equal(session.endReason, 'closed');
    assert.deepEqual(
      events.messages.filter((e) => e.session.id === session.id).map((e) => [e.method, e.status]),
      [
        ['GET', 200],
        ['GET', 200],
        ['HEAD', 200],
        ['GET', 200],
      ],
    );
  });

  it('a chunked upload is streamed upstream intact, re-framed as chunked', async () => {
    const body = randomBytes(300_000);
    const c = await client(ferry.port);
    c.socket.write(`POST ${base}/sha HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
    for (let at = 0; at < body.length; at += 70_000) {
      const piece = body.subarray(at, at + 70_000);
      c.socket.write(`${piece.length.toString(16)};ext=1\r\n`);
      c.socket.write(piece);
      c.socket.write('\r\n');
      await new Promise((r) => setImmediate(r));
    }
    c.socket.write('0\r\nX-Trailer: dropped\r\n\r\n');
    const r = await readResponse(c);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body.toString()), {
      length: body.length,
      sha256: sha256(body),
      te: 'chunked',
      cl: null,
    });
    c.socket.destroy();
  });

  it('a Content-Length upload streams with its length; the echo comes back chunked', async () => {
    const body = randomBytes(100_000);
    const c = await client(ferry.port);
    c.socket.write(
      `PUT ${base}/echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    c.socket.write(body);
    const r = await readResponse(c);
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.equal(sha256(r.body), sha256(body));
    c.socket.destroy();
  });

  it('Expect: 100-continue: the interim 100 comes back before the body is sent', async () => {
    const c = await client(ferry.port);
    c.socket.write(
      `POST ${base}/sha HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n`,
    );
    const interim = await readResponse(c);
    assert.equal(interim.status, 100);
    c.socket.write('abc');
    const r = await readResponse(c);
    assert.equal((JSON.parse(r.body.toString()) as { length: number }).length, 3);
    c.socket.destroy();
  });

  it('an HTTP/1.0 client gets a close-delimited body for an unknown length', async () => {
    const c = await client(ferry.port);
    c.socket.write(`GET ${base}/chunked HTTP/1.0\r\n\r\n`);
    const r = await readResponse(c);
    assert.equal(r.headers.connection, 'close');
    assert.equal(r.headers['transfer-encoding'], undefined);
    assert.equal(r.body.toString(), 'part one, part two');
  });

  it('an HTTP/1.1 client gets the same body re-chunked; 204 has no body', async () => {
    const c = await client(ferry.port);
    c.socket.write(
      `GET ${base}/chunked HTTP/1.1\r\nHost: x\r\n\r\nGET ${base}/nocontent HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    assert.equal((await readResponse(c)).body.toString(), 'part one, part two');
    const r = await readResponse(c);
    assert.equal(r.status, 204);
    assert.equal(r.headers['content-length'], undefined);
    c.socket.destroy();
  });

  it('malformed requests get 400 (or 431, 505) with a one-line reason, then a close', async () => {
    const cases: [string, string, number][] = [
      ['malformed request line', 'GET  http://a/ HTTP/1.1\r\n\r\n', 400],
      ['garbage request line', 'Hello there\r\n\r\n', 400],
      ['missing Host', `GET ${base}/ HTTP/1.1\r\n\r\n`, 400],
      ['origin-form to a proxy', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
      ['https absolute URI', 'GET https://a/ HTTP/1.1\r\nHost: a\r\n\r\n', 400],
      [
        'TE + CL',
        `POST ${base}/ HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n`,
        400,
      ],
      ['bare LF', `GET ${base}/ HTTP/1.1\nHost: a\n\n`, 400],
      ['obs-fold', `GET ${base}/ HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n`, 400],
      [
        'oversize header block',
        `GET ${base}/ HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(17 * 1024)}\r\n\r\n`,
        431,
      ],
      ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 505],
    ];
    for (const [why, request, status] of cases) {
      using ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
      const c = await client(ferry.port);
      const localPort = c.socket.localPort;
      c.socket.write(request);
      const r = await readResponse(c);
      assert.equal(r.status, status, why);
      assert.equal(r.headers.connection, 'close', why);
      assert.equal(r.body.toString().trim().split('\n').length, 1, why);
      assert.ok(await c.closed(), `${why}: closed`);
      const { session } = await ended.waitFor((m) => m.session.clientPort === localPort);
      assert.equal(session.endReason, 'protocol-error', why);
      assert.equal(session.httpStatus, status, why);
      assert.equal(session.reply, undefined, why);
    }
  });

  it('upstream failures: refused and DNS failure → 502 naming the cause', async () => {
    const port = await closedPort();
    const c = await client(ferry.port);
    c.socket.write(`GET http://127.0.0.1:${port}/ HTTP/1.1\r\nHost: x\r\n\r\n`);
    const r = await readResponse(c);
    assert.equal(r.status, 502);
    assert.match(
      r.body.toString(),
      /^ferry: 127\.0\.0\.1:\d+: connection refused \(ECONNREFUSED\)\n$/,
    );
    const d = await client(ferry.port);
    d.socket.write('GET http://nonexistent.invalid/ HTTP/1.1\r\nHost: x\r\n\r\n');
    const r2 = await readResponse(d);
    assert.equal(r2.status, 502);
    assert.match(r2.body.toString(), /host unreachable \(ERR_SOCKS_RESOLVE\)/);
    c.socket.destroy();
    d.socket.destroy();
  });

  it('an upstream that breaks off mid-body: the client sees the truncation, not a clean end', async () => {
    const c = await client(ferry.port);
    c.socket.write(`GET ${base}/break HTTP/1.1\r\nHost: x\r\n\r\n`);
    await assert.rejects(readResponse(c), /socket ended after 10 of 1000 bytes/);
  });
});

describe('HTTP forward proxy: deadlines', () => {
  it('no response within the idle timeout → 504', async () => {
    const ferry = await startFerry({ idleTimeout: 300 });
    const origin = await startOrigin();
    try {
      const c = await client(ferry.port);
      c.socket.write(`GET http://127.0.0.1:${origin.port}/stall HTTP/1.1\r\nHost: x\r\n\r\n`);
      const r = await readResponse(c);
      assert.equal(r.status, 504);
      assert.match(r.body.toString(), /timed out/);
    } finally {
      await ferry.close();
      await origin.close();
    }
  });

  it('an idle keep-alive connection is closed after the handshake timeout', async () => {
    const ferry = await startFerry({ handshakeTimeout: 300 });
    const origin = await startOrigin();
    using ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    try {
      const c = await client(ferry.port);
      c.socket.write(`GET http://127.0.0.1:${origin.port}/a HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal((await readResponse(c)).status, 200);
      assert.ok(await c.closed(5000));
      assert.equal((await ended.waitFor()).session.endReason, 'keepalive-timeout');
    } finally {
      await ferry.close();
      await origin.close();
    }
  });
});

describe('HTTP keep-alive during a drain', () => {
  it('an idle connection closes at once, a busy one after its response', async () => {
    // Deadlines far longer than the test: only the drain itself can end these connections.
    const ferry = await startFerry({ handshakeTimeout: 30_000 });
    const origin = await startOrigin();
    using ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    try {
      const idle = await client(ferry.port);
      idle.socket.write(`GET http://127.0.0.1:${origin.port}/a HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal((await readResponse(idle)).status, 200);

      const busy = await client(ferry.port);
      busy.socket.write(
        `POST http://127.0.0.1:${origin.port}/echo HTTP/1.1\r\nHost: x\r\n` +
          'Content-Length: 10\r\n\r\nfirst',
      );
      await new Promise((r) => setTimeout(r, 50)); // the request is under way upstream
      const closed = ferry.server.close({ drainTimeout: 30_000 });
      assert.ok(await idle.closed(), 'the idle keep-alive connection is closed by the drain');
      busy.socket.write('-half');
      const response = await readResponse(busy);
      assert.equal(response.status, 200);
      assert.equal(response.body.toString(), 'first-half', 'the exchange under way completes');
      assert.ok(await busy.closed(), 'then the busy connection closes too');
      await closed;
      const reasons = ended.messages.map((m) => m.session.endReason).sort();
      assert.deepEqual(reasons, ['closed', 'closed']);
    } finally {
      await origin.close();
    }
  });
});
