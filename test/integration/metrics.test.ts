/** The admin endpoint: /metrics moves with traffic and parses as Prometheus text; probes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { serve } from '../helpers/cli.js';
import { connectTo, Reader, startEcho } from '../helpers/net.js';
import { connectIPv4, GREETING_NOAUTH, parseReply } from '../helpers/socks5.js';
import { parsePrometheus, sum } from '../helpers/prometheus.js';

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

describe('admin endpoint', () => {
  it('/metrics counts sessions, replies and bytes; /readyz goes 503 while draining', async () => {
    const echo = await startEcho();
    const { child, port, logs } = await serve(['--admin', '127.0.0.1:0', '--drain-timeout', '5s']);
    try {
      const adminLine = await logs.waitFor((l) => l.event === 'admin');
      const base = `http://${String(adminLine.address)}`;
      assert.equal((await get(`${base}/healthz`)).status, 200);
      assert.equal((await get(`${base}/readyz`)).status, 200);
      assert.equal((await get(`${base}/nope`)).status, 404);
      const before = parsePrometheus((await get(`${base}/metrics`)).text);
      assert.equal(sum(before, 'ferry_sessions_total'), 0);

      for (let i = 0; i < 3; i++) {
        const socket = await connectTo(port);
        const reader = new Reader(socket);
        socket.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', echo.port)]));
        assert.equal(parseReply((await reader.read(12)).subarray(2)).rep, 0);
        socket.write('12345');
        await reader.read(5);
        socket.end();
        await reader.readToEnd();
      }
      await logs.waitFor(() => logs.lines.filter((l) => l.event === 'access').length === 3);
      const live = await connectTo(port); // one session open during the scrape
      await new Promise((r) => setTimeout(r, 50));
      const after = parsePrometheus((await get(`${base}/metrics`)).text);
      assert.equal(
        sum(after, 'ferry_sessions_total', { dialect: 'socks5', command: 'connect' }),
        3,
      );
      assert.equal(sum(after, 'ferry_replies_total', { code: '00' }), 3);
      assert.equal(sum(after, 'ferry_bytes_total', { direction: 'up' }), 15);
      assert.equal(sum(after, 'ferry_bytes_total', { direction: 'down' }), 15);
      assert.equal(sum(after, 'ferry_handshake_duration_seconds_count'), 3);
      assert.equal(sum(after, 'ferry_connect_duration_seconds_count', { result: 'ok' }), 3);
      assert.equal(sum(after, 'ferry_sessions_active'), 1);
      assert.ok(
        after.some((s) => s.name === 'process_resident_memory_bytes'),
        'process metrics',
      );
      assert.ok(
        after.some((s) => s.name.startsWith('nodejs_eventloop_lag')),
        'event-loop lag',
      );
      assert.ok(
        !after.some((s) => 'destination' in s.labels || 'user' in s.labels),
        'no high-cardinality labels',
      );

      child.kill('SIGTERM');
      await logs.waitFor((l) => l.event === 'draining');
      assert.equal((await get(`${base}/readyz`)).status, 503);
      live.destroy();
      await once(child, 'exit');
    } finally {
      child.kill('SIGKILL');
      await echo.close();
    }
  });
});
