/** CONNECT over real loopback sockets, IPv4 and IPv6, with hand-written client bytes. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import {
  closedPort,
  connectTo,
  hasIPv6Loopback,
  Reader,
  startEcho,
  startFerry,
} from '../helpers/net.js';
import {
  connectDomain,
  connectIPv4,
  connectIPv6Loopback,
  GREETING_NOAUTH,
  hex,
  parseReply,
} from '../helpers/socks5.js';

/** Greeting + CONNECT, returns the reader positioned after the reply. */
async function tunnel(
  port: number,
  request: Buffer,
  host = '127.0.0.1',
): Promise<{ reader: Reader; reply: ReturnType<typeof parseReply> }> {
  const socket = await connectTo(port, host);
  const reader = new Reader(socket);
  socket.write(GREETING_NOAUTH);
  assert.deepEqual(await reader.read(2), hex('05 00'));
  socket.write(request);
  const head = await reader.read(4);
  const rest = await reader.read(head[3] === 0x04 ? 18 : 6);
  return { reader, reply: parseReply(Buffer.concat([head, rest])) };
}

describe('CONNECT', async () => {
  const v6 = await hasIPv6Loopback();
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

  it('to an IPv4 address: reply carries the outgoing socket address, data echoes', async () => {
    const { reader, reply } = await tunnel(ferry.port, connectIPv4('127.0.0.1', echo.port));
    assert.equal(reply.ver, 5);
    assert.equal(reply.rep, 0);
    assert.equal(reply.atyp, 0x01);
    assert.equal(reply.host, '127.0.0.1');
    assert.ok(
      reply.port > 0 && reply.port !== echo.port,
      'BND.PORT is the outgoing socket local port',
    );
    reader.socket.write('ping');
    assert.equal((await reader.read(4)).toString(), 'ping');
    reader.socket.end();
    assert.equal((await reader.readToEnd()).length, 0);
  });

  it('to localhost by name', async () => {
    const { reader, reply } = await tunnel(ferry.port, connectDomain('localhost', echo.port));
    assert.equal(reply.rep, 0);
    reader.socket.write('hello');
    assert.equal((await reader.read(5)).toString(), 'hello');
    reader.socket.destroy();
  });

  it('pipelined greeting + request + payload in one write loses nothing', async () => {
    const socket = await connectTo(ferry.port);
    const reader = new Reader(socket);
    socket.write(
      Buffer.concat([
        GREETING_NOAUTH,
        connectIPv4('127.0.0.1', echo.port),
        Buffer.from('early bytes'),
      ]),
    );
    assert.deepEqual(await reader.read(2), hex('05 00'));
    assert.equal(parseReply(await reader.read(10)).rep, 0);
    assert.equal((await reader.read(11)).toString(), 'early bytes');
    socket.destroy();
  });

  it('pipelined request + payload + FIN: the payload still arrives and the FIN follows it', async () => {
    const socket = await connectTo(ferry.port);
    const reader = new Reader(socket);
    socket.end(
      Buffer.concat([
        GREETING_NOAUTH,
        connectIPv4('127.0.0.1', echo.port),
        Buffer.from('then bye'),
      ]),
    );
    const all = await reader.readToEnd();
    assert.equal(
      all.subarray(12).toString(),
      'then bye',
      'echo returns the payload, then the tunnel closes',
    );
  });

  it('connection refused → 05, full-length reply', async () => {
    const port = await closedPort();
    const { reader, reply } = await tunnel(ferry.port, connectIPv4('127.0.0.1', port));
    assert.equal(reply.rep, 0x05);
    assert.equal(reply.atyp, 0x01);
    assert.ok(await reader.closed(), 'server closes after a failure reply');
  });

  it('nonexistent.invalid → 04', async () => {
    const { reader, reply } = await tunnel(ferry.port, connectDomain('nonexistent.invalid', 80));
    assert.equal(reply.rep, 0x04);
    assert.ok(await reader.closed());
  });

  it(
    'IPv6: listener on [::1], CONNECT to [::1]',
    { skip: !v6 && 'no IPv6 loopback on this machine' },
    async () => {
      const ferry6 = await startFerry({}, '::1');
      const echo6 = await startEcho('::1');
      try {
        const { reader, reply } = await tunnel(ferry6.port, connectIPv6Loopback(echo6.port), '::1');
        assert.equal(reply.rep, 0);
        assert.equal(reply.atyp, 0x04);
        assert.equal(reply.host, '0:0:0:0:0:0:0:1');
        reader.socket.write('six');
        assert.equal((await reader.read(3)).toString(), 'six');
        reader.socket.destroy();
      } finally {
        await ferry6.close();
        await echo6.close();
      }
    },
  );
});

