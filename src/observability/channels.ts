/**
 * The library does not log (DESIGN.md rule 9): it publishes on these `node:diagnostics_channel`
 * channels, which cost nothing without subscribers. The CLI subscribes and turns them into pino
 * log lines and Prometheus metrics. No payload ever carries a password.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { SessionRecord } from '../server/session-record.js';

/** Names are stable API: `ferry:<area>:<event>`. */
export const channelNames = {
  serverListening: 'ferry:server:listening',
  serverClosing: 'ferry:server:closing',
  serverClosed: 'ferry:server:closed',
  connectionRejected: 'ferry:connection:rejected',
  sessionStart: 'ferry:session:start',
  sessionEnd: 'ferry:session:end',
  auth: 'ferry:session:auth',
  authThrottled: 'ferry:auth:throttled',
  bindRefused: 'ferry:bind:refused',
  udpDropped: 'ferry:udp:dropped',
  httpRequest: 'ferry:http:request',
  ruleDenied: 'ferry:rule:denied',
} as const;

export interface ListeningEvent {
  readonly addresses: readonly { address: string; family: string; port: number }[];
}
export interface ClosingEvent {
  readonly active: number;
  readonly drainTimeout: number;
}
export interface ClosedEvent {
  /** Sessions still open at the drain deadline, closed by force. */
  readonly forced: number;
}
export interface ConnectionRejectedEvent {
  readonly reason: 'max-connections' | 'per-ip-limit' | 'closing';
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}
export interface SessionEvent {
  readonly session: Readonly<SessionRecord>;
}
export interface AuthEvent {
  readonly session: Readonly<SessionRecord>;
  readonly method: 'none' | 'username' | 'gssapi';
  /** The user name as the client sent it (never the password). */
  readonly user: string | undefined;
  readonly success: boolean;
  /** True when the attempt was refused by the failure throttle, without checking the password. */
  readonly throttled: boolean;
}
export interface AuthThrottledEvent {
  readonly clientAddress: string;
  /** Failures counted in the window when it tripped. */
  readonly failures: number;
  /** The window in ms; attempts fail at once until it ends. */
  readonly window: number;
}

/**
 * BIND: a connection to the listening socket was refused (reset) — from another address than
 * DST.ADDR (`address`), or denied by the access rules (`rule`) — and the wait goes on.
 */
export interface BindRefusedEvent {
  readonly session: Readonly<SessionRecord>;
  readonly peerAddress: string;
  readonly peerPort: number;
  readonly reason: 'address' | 'rule';
  /** The addresses the client named (DST.ADDR, resolved and allowed); empty for "any". */
  readonly expected: readonly string[];
}
/**
 * UDP ASSOCIATE: datagrams dropped (one event per drop decision; `count` > 1 when a fragment queue
 * is abandoned). The CLI does not log these (a flood would flood the log); the access line has
 * the totals by reason.
 */
export interface UdpDroppedEvent {
  readonly session: Readonly<SessionRecord>;
  readonly reason: string;
  readonly count: number;
  /** The source of the datagram that was dropped, when one was (`ip:port`). */
  readonly from: string | undefined;
}

/**
 * A request was denied by an access rule (SOCKS5/SOCKS4 request, BIND, HTTP CONNECT or one
 * forwarded HTTP request — a keep-alive HTTP connection may see several). UDP datagrams denied by
 * a rule are counted as drops (`ferry:udp:dropped`, reason `denied`) instead: a flood must not
 * become an event per datagram.
 */
export interface RuleDeniedEvent {
  readonly session: Readonly<SessionRecord>;
  /** The rule's name (`default` for the default action). */
  readonly rule: string;
}

/** One forwarded HTTP request, published when its exchange ends (a connection carries several). */
export interface HttpRequestEvent {
  readonly session: Readonly<SessionRecord>;
  readonly method: string;
  /** `host:port` the request went to. */
  readonly destination: string;
  /** The status sent to the client; undefined when the exchange broke before a response. */
  readonly status: number | undefined;
  /** Request and response body octets carried. */
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly durationMs: number;
  /** A stable error code when the exchange failed (errno, HPE_*, ERR_SOCKS_*). */
  readonly error: string | undefined;
}

export const channels = {
  serverListening: diagnosticsChannel.channel(channelNames.serverListening),
  serverClosing: diagnosticsChannel.channel(channelNames.serverClosing),
  serverClosed: diagnosticsChannel.channel(channelNames.serverClosed),
  connectionRejected: diagnosticsChannel.channel(channelNames.connectionRejected),
  sessionStart: diagnosticsChannel.channel(channelNames.sessionStart),
  sessionEnd: diagnosticsChannel.channel(channelNames.sessionEnd),
  auth: diagnosticsChannel.channel(channelNames.auth),
  authThrottled: diagnosticsChannel.channel(channelNames.authThrottled),
  bindRefused: diagnosticsChannel.channel(channelNames.bindRefused),
  udpDropped: diagnosticsChannel.channel(channelNames.udpDropped),
  httpRequest: diagnosticsChannel.channel(channelNames.httpRequest),
  ruleDenied: diagnosticsChannel.channel(channelNames.ruleDenied),
} as const;

/** Publishes only when someone listens, so building the payload costs nothing otherwise. */
export function publish(channel: diagnosticsChannel.Channel, make: () => unknown): void {
  if (channel.hasSubscribers) channel.publish(make());
}
