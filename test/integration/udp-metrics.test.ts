/** Prometheus metrics of BIND and UDP ASSOCIATE, built from the session-end events. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startFerry } from '../helpers/net.js';
import { CMD_BIND, CMD_UDP, command, request, udpDatagram } from '../helpers/socks5-commands.js';
import { startUdpEcho, UdpEndpoint } from '../helpers/udp.js';
import { ChannelLog } from '../helpers/events.js';
import { parsePrometheus, sum } from '../helpers/prometheus.js';
import { createMetrics } from '../../src/observability/metrics.js';
import type { SessionEvent } from '../../src/observability/channels.js';

describe('metrics for BIND and UDP', () => {
  it('udp datagrams and bytes by direction, drops by reason, BIND refusals', async () => {
    const metrics = createMetrics({ sessions: () => [] }, { defaultMetrics: false });
    using ended = new ChannelLog<SessionEvent>('ferry:session:end');
    const ferry = await startFerry();
    const echo = await startUdpEcho('127.0.0.1');
    const client = await UdpEndpoint.open('127.0.0.1');
    try {
      const udp = await command(ferry.port, request(CMD_UDP, '127.0.0.1', client.port));
      await client.send(Buffer.from('bad'), udp.reply.port, udp.reply.host);
      await client.send(
        udpDatagram('127.0.0.1', echo.port, 'four'),
        udp.reply.port,
        udp.reply.host,
      );
      await client.receive();
      udp.reader.socket.destroy();

      const bind = await command(ferry.port, request(CMD_BIND, '127.0.0.1', 0));
      const intruder = net.connect({
        port: bind.reply.port,
        host: '127.0.0.1',
        localAddress: '127.0.0.2',
      });
      intruder.on('error', () => undefined);
      intruder.resume();
      await new Promise((resolve) => intruder.once('close', resolve));
      bind.reader.socket.destroy();

      await ended.waitFor((e) => e.session.command === 'udp');
      await ended.waitFor((e) => e.session.command === 'bind' && e.session.bindRefused === 1);
      const samples = parsePrometheus(await metrics.registry.metrics());
      assert.equal(sum(samples, 'ferry_udp_datagrams_total', { direction: 'up' }), 1);
      assert.equal(sum(samples, 'ferry_udp_datagrams_total', { direction: 'down' }), 1);
      assert.equal(sum(samples, 'ferry_udp_bytes_total', { direction: 'up' }), 4);
      assert.equal(sum(samples, 'ferry_udp_bytes_total', { direction: 'down' }), 4);
      assert.equal(sum(samples, 'ferry_udp_dropped_total', { reason: 'malformed' }), 1);
      assert.equal(sum(samples, 'ferry_bind_refused_total'), 1);
    } finally {
      metrics.close();
      client.close();
      echo.close();
      await ferry.close();
    }
  });
});
