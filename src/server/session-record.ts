/**
 * What the server knows about one client connection, kept up to date as it progresses and
 * published whole when it ends (the access log line and the metrics are built from it).
 */
import type { CommandName } from '../protocol/constants.js';

export type Dialect = 'socks5' | 'socks4' | 'http';

/** A UDP association's counters (UDP ASSOCIATE sessions only), updated live. */
export interface UdpStats {
  /** Datagrams relayed from the client to destinations, and their DATA octets. */
  datagramsUp: number;
  bytesUp: number;
  /** Datagrams relayed from remote hosts to the client, and their DATA octets. */
  datagramsDown: number;
  bytesDown: number;
  /** Datagrams dropped, by reason (`source`, `malformed`, `fragment-timeout`, ...). */
  dropped: Record<string, number>;
}

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
  /** The authenticated user. */
  user: string | undefined;
  command: CommandName | undefined;
  /** The destination as the client asked for it (`host:port`). */
  destination: string | undefined;
  /** The address actually connected to or bound (`ip:port`). */
  remote: string | undefined;
  /** The access rule that decided the request (`default` when none matched). */
  rule: string | undefined;
  /**
   * The outcome as a SOCKS5 REP code, whatever the dialect (so logs and metrics compare): 00 when
   * the request went through (SOCKS4 `5A`, HTTP `200` to CONNECT or a forwarded response), else
   * the REP its error maps to (SOCKS4 says `5B` to all of them; HTTP 502/504/403). Undefined when
   * no reply was sent (a malformed message, a failed login).
   */
  reply: number | undefined;
  /** HTTP: the status of the last response sent on the connection (ferry's own or forwarded). */
  httpStatus: number | undefined;
  /** SOCKS4 USERID as the client sent it: logged, never trusted as authentication. */
  userId: string | undefined;
  /** HTTP: the method of the last request on the connection. */
  httpMethod: string | undefined;
  /** HTTP: requests received on the connection (a keep-alive connection carries several). */
  httpRequests: number;
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
  /** BIND: connections refused because they came from another address than DST.ADDR. */
  bindRefused?: number;
  /** UDP ASSOCIATE: the association's counters. */
  udp?: UdpStats;
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
    user: undefined,
    command: undefined,
    destination: undefined,
    remote: undefined,
    rule: undefined,
    reply: undefined,
    httpStatus: undefined,
    userId: undefined,
    httpMethod: undefined,
    httpRequests: 0,
    bytesUp: 0,
    bytesDown: 0,
    handshakeMs: undefined,
    connectMs: undefined,
    duration: undefined,
    endReason: undefined,
    error: undefined,
  };
}
