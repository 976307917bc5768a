/**
 * Prometheus metrics built from the library's diagnostics_channel events (the library itself
 * never imports prom-client). Labels are bounded: dialect, command, reply code, reason, method —
 * never a destination or a user (cardinality).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  channelNames,
  type AuthEvent,
  type ConnectionRejectedEvent,
  type RuleDeniedEvent,
  type SessionEvent,
} from './channels.js';
import type { SessionRecord } from '../server/session-record.js';

export interface MetricsSource {
  /** Live sessions, read at scrape time for the active-sessions gauge. */
  sessions(): readonly Readonly<SessionRecord>[];
}

const replyLabel = (code: number | undefined): string =>
  code === undefined ? 'none' : code.toString(16).padStart(2, '0');

/**
 * Registers ferry's metrics (and Node's process/event-loop metrics) on a new registry and
 * subscribes them to the channels. `close()` unsubscribes.
 */
export function createMetrics(
  source: MetricsSource,
  options: { prefix?: string; defaultMetrics?: boolean } = {},
): {
  registry: Registry;
  close: () => void;
} {
  const p = options.prefix ?? 'ferry_';
  const registry = new Registry();
  if (options.defaultMetrics !== false)
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });

  new Gauge({
    name: `${p}sessions_active`,
    help: 'Client connections open now, by dialect and command (unknown while handshaking).',
    labelNames: ['dialect', 'command'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of source.sessions())
        this.inc({ dialect: s.dialect ?? 'unknown', command: s.command ?? 'none' });
    },
  });
  const sessions = new Counter({
    name: `${p}sessions_total`,
    help: 'Sessions ended, by dialect, command and why they ended.',
    labelNames: ['dialect', 'command', 'end'],
    registers: [registry],
  });
  const replies = new Counter({
    name: `${p}replies_total`,
    help: 'Replies sent, by SOCKS5 reply code (hex; SOCKS4 and HTTP mapped to their SOCKS5 meaning).',
    labelNames: ['code'],
    registers: [registry],
  });
  const bytes = new Counter({
    name: `${p}bytes_total`,
    help: 'Bytes relayed, by direction (up = client to destination).',
    labelNames: ['direction'],
    registers: [registry],
  });
  const handshake = new Histogram({
    name: `${p}handshake_duration_seconds`,
    help: 'From accept to the first reply (or refusal).',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const connect = new Histogram({
    name: `${p}connect_duration_seconds`,
    help: 'Outgoing connect time (including DNS), by outcome.',
    labelNames: ['result'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const auth = new Counter({
    name: `${p}auth_total`,
    help: 'Authentication attempts, by method and result.',
    labelNames: ['method', 'result'],
    registers: [registry],
  });
  const rejected = new Counter({
    name: `${p}connections_rejected_total`,
    help: 'Connections closed at accept, by reason.',
    labelNames: ['reason'],
    registers: [registry],
  });
  const udpDatagrams = new Counter({
    name: `${p}udp_datagrams_total`,
    help: 'UDP datagrams relayed for UDP ASSOCIATE, by direction (counted when the association ends).',
    labelNames: ['direction'],
    registers: [registry],
  });
  const udpBytes = new Counter({
    name: `${p}udp_bytes_total`,
    help: 'UDP DATA octets relayed, by direction (counted when the association ends).',
    labelNames: ['direction'],
    registers: [registry],
  });
  const udpDropped = new Counter({
    name: `${p}udp_dropped_total`,
    help: 'UDP datagrams dropped, by reason (source, malformed, denied, fragment-timeout, ...).',
    labelNames: ['reason'],
    registers: [registry],
  });
  const bindRefused = new Counter({
    name: `${p}bind_refused_total`,
    help: 'BIND: connections refused for coming from an unexpected peer.',
    registers: [registry],
  });
  const denials = new Counter({
    name: `${p}rule_denials_total`,
    help: 'Requests denied by an access rule, by rule name.',
    labelNames: ['rule'],
    registers: [registry],
  });

  const onEnd = (m: unknown): void => {
    const s = (m as SessionEvent).session;
    sessions.inc({
      dialect: s.dialect ?? 'unknown',
      command: s.command ?? 'none',
      end: s.endReason ?? 'unknown',
    });
    if (s.reply !== undefined) replies.inc({ code: replyLabel(s.reply) });
    if (s.bytesUp > 0) bytes.inc({ direction: 'up' }, s.bytesUp);
    if (s.bytesDown > 0) bytes.inc({ direction: 'down' }, s.bytesDown);
    if (s.handshakeMs !== undefined) handshake.observe(s.handshakeMs / 1000);
    if (s.connectMs !== undefined)
      connect.observe({ result: s.reply === 0 ? 'ok' : 'error' }, s.connectMs / 1000);
    if (s.bindRefused !== undefined) bindRefused.inc(s.bindRefused);
    const udp = s.udp;
    if (udp !== undefined) {
      if (udp.datagramsUp > 0) udpDatagrams.inc({ direction: 'up' }, udp.datagramsUp);
      if (udp.datagramsDown > 0) udpDatagrams.inc({ direction: 'down' }, udp.datagramsDown);
      if (udp.bytesUp > 0) udpBytes.inc({ direction: 'up' }, udp.bytesUp);
      if (udp.bytesDown > 0) udpBytes.inc({ direction: 'down' }, udp.bytesDown);
      for (const [reason, n] of Object.entries(udp.dropped)) udpDropped.inc({ reason }, n);
    }
  };
  const onAuth = (m: unknown): void => {
    const e = m as AuthEvent;
    auth.inc({ method: e.method, result: e.success ? 'success' : 'failure' });
  };
  const onRejected = (m: unknown): void => {
    rejected.inc({ reason: (m as ConnectionRejectedEvent).reason });
  };
  const onDenied = (m: unknown): void => {
    denials.inc({ rule: (m as RuleDeniedEvent).rule });
  };
  const subs: [string, (m: unknown) => void][] = [
    [channelNames.ruleDenied, onDenied],
    [channelNames.sessionEnd, onEnd],
    [channelNames.auth, onAuth],
    [channelNames.connectionRejected, onRejected],
  ];
  for (const [name, fn] of subs) diagnosticsChannel.subscribe(name, fn);
  return {
    registry,
    close: () => {
      for (const [name, fn] of subs) diagnosticsChannel.unsubscribe(name, fn);
    },
  };
}
