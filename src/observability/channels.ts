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
  /** GSS-API: the error code of a failed context (e.g. `ERR_SOCKS_GSSAPI`). */
  readonly error?: string;
}
export interface AuthThrottledEvent {
  readonly clientAddress: string;
  /** Failures counted in the window when it tripped. */
  readonly failures: number;
  /** The window in ms; attempts fail at once until it ends. */
  readonly window: number;
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
} as const;

/** Publishes only when someone listens, so building the payload costs nothing otherwise. */
export function publish(channel: diagnosticsChannel.Channel, make: () => unknown): void {
  if (channel.hasSubscribers) channel.publish(make());
}
