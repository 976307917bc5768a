/**
 * The first octet a client sends picks the dialect it speaks (SOCKS.md, "HTTP CONNECT"):
 * 05 SOCKS5 — more dialects (04 SOCKS4/4a, an ASCII letter for HTTP) plug in here. Anything else is
 * closed and counted.
 */
import { SOCKS5_VERSION } from '../protocol/constants.js';
import type { Connection } from './connection.js';
import { Socks5Handler } from './socks5.js';
import { startsWithProxyHeader } from '../protocol/proxy-protocol.js';

/** A dialect handler takes over the socket's 'data' events and is fed the first chunk. */
export interface DialectHandler {
  receive(chunk: Uint8Array): void;
}

type DialectFactory = (conn: Connection) => DialectHandler;

/** Picks the factory for a first octet, or undefined for an unknown protocol. */
export function dialectFor(firstOctet: number): DialectFactory | undefined {
  if (firstOctet === SOCKS5_VERSION) return (conn) => new Socks5Handler(conn);
  return undefined;
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
    const factory = dialectFor(chunk[0] ?? -1);
    if (factory === undefined) {
      conn.closeWith(undefined, 'unknown-protocol', 'ERR_SOCKS_UNKNOWN_PROTOCOL');
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
