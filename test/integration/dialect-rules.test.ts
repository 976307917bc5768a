/**
 * The access rules apply to SOCKS4 and HTTP exactly as to SOCKS5: a denied destination gets the
 * dialect's refusal (5B, 403) and no outbound connection is attempted; rules can match by dialect.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectTo, Reader, startFerry, startTripwire } from '../helpers/net.js';
import { ChannelLog } from '../helpers/events.js';
import { readResponse } from '../helpers/http-raw.js';
import { parseSocks4Reply, socks4aRequest, socks4Request } from '../helpers/socks4.js';
import { compilePolicy } from '../../src/rules/index.js';
import { channelNames, type SessionEvent } from '../../src/observability/channels.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { parsePrometheus, sum } from '../helpers/prometheus.js';
import { connectIPv4, GREETING_NOAUTH, parseReply } from '../helpers/socks5.js';

describe('access rules in the SOCKS4 and HTTP dialects', () => {
  let ferry: Awaited<ReturnType<typeof startFerry>>;
  let wire: Awaited<ReturnType<typeof startTripwire>>;
  before(async () => {
    wire = await startTripwire();
    ferry = await startFerry({
      rules: compilePolicy({
        default: 'allow',
        rules: [
          { name: 'no-socks4', action: 'deny', dialect: 'socks4' },
          { name: 'no-private', action: 'deny', destination: 'private' },
        ],
      }),
    });
  });
  after(async () => {
    await ferry.close();
    await wire.close();
  });

  it('SOCKS4 denied by a dialect rule: 5B, logged with the rule, nothing dialed', async () => {
    using ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    for (const req of [
      socks4Request(0x01, '127.0.0.1', wire.port),
      socks4aRequest(0x01, 'localhost', wire.port),
    ]) {
      const socket = await connectTo(ferry.port);
      const reader = new Reader(socket);
      socket.write(req);
      assert.equal(parseSocks4Reply(await reader.read(8)).cd, 0x5b);
      socket.destroy();
    }
    const { session } = await ended.waitFor((m) => m.session.dialect === 'socks4');
    assert.equal(session.endReason, 'denied');
    assert.equal(session.rule, 'no-socks4');
    assert.equal(session.reply, 0x02);
    assert.equal(wire.hits(), 0);
  });

  it('HTTP forwarding to a private address: 403, the rule in the log only, nothing dialed', async () => {
    using ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    const c = new Reader(await connectTo(ferry.port));
    const localPort = c.socket.localPort;
    c.socket.write(`GET http://127.0.0.1:${wire.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`);
    const r = await readResponse(c);
    assert.equal(r.status, 403);
    // The client learns the REP meaning, not the operator's rule names.
    assert.match(r.body.toString(), /connection not allowed by ruleset \(ERR_SOCKS_NOT_ALLOWED\)/);
    // The connection stays usable for allowed requests (a 403 is not a protocol error).
    c.socket.write(`GET http://localhost.:${wire.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal(
      (await readResponse(c)).status,
      403,
      'a name resolving to loopback is checked too',
    );
    c.socket.destroy();
    const { session } = await ended.waitFor((m) => m.session.clientPort === localPort);
    assert.equal(session.rule, 'no-private');
    assert.equal(session.httpStatus, 403);
    assert.equal(wire.hits(), 0);
  });

  it('HTTP CONNECT to a private address: 403, then close', async () => {
    const c = new Reader(await connectTo(ferry.port));
    c.socket.write(`CONNECT 127.0.0.1:${wire.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const r = await readResponse(c);
    assert.equal(r.status, 403);
    assert.ok(await c.closed());
    assert.equal(wire.hits(), 0);
  });

  it('every denial counts in ferry_rule_denials_total by rule, several per HTTP connection', async () => {
    const metrics = createMetrics({ sessions: () => [] }, { defaultMetrics: false });
    try {
      // SOCKS5: one denial, the session ends.
      const s5 = new Reader(await connectTo(ferry.port));
      s5.socket.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', wire.port)]));
      assert.equal(parseReply((await s5.read(12)).subarray(2)).rep, 0x02);
      assert.ok(await s5.closed());
      // SOCKS4, by the dialect rule.
      const s4 = new Reader(await connectTo(ferry.port));
      s4.socket.write(socks4Request(0x01, '127.0.0.1', wire.port));
      assert.equal(parseSocks4Reply(await s4.read(8)).cd, 0x5b);
      s4.socket.destroy();
      // HTTP: three forwarded requests denied on one keep-alive connection — three denials,
      // although the session ends only once (and not as "denied").
      const h = new Reader(await connectTo(ferry.port));
      for (let i = 0; i < 3; i++) {
        h.socket.write(`GET http://127.0.0.1:${wire.port}/${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
        assert.equal((await readResponse(h)).status, 403);
      }
      h.socket.destroy();
      const samples = parsePrometheus(await metrics.registry.metrics());
      assert.equal(sum(samples, 'ferry_rule_denials_total', { rule: 'no-private' }), 4);
      assert.equal(sum(samples, 'ferry_rule_denials_total', { rule: 'no-socks4' }), 1);
      assert.equal(wire.hits(), 0);
    } finally {
      metrics.close();
    }
  });
});
