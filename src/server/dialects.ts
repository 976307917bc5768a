/**
 * The first octet a client sends picks the dialect it speaks (SOCKS.md, "HTTP CONNECT"):
 * 05 SOCKS5, 04 SOCKS4/4a, an ASCII letter HTTP (every method is a token starting with one in
 * practice: GET, CONNECT, ...). Anything else is closed unanswered and counted
 * (`unknown-protocol`); a known dialect switched off by the `protocols` option is closed the same
 * way (`protocol-disabled`), so a disabled dialect is indistinguishable from an unknown one.
 */
import { SOCKS5_VERSION } from '../protocol/constants.js';
import { SOCKS4_VERSION } from '../protocol/socks4.js';
import type { Connection } from './connection.js';
import type { Dialect } from './session-record.js';
import { Socks5Handler } from './socks5.js';
import { Socks4Handler } from './socks4.js';
import { HttpHandler } from './http.js';
import { startsWithProxyHeader } from '../protocol/proxy-protocol.js';

/** A dialect handler takes over the socket's 'data' events and is fed the first chunk. */
export interface DialectHandler {
  receive(chunk: Uint8Array): void;
}

type DialectFactory = (conn: Connection) => DialectHandler;

const factories: Readonly<Record<Dialect, DialectFactory>> = {
  socks5: (conn) => new Socks5Handler(conn),
  socks4: (conn) => new Socks4Handler(conn),
  http: (conn) => new HttpHandler(conn),
};

const isAsciiLetter = (octet: number): boolean =>
  (octet >= 0x41 && octet <= 0x5a) || (octet >= 0x61 && octet <= 0x7a);

/** The dialect a first octet announces, or undefined for an unknown protocol. */
export function dialectOf(firstOctet: number): Dialect | undefined {
  if (firstOctet === SOCKS5_VERSION) return 'socks5';
  if (firstOctet === SOCKS4_VERSION) return 'socks4';
  if (isAsciiLetter(firstOctet)) return 'http';
  return undefined;
}

/**
 * Picks the factory for a first octet among the `enabled` dialects (default: all), or undefined
 * for an unknown or disabled protocol.
 */
export function dialectFor(
  firstOctet: number,
  enabled: readonly Dialect[] = ['socks5', 'socks4', 'http'],
): DialectFactory | undefined {
  const dialect = dialectOf(firstOctet);
  return dialect !== undefined && enabled.includes(dialect) ? factories[dialect] : undefined;
}

export interface DetectOptions {
  /** Bytes already read (after a PROXY header): detect from them before reading more. */
  readonly initial?: Uint8Array | undefined;
  /**
   * On a PROXY-protocol listener, a client that is not a trusted balancer but sends a PROXY
   * header is refused: it would otherwise be trying to choose its own address.
   */
  readonly refuseProxyHeader?: boolean | undefined;
}

/** Waits for the first chunk, then hands the connection to its dialect. */
export function detectDialect(conn: Connection, options: DetectOptions = {}): void {
  const socket = conn.socket;
  const start = (chunk: Uint8Array): void => {
    if (options.refuseProxyHeader === true && startsWithProxyHeader(chunk) === true) {
      conn.closeWith(undefined, 'untrusted-proxy-header', 'ERR_SOCKS_UNTRUSTED_PROXY_HEADER');
      return;
    }
    const first = chunk[0] ?? -1;
    const factory = dialectFor(first, conn.server.options.protocols);
    if (factory === undefined) {
      const known = dialectOf(first);
      if (known === undefined) {
        conn.closeWith(undefined, 'unknown-protocol', 'ERR_SOCKS_UNKNOWN_PROTOCOL');
      } else {
        conn.record.dialect = known;
        conn.closeWith(undefined, 'protocol-disabled', 'ERR_SOCKS_PROTOCOL_DISABLED');
      }
      return;
    }
    factory(conn).receive(chunk);
  };
  if (options.initial !== undefined && options.initial.length > 0) {
    start(options.initial);
    return;
  }
  const onFirst = (chunk: Buffer): void => {
    socket.off('data', onFirst);
    socket.off('end', onEnd);
    start(chunk);
  };
  const onEnd = (): void => {
    conn.closeWith(undefined, 'client-closed');
  };
  socket.on('data', onFirst);
  socket.once('end', onEnd);
}
