/**
 * The relay reads every upstream into one shared buffer and writes pooled copies to the clients
 * (src/relay/upstream-reader.ts). These tests drive several downloads at once through slow
 * readers, so that writes to the clients stay pending while other upstreams read: any byte that
 * a read overwrote before its write completed would change a digest.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { connectTo, Reader, startFerry } from '../helpers/net.js';
import { connectIPv4, GREETING_NOAUTH, hex } from '../helpers/socks5.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Opens a tunnel; returns the paused client socket and what arrived after the reply. */
async function tunnel(
  ferryPort: number,
  targetPort: number,
): Promise<{ socket: net.Socket; early: Buffer }> {
  const socket = await connectTo(ferryPort);
  const reader = new Reader(socket);
  socket.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', targetPort)]));
  assert.deepEqual(await reader.read(2), hex('05 00'));
  const reply = await reader.read(10);
  assert.equal(reply[1], 0x00);
  socket.pause();
  socket.removeAllListeners('data');
  socket.removeAllListeners('end');
  return { socket, early: await reader.read(reader.buffered) };
}

/** Reads to the end, stalling 15 ms after every ~256 KiB; resolves with the digest. */
function slowDigest(
  { socket, early }: { socket: net.Socket; early: Buffer },
  totalMs = 20_000,
): Promise<{ digest: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256').update(early);
    let bytes = early.length;
    let sinceStall = 0;
    const timer = setTimeout(() => reject(new Error(`timed out after ${bytes} bytes`)), totalMs);
    socket.on('data', (chunk: Buffer) => {
      h.update(chunk);
      bytes += chunk.length;
      sinceStall += chunk.length;
      if (sinceStall >= 256 * 1024) {
        sinceStall = 0;
        socket.pause();
        setTimeout(() => socket.resume(), 15);
      }
    });
    socket.once('end', () => {
      clearTimeout(timer);
      resolve({ digest: h.digest('hex'), bytes });
    });
    socket.once('error', reject);
    socket.resume();
  });
}

describe('relay: upstreams read into a shared buffer', () => {
  it('six concurrent downloads to slow readers arrive intact', async () => {
    const size = 6 * 1024 * 1024;
    const payloads = Array.from({ length: 6 }, () => randomBytes(size));
    let next = 0;
    // Each accepted connection sends the next payload at once (before the reply reaches the
    // client: the relay must not read it early or lose it) and then its FIN.
    const target = net.createServer((s) => {
      s.on('error', () => undefined);
      s.end(payloads[next++] ?? Buffer.alloc(0));
    });
    target.listen(0, '127.0.0.1');
    await once(target, 'listening');
    const targetPort = (target.address() as net.AddressInfo).port;
    const ferry = await startFerry();
    try {
      const tunnels: { socket: net.Socket; early: Buffer }[] = [];
      for (let i = 0; i < payloads.length; i++) tunnels.push(await tunnel(ferry.port, targetPort));
      const results = await Promise.all(tunnels.map((t) => slowDigest(t)));
      results.forEach((r, i) => {
        assert.equal(r.bytes, size, `tunnel ${i}: byte count`);
        assert.equal(r.digest, sha(payloads[i] ?? Buffer.alloc(0)), `tunnel ${i}: digest`);
      });
      for (const t of tunnels) t.socket.destroy();
    } finally {
      await ferry.close();
      target.close();
    }
  });

  it('small chunks in both directions keep their order and counts', async () => {
    // An echo target: every byte the client sends comes back through the pooled read path.
    const target = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => undefined);
      s.pipe(s);
    });
    target.listen(0, '127.0.0.1');
    await once(target, 'listening');
    const ferry = await startFerry();
    try {
      const { socket } = await tunnel(ferry.port, (target.address() as net.AddressInfo).port);
      const reader = new Reader(socket);
      socket.resume();
      // 1 byte to 9 KiB: below and above the size where copies come from the pool; sent in
      // bursts of ten before reading the echoes back.
      for (let burst = 0; burst < 20; burst++) {
        const chunks = Array.from({ length: 10 }, (_, i) =>
          randomBytes(1 + (((burst * 10 + i) * 4099) % 9216)),
        );
        for (const chunk of chunks) socket.write(chunk);
        const all = Buffer.concat(chunks);
        assert.deepEqual(await reader.read(all.length), all, `burst ${burst}`);
      }
      socket.end();
      assert.equal((await reader.readToEnd()).length, 0);
      socket.destroy();
    } finally {
      await ferry.close();
      target.close();
    }
  });
});
