/**
 * What the server knows about one client connection, kept up to date as it progresses and
 * published whole when it ends (the access log line and the metrics are built from it).
 */
import type { CommandName } from '../protocol/constants.js';

export type Dialect = 'socks5' | 'socks4' | 'http';

export interface SessionRecord {
  readonly id: number;
  /** Epoch milliseconds at accept. */
  readonly startedAt: number;
  /** The client's address: the socket's peer, or the one a trusted PROXY protocol header names. */
  clientAddress: string;
  clientPort: number;
  /** With the PROXY protocol: the balancer the connection came through (`ip:port`). */
  via: string | undefined;
  /** The listener's address and port that accepted the connection. */
  readonly localAddress: string;
  readonly localPort: number;
  dialect: Dialect | undefined;
  /** Authentication method name once chosen. */
  method: 'none' | 'username' | 'gssapi' | undefined;
  /**
   * GSS-API only: the protection level agreed (RFC 1961 §4), `clear`, `integrity` or
   * `confidentiality`.
   */
  protection: 'clear' | 'integrity' | 'confidentiality' | undefined;
  /** The authenticated user (a GSS-API session's: the client's Kerberos principal). */
  user: string | undefined;
  command: CommandName | undefined;
  /** The destination as the client asked for it (`host:port`). */
  destination: string | undefined;
  /** The address actually connected to or bound (`ip:port`). */
  remote: string | undefined;
  /** The access rule that decided the request (`default` when none matched). */
  rule: string | undefined;
  /** The reply code sent (SOCKS5 REP); undefined when none was sent. */
  reply: number | undefined;
  bytesUp: number;
  bytesDown: number;
  /** Milliseconds from accept to the end of the handshake (the first reply, or the refusal). */
  handshakeMs: number | undefined;
  /** Milliseconds the outgoing connect took (CONNECT). */
  connectMs: number | undefined;
  /** Milliseconds from accept to end; set when the session ends. */
  duration: number | undefined;
  /** Why it ended: `closed`, `idle-timeout`, `handshake-timeout`, `auth-failed`, ... */
  endReason: string | undefined;
  /** A stable error code when it ended on an error. */
  error: string | undefined;
}

export function newSessionRecord(
  id: number,
  client: { address: string; port: number },
  local: { address: string; port: number },
): SessionRecord {
  return {
    id,
    startedAt: Date.now(),
    clientAddress: client.address,
    clientPort: client.port,
    via: undefined,
    localAddress: local.address,
    localPort: local.port,
    dialect: undefined,
    method: undefined,
    protection: undefined,
    user: undefined,
    command: undefined,
    destination: undefined,
    remote: undefined,
    rule: undefined,
    reply: undefined,
    bytesUp: 0,
    bytesDown: 0,
    handshakeMs: undefined,
    connectMs: undefined,
    duration: undefined,
    endReason: undefined,
    error: undefined,
  };
}
