/**
 * A client that reads 1 MiB/s through ferry while the destination tries to push 1 GiB: ferry
 * must hold the destination back (backpressure end to end) instead of buffering, so its memory
 * for the tunnel stays bounded. ferry runs in a child process, whose RSS is sampled during the
 * transfer; the measurement lasts a few seconds (the source never gets anywhere near 1 GiB —
 * that is the point).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { FerryChild } from '../helpers/ferry-child.js';
import { connectTo } from '../helpers/net.js';
import { connectIPv4, GREETING_NOAUTH } from '../helpers/socks5.js';

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;
const READ_RATE = MiB; // octets per second
const MEASURE_MS = 5000;
/** Generous: Node's per-socket buffers are tens of KiB; 1 GiB buffered would be 1024 MiB. */
const RSS_GROWTH_BOUND = 48 * MiB;
/** Kernel socket buffers on two loopback connections (autotuned to a few MiB each) and ferry's. */
const IN_FLIGHT_BOUND = 64 * MiB;

/** Pattern octet at stream offset i: lets the reader check every octet it gets. */
const patternAt = (i: number): number => (i * 7 + (i >>> 13)) & 0xff;

describe('a slow reader and a fast writer', () => {
  let ferry: FerryChild;
  let source: net.Server;
  let pushed = 0;
  before(async () => {
    ferry = await FerryChild.start({}, { exposeGc: true });
    source = net.createServer((s) => {
      s.on('error', () => undefined);
      const chunk = Buffer.alloc(MiB);
      const write = (): void => {
        while (pushed < GiB) {
          for (let i = 0; i < chunk.length; i++) chunk[i] = patternAt(pushed + i);
          pushed += chunk.length;
          if (!s.write(chunk)) {
            s.once('drain', write);
            return;
          }
        }
        s.end();
      };
      write();
    });
    source.listen(0, '127.0.0.1');
    await once(source, 'listening');
  });
  after(async () => {
    await ferry.close();
    source.close();
  });

  it(`ferry's memory stays bounded while the destination tries to push 1 GiB`, async (t) => {
    const before = await ferry.stats(true);
    const socket = await connectTo(ferry.port);
    const port = (source.address() as net.AddressInfo).port;
    let head = Buffer.alloc(0); // 05 00 | 05 REP 00 01 ADDR PORT, then the source's octets
    let received = 0;
    let corrupt = -1;
    const started = Date.now();
    socket.on('data', (chunk: Buffer) => {
      let data = chunk;
      if (head.length < 12) {
        const take = Math.min(12 - head.length, data.length);
        head = Buffer.concat([head, data.subarray(0, take)]);
        data = data.subarray(take);
      }
      for (let i = 0; i < data.length; i++) {
        if (data[i] !== patternAt(received + i) && corrupt === -1) corrupt = received + i;
      }
      received += data.length;
      // Read at READ_RATE: pause until the clock catches up with what was read.
      const ahead = received / READ_RATE - (Date.now() - started) / 1000;
      if (ahead > 0) {
        socket.pause();
        setTimeout(() => socket.resume(), ahead * 1000);
      }
    });
    socket.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', port)]));
    let maxRss = before.rss;
    let maxInFlight = 0;
    while (Date.now() - started < MEASURE_MS) {
      await new Promise((r) => setTimeout(r, 250));
      const s = await ferry.stats();
      maxRss = Math.max(maxRss, s.rss);
      maxInFlight = Math.max(maxInFlight, pushed - received);
    }
    socket.destroy();
    assert.equal(head[3], 0x00, 'CONNECT failed');
    const growth = maxRss - before.rss;
    t.diagnostic(
      `read ${(received / MiB).toFixed(1)} MiB, source pushed ${(pushed / MiB).toFixed(1)} MiB, ` +
        `at most ${(maxInFlight / MiB).toFixed(1)} MiB in flight; ferry RSS ${(before.rss / MiB).toFixed(1)} → max ${(maxRss / MiB).toFixed(1)} MiB`,
    );
    assert.equal(corrupt, -1, `octet ${corrupt} differs from what the source sent`);
    assert.ok(received > 2 * MiB, 'the reader got too little to be a measurement');
    assert.ok(
      maxInFlight < IN_FLIGHT_BOUND,
      `the source got ${maxInFlight} octets ahead of the reader`,
    );
    assert.ok(growth < RSS_GROWTH_BOUND, `ferry's RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
  });
});