describe('half-close both ways with 10 MiB each way', () => {
  it('each direction finishes independently and the bytes are intact (SHA-256)', async () => {
    const size = 10 * 1024 * 1024;
    const fromClient = randomBytes(size);
    const fromTarget = randomBytes(size);
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    // The target first receives everything up to the client's FIN, then answers with its 10 MiB
    // and its own FIN: proof that the client's half-close did not close the other direction.
    let targetGot = '';
    const target = net.createServer({ allowHalfOpen: true }, (s) => {
      const h = createHash('sha256');
      s.on('data', (c: Buffer) => h.update(c));
      s.on('end', () => {
        targetGot = h.digest('hex');
        s.end(fromTarget);
      });
    });
    target.listen(0, '127.0.0.1');
    await once(target, 'listening');
    const ferry = await startFerry();
    try {
      const { reader, reply } = await tunnel(
        ferry.port,
        connectIPv4('127.0.0.1', (target.address() as net.AddressInfo).port),
      );
      assert.equal(reply.rep, 0);
      reader.socket.end(fromClient);
      const back = await reader.readToEnd(30_000);
      assert.equal(targetGot, sha(fromClient));
      assert.equal(sha(back), sha(fromTarget));
      const rec = ferry.server.stats;
      assert.equal(rec.accepted, 1);
    } finally {
      await ferry.close();
      target.close();
    }
  });

  it('the target half-closes first and the client keeps sending', async () => {
    const size = 10 * 1024 * 1024;
    const fromClient = randomBytes(size);
    const fromTarget = randomBytes(size);
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    const target = net.createServer({ allowHalfOpen: true });
    const targetDone = new Promise<string>((resolve) => {
      target.on('connection', (s: net.Socket) => {
        const h = createHash('sha256');
        s.end(fromTarget); // send everything and FIN at once
        s.on('data', (c: Buffer) => h.update(c));
        s.on('end', () => resolve(h.digest('hex')));
      });
    });
    target.listen(0, '127.0.0.1');
    await once(target, 'listening');
    const ferry = await startFerry();
    try {
      const { reader } = await tunnel(
        ferry.port,
        connectIPv4('127.0.0.1', (target.address() as net.AddressInfo).port),
      );
      const back = await reader.readToEnd(30_000); // the target's FIN arrives while we have not ended
      assert.equal(sha(back), sha(fromTarget));
      assert.ok(!reader.socket.writableEnded);
      reader.socket.end(fromClient); // ... and our direction still works
      assert.equal(await targetDone, sha(fromClient));
    } finally {
      await ferry.close();
      target.close();
    }
  });
});

describe('backpressure', () => {
  it('a client that does not read stalls the upstream instead of filling memory', async () => {
    const total = 256 * 1024 * 1024;
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    let pushed = 0;
    const source = net.createServer((s) => {
      s.on('error', () => undefined);
      const pump = (): void => {
        while (pushed < total) {
          pushed += chunk.length;
          if (!s.write(chunk)) {
            s.once('drain', pump);
            return;
          }
        }
        s.end();
      };
      pump();
    });
    source.listen(0, '127.0.0.1');
    await once(source, 'listening');
    const ferry = await startFerry();
    try {
      const { reader } = await tunnel(
        ferry.port,
        connectIPv4('127.0.0.1', (source.address() as net.AddressInfo).port),
      );
      reader.socket.pause(); // a reader that stops reading
      await new Promise((r) => setTimeout(r, 1500));
      // Kernel buffers on both loopback hops plus ferry's high-water marks: a few MiB to tens of
      // MiB. Without backpressure ferry would have read all 256 MiB.
      assert.ok(
        pushed < 64 * 1024 * 1024,
        `source pushed ${(pushed / 1048576).toFixed(1)} MiB into a non-reading tunnel`,
      );
      const before = pushed;
      reader.socket.resume();
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(pushed > before, 'reading again resumes the flow');
      reader.socket.destroy();
    } finally {
      await ferry.close();
      source.close();
    }
  });
});
