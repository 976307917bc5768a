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
  readonly clientAddress: string;
  readonly clientPort: number;
  /** The listener's address and port that accepted the connection. */
  readonly localAddress: string;
  readonly localPort: number;
  dialect: Dialect | undefined;
  /** Authentication method name once chosen. */
  method: 'none' | 'username' | 'gssapi' | undefined;
  /** The authenticated user. */
  user: string | undefined;
  command: CommandName | undefined;
  /** The destination as the client asked for it (`host:port`). */
  destination: string | undefined;
  /** The address actually connected to or bound (`ip:port`). */
  remote: string | undefined;
  /**
   * The reply sent, in the dialect's own terms: SOCKS5 REP, SOCKS4 CD (0x5A granted, 0x5B
   * rejected), HTTP status (of the last response on the connection); undefined when none was sent.
   */
  reply: number | undefined;
  /** SOCKS4 USERID as the client sent it: logged, never trusted as authentication. */
  userId: string | undefined;
  /** HTTP: the method of the last request on the connection. */
  httpMethod: string | undefined;
  /** HTTP: requests received on the connection (a keep-alive connection carries several). */
  httpRequests: number;
  bytesUp: number;
  bytesDown: number;
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
    localAddress: local.address,
    localPort: local.port,
    dialect: undefined,
    method: undefined,
    user: undefined,
    command: undefined,
    destination: undefined,
    remote: undefined,
    reply: undefined,
    userId: undefined,
    httpMethod: undefined,
    httpRequests: 0,
    bytesUp: 0,
    bytesDown: 0,
    duration: undefined,
    endReason: undefined,
    error: undefined,
  };
}
