/**
 * SIGTERM during transfers (`ferry serve --drain-timeout 3s`): the listener closes at once, every
 * transfer that finishes within the drain arrives whole and ends cleanly, the ones that cannot
 * finish are cut at the deadline with a reset (so they cannot pass for complete), and the
 * process exits 0.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { serve } from '../helpers/cli.js';
import { connectTo } from '../helpers/net.js';
import { connectIPv4, GREETING_NOAUTH } from '../helpers/socks5.js';

const DRAIN_MS = 3000;
const TOTAL = 2 * 1024 * 1024;
const STEP = 64 * 1024;
const patternAt = (i: number): number => (i * 31 + (i >>> 11)) & 0xff;
const pattern = (from: number, n: number): Buffer =>
  Buffer.from(Array.from({ length: n }, (_, i) => patternAt(from + i)));

/** A source that sends TOTAL octets in STEP pieces every `everyMs`, then FIN; or stalls midway. */
async function source(stallAfter: number | undefined, everyMs: number): Promise<net.Server> {
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    let sent = 0;
    const timer = setInterval(() => {
      if (stallAfter !== undefined && sent >= stallAfter) return; // never finishes
      s.write(pattern(sent, STEP));
      sent += STEP;
      if (sent >= TOTAL) {
        clearInterval(timer);
        s.end();
      }
    }, everyMs);
    s.on('close', () => {
      clearInterval(timer);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

interface Transfer {
  /** Octets of the destination's stream received (after the 12 of the handshake answers). */
  received: number;
  /** The reply was not a success, or an octet differed from the pattern. */
  corrupt: boolean;
  ended: boolean;
  error: string | undefined;
  closed: Promise<void>;
}

async function transfer(ferryPort: number, port: number): Promise<Transfer> {
  const socket = await connectTo(ferryPort);
  const t: Transfer = {
    received: 0,
    corrupt: false,
    ended: false,
    error: undefined,
    closed: Promise.resolve(),
  };
  t.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  let head = Buffer.alloc(0); // 05 00 | 05 REP 00 01 ADDR PORT
  socket.on('data', (chunk: Buffer) => {
    let data = chunk;
    if (head.length < 12) {
      const take = Math.min(12 - head.length, data.length);
      head = Buffer.concat([head, data.subarray(0, take)]);
      data = data.subarray(take);
      if (head.length === 12 && head[3] !== 0x00) t.corrupt = true;
    }
    if (!data.equals(pattern(t.received, data.length))) t.corrupt = true;
    t.received += data.length;
  });
  socket.on('end', () => {
    t.ended = true;
    socket.end();
  });
  socket.on('error', (e: NodeJS.ErrnoException) => (t.error = e.code));
  socket.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', port)]));
  return t;
}

describe('SIGTERM during transfers', () => {
  let paced: net.Server;
  let stalling: net.Server;
  before(async () => {
    paced = await source(undefined, 40); // 32 steps × 40 ms ≈ 1.3 s
    stalling = await source(4 * STEP, 40);
  });
  after(() => {
    paced.close();
    stalling.close();
  });

  it('finishes what finishes within the drain, cuts the rest with a reset, exits 0', async (t) => {
    const ferry = await serve(['--drain-timeout', `${DRAIN_MS / 1000}s`, '--log-level', 'info']);
    const port = (s: net.Server): number => (s.address() as net.AddressInfo).port;
    const finishing = await Promise.all([1, 2, 3, 4].map(() => transfer(ferry.port, port(paced))));
    const cut = await Promise.all([1, 2].map(() => transfer(ferry.port, port(stalling))));
    for (let i = 0; i < 100 && [...finishing, ...cut].some((x) => x.received < STEP); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const signalled = Date.now();
    const exited = once(ferry.child, 'exit');
    ferry.child.kill('SIGTERM');
    await ferry.logs.waitFor((l) => l.event === 'signal');

    // The listener is closed at once: a new client is refused.
    const late = net.connect({ port: ferry.port, host: '127.0.0.1' });
    const [lateError] = (await once(late, 'error')) as [NodeJS.ErrnoException];
    assert.equal(lateError.code, 'ECONNREFUSED');

    await Promise.all([...finishing, ...cut].map((x) => x.closed));
    const [code] = (await exited) as [number | null];
    const tookMs = Date.now() - signalled;
    t.diagnostic(
      `finishing: ${finishing.map((x) => x.received).join(', ')}; cut: ${cut.map((x) => `${x.received} (${x.error ?? 'FIN'})`).join(', ')}; exit ${code} after ${tookMs} ms`,
    );
    for (const x of finishing) {
      assert.equal(x.corrupt, false);
      assert.equal(x.received, TOTAL, 'a transfer that finished within the drain was truncated');
      assert.equal(x.ended, true);
      assert.equal(x.error, undefined);
    }
    for (const x of cut) {
      assert.equal(x.corrupt, false);
      assert.ok(x.received < TOTAL);
      assert.equal(x.ended, false, 'a transfer cut at the deadline looked complete');
    }
    assert.equal(code, 0);
  });
});
