/** HTTP CONNECT tunnels and Proxy-Authorization, over real loopback sockets. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { closedPort, connectTo, Reader, startEcho, startFerry } from '../helpers/net.js';
import { readResponse, startOrigin, type Origin } from '../helpers/http-raw.js';
import { ChannelLog } from '../helpers/events.js';
import {
  channelNames,
  type AuthEvent,
  type SessionEvent,
} from '../../src/observability/channels.js';
import { UserDatabase } from '../../src/auth/users.js';
import { hashPassword } from '../../src/auth/password.js';

const basic = (user: string, pass: string): string =>
  `Proxy-Authorization: Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}\r\n`;

async function client(port: number): Promise<Reader> {
  return new Reader(await connectTo(port));
}

describe('HTTP CONNECT', () => {
  let ferry: Awaited<ReturnType<typeof startFerry>>;
  let echo: Awaited<ReturnType<typeof startEcho>>;
  before(async () => {
    ferry = await startFerry();
    echo = await startEcho();
  });
  after(async () => {
    await ferry.close();
    await echo.close();
  });

  it('200 then raw bytes; bytes pipelined after the head are forwarded first', async () => {
    using ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    const c = await client(ferry.port);
    const localPort = c.socket.localPort;
    c.socket.write(
      `CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nHost: 127.0.0.1:${echo.port}\r\n\r\nearly bytes`,
    );
    const head = await c.read('HTTP/1.1 200 Connection established\r\n\r\n'.length);
    assert.equal(head.toString(), 'HTTP/1.1 200 Connection established\r\n\r\n');
    assert.equal((await c.read(11)).toString(), 'early bytes');
    c.socket.write('later');
    assert.equal((await c.read(5)).toString(), 'later');
    c.socket.end();
    assert.equal((await c.readToEnd()).length, 0);
    const { session } = await ended.waitFor((m) => m.session.clientPort === localPort);
    assert.equal(session.dialect, 'http');
    assert.equal(session.command, 'connect');
    assert.equal(session.httpMethod, 'CONNECT');
    assert.equal(session.httpStatus, 200);
    assert.equal(session.reply, 0x00);
    assert.equal(session.bytesUp, 16);
  });

  it('half-close is kept: the target answers after the client FIN', async () => {
    const target = net.createServer({ allowHalfOpen: true }, (s) => {
      let got = '';
      s.on('data', (c: Buffer) => (got += c.toString()));
      s.on('end', () => s.end(`got ${got}`));
    });
    target.listen(0, '127.0.0.1');
    await once(target, 'listening');
    const port = (target.address() as net.AddressInfo).port;
    try {
      const c = await client(ferry.port);
      c.socket.write(`CONNECT localhost:${port} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
      await readResponse(c, { head: true });
      c.socket.end('question');
      assert.equal((await c.readToEnd()).toString(), 'got question');
    } finally {
      target.close();
    }
  });

  it('a refused destination → 502 with the reason, then close', async () => {
    const port = await closedPort();
    const c = await client(ferry.port);
    c.socket.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const r = await readResponse(c);
    assert.equal(r.status, 502);
    assert.equal(r.headers.connection, 'close');
    assert.match(r.body.toString(), /connection refused \(ECONNREFUSED\)/);
    assert.ok(await c.closed());
  });

  it('a CONNECT after forwarded requests on the same connection', async () => {
    const origin = await startOrigin();
    try {
      const c = await client(ferry.port);
      c.socket.write(`GET http://127.0.0.1:${origin.port}/first HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal((await readResponse(c)).body.toString(), 'hello from /first');
      c.socket.write(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal((await readResponse(c, { head: true })).status, 200);
      c.socket.write('tunnel');
      assert.equal((await c.read(6)).toString(), 'tunnel');
      c.socket.destroy();
    } finally {
      await origin.close();
    }
  });
});

describe('Proxy-Authorization: Basic', () => {
  let users: UserDatabase;
  let ferry: Awaited<ReturnType<typeof startFerry>>;
  let origin: Origin;
  before(async () => {
    users = UserDatabase.parse(`alice:${await hashPassword('s3cret pass')}\n`);
    ferry = await startFerry({ users });
    origin = await startOrigin();
  });
  after(async () => {
    await ferry.close();
    await origin.close();
  });

  it('missing or wrong credentials → 407 with Proxy-Authenticate, nothing sent upstream', async () => {
    const before = origin.seen.length;
    for (const creds of [
      '',
      basic('alice', 'wrong'),
      basic('mallory', 's3cret pass'),
      'Proxy-Authorization: Basic !!\r\n',
      'Proxy-Authorization: Bearer x\r\n',
    ]) {
      const c = await client(ferry.port);
      c.socket.write(`GET http://127.0.0.1:${origin.port}/x HTTP/1.1\r\nHost: x\r\n${creds}\r\n`);
      const r = await readResponse(c);
      assert.equal(r.status, 407, creds);
      assert.equal(r.headers['proxy-authenticate'], 'Basic realm="ferry"');
      c.socket.destroy();
    }
    assert.equal(origin.seen.length, before);
  });

  it('after a 407 the client may retry on the same connection', async () => {
    const c = await client(ferry.port);
    c.socket.write(`GET http://127.0.0.1:${origin.port}/retry HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal((await readResponse(c)).status, 407);
    c.socket.write(
      `GET http://127.0.0.1:${origin.port}/retry HTTP/1.1\r\nHost: x\r\n${basic('alice', 's3cret pass')}\r\n`,
    );
    assert.equal((await readResponse(c)).body.toString(), 'hello from /retry');
    c.socket.destroy();
  });

  it('right credentials pass, are verified once per connection, and never go upstream', async () => {
    using auth = new ChannelLog<AuthEvent>(channelNames.auth);
    using ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    const c = await client(ferry.port);
    const localPort = c.socket.localPort;
    const get = `GET http://127.0.0.1:${origin.port}/headers HTTP/1.1\r\nHost: x\r\n${basic('alice', 's3cret pass')}\r\n`;
    c.socket.write(get + get + get);
    for (let i = 0; i < 3; i++) {
      const r = await readResponse(c);
      assert.equal(r.status, 200);
      assert.doesNotMatch(r.body.toString(), /Proxy-Authorization|czNjcmV0/i);
    }
    c.socket.end();
    await c.readToEnd();
    const { session } = await ended.waitFor((m) => m.session.clientPort === localPort);
    assert.equal(session.user, 'alice');
    assert.equal(session.method, 'username');
    const mine = auth.messages.filter((m) => m.session.clientPort === localPort);
    assert.deepEqual(
      mine.map((m) => [m.user, m.success]),
      [['alice', true]],
      'scrypt ran once',
    );
  });

  it('CONNECT needs credentials too', async () => {
    const echo = await startEcho();
    try {
      const c = await client(ferry.port);
      c.socket.write(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal((await readResponse(c)).status, 407);
      c.socket.write(
        `CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nHost: x\r\n${basic('alice', 's3cret pass')}\r\n`,
      );
      assert.equal((await readResponse(c, { head: true })).status, 200);
      c.socket.write('ok');
      assert.equal((await c.read(2)).toString(), 'ok');
      c.socket.destroy();
    } finally {
      await echo.close();
    }
  });

  it('allowUnauthenticated can let a client in without credentials', async () => {
    const open = await startFerry({ users, allowUnauthenticated: (s) => s.dialect === 'http' });
    try {
      const c = await client(open.port);
      c.socket.write(`GET http://127.0.0.1:${origin.port}/anon HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal((await readResponse(c)).body.toString(), 'hello from /anon');
      c.socket.destroy();
    } finally {
      await open.close();
    }
  });
});

describe('HTTP backpressure', () => {
  it('a client that does not read stalls the origin instead of filling memory', async () => {
    const ferry = await startFerry();
    const origin = await startOrigin();
    try {
      const c = await client(ferry.port);
      const total = 512 * 1024 * 1024;
      c.socket.write(
        `GET http://127.0.0.1:${origin.port}/big?n=${total} HTTP/1.1\r\nHost: x\r\n\r\n`,
      );
      await c.read(10);
      c.socket.pause(); // a reader that stops reading
      await new Promise((r) => setTimeout(r, 1500));
      // Kernel buffers on both loopback hops plus the high-water marks: a few MiB. Without
      // backpressure ferry would have read (and held) most of the 512 MiB.
      const stalled = origin.bigSent();
      assert.ok(stalled < 64 * 1024 * 1024, `origin pushed ${(stalled / 1048576).toFixed(1)} MiB`);
      c.socket.resume();
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(origin.bigSent() > stalled, 'reading again resumes the flow');
      c.socket.destroy();
    } finally {
      await ferry.close();
      await origin.close();
    }
  });
});
