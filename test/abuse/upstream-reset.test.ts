/**
 * Resets in the middle of a transfer, on either side of a tunnel: what arrived before the reset
 * arrives intact, the other side learns of the abort as an abort (a reset, not a clean FIN that
 * would make a truncated download look complete), the session ends with the reason, and nothing
 * is left behind.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { connectTo, startFerry } from '../helpers/net.js';
import { ChannelLog } from '../helpers/events.js';
import { connectIPv4, GREETING_NOAUTH } from '../helpers/socks5.js';
import { channelNames, type SessionEvent } from '../../src/observability/channels.js';

const patternAt = (i: number): number => (i * 13 + 7) & 0xff;
const pattern = (from: number, n: number): Buffer =>
  Buffer.from(Array.from({ length: n }, (_, i) => patternAt(from + i)));

/** Watches a socket from the start: what it reads, whether it ended cleanly (FIN) or in error. */
function watch(socket: net.Socket): {
  chunks: Buffer[];
  gone: Promise<{ data: Buffer; ended: boolean; error: string | undefined }>;
} {
  const chunks: Buffer[] = [];
  let ended = false;
  let error: string | undefined;
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('end', () => {
    ended = true;
    socket.end();
  });
  socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  const timer = setTimeout(() => socket.destroy(new Error('the tunnel never ended')), 10_000);
  // Not events.once: it rejects on 'error', and a reset is what some tests wait for.
  const gone = new Promise((resolve) => socket.once('close', resolve)).then(() => {
    clearTimeout(timer);
    return { data: Buffer.concat(chunks), ended, error };
  });
  return { chunks, gone };
}

describe('resets mid-transfer', () => {
  let ferry: Awaited<ReturnType<typeof startFerry>>;
  let upstream: net.Server;
  let upstreamPort = 0;
  /** What the next upstream connection does. */
  let behaviour: (s: net.Socket) => void = () => undefined;
  before(async () => {
    ferry = await startFerry();
    upstream = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => undefined);
      behaviour(s);
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    upstreamPort = (upstream.address() as net.AddressInfo).port;
  });
  after(async () => {
    await ferry.close();
    upstream.close();
  });

  /** A tunnel through ferry, watched from its first octet; `gone` gives what came after the reply. */
  async function tunnel(): Promise<{ socket: net.Socket; gone: ReturnType<typeof watch>['gone'] }> {
    const socket = await connectTo(ferry.port);
    const watched = watch(socket);
    socket.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', upstreamPort)]));
    const received = (): number => watched.chunks.reduce((n, c) => n + c.length, 0);
    for (let i = 0; i < 500 && received() < 12; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(Buffer.concat(watched.chunks)[3], 0x00, 'CONNECT failed');
    const gone = watched.gone.then((r) => ({ ...r, data: r.data.subarray(12) }));
    return { socket, gone };
  }

  it('the upstream resets after 256 KiB: the client gets every octet sent before, then a reset', async () => {
    const ends = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    const SENT = 256 * 1024;
    behaviour = (s) => {
      s.write(pattern(0, SENT), () => {
        setTimeout(() => s.resetAndDestroy(), 50);
      });
    };
    try {
      const result = await (await tunnel()).gone;
      assert.ok(result.data.equals(pattern(0, result.data.length)), 'corrupted');
      assert.equal(result.data.length, SENT, 'octets sent before the reset were lost');
      assert.equal(result.ended, false, 'the abort looked like a clean end of stream');
      assert.equal(result.error, 'ECONNRESET');
      const end = await ends.waitFor((e) => e.session.destination === `127.0.0.1:${upstreamPort}`);
      assert.equal(end.session.error, 'ECONNRESET');
      assert.equal(end.session.bytesDown, SENT);
    } finally {
      ends.close();
    }
    assert.equal(ferry.server.stats.active, 0);
  });

  it('the client resets while uploading: the upstream gets a reset, not a clean end', async () => {
    let upstreamSide: ReturnType<typeof watch>['gone'] | undefined;
    behaviour = (s) => {
      upstreamSide = watch(s).gone;
    };
    const { socket: client } = await tunnel();
    client.on('error', () => undefined);
    client.write(pattern(0, 64 * 1024));
    await new Promise((r) => setTimeout(r, 100));
    client.resetAndDestroy();
    for (let i = 0; i < 50 && upstreamSide === undefined; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.ok(upstreamSide !== undefined);
    const result = await upstreamSide;
    assert.ok(result.data.equals(pattern(0, result.data.length)), 'corrupted');
    assert.equal(result.ended, false, 'the abort looked like a clean end of stream');
    assert.equal(result.error, 'ECONNRESET');
    for (let i = 0; i < 50 && ferry.server.stats.active > 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(ferry.server.stats.active, 0);
  });

  it('a clean close after a reset elsewhere is still clean: FIN stays FIN', async () => {
    behaviour = (s) => {
      s.end(pattern(0, 1000));
    };
    const result = await (await tunnel()).gone;
    assert.equal(result.data.length, 1000);
    assert.equal(result.ended, true);
    assert.equal(result.error, undefined);
  });
});
