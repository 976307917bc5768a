/**
 * `connect()`: a TCP connection to a destination through one SOCKS proxy or a chain (RFC 1928
 * §4 CONNECT; SOCKS4/4a CD 01), handed back as the raw `net.Socket` after the handshake.
 */
import type { SocksAddress } from '../protocol/address.js';
import { Command } from '../protocol/constants.js';
import type { SocksProxy } from './proxy.js';
import {
  checkDestination,
  handOver,
  openTunnel,
  type Destination,
  type TunnelOptions,
  type TunnelSocket,
} from './tunnel.js';

export interface ConnectOptions extends TunnelOptions {
  /** Where the last proxy should connect to. Names are resolved per the last hop's scheme. */
  readonly destination: Destination;
}

/** An established tunnel. */
export interface SocksConnection {
  /**
   * The TCP socket to the first proxy, now carrying the destination's bytes both ways. It is
   * the real `net.Socket` (`setNoDelay`, `setKeepAlive`, `remoteAddress` — the first proxy's —
   * all work), left neither flowing nor paused; bytes the proxy sent right after its reply are
   * back in its readable buffer, so they are the first you read. From here on it is yours:
   * attach an `'error'` listener.
   *
   * When a hop protects the traffic with GSS-API (integrity or confidentiality), it is instead a
   * `GssapiSocket`: a Duplex over that socket that wraps what you write and unwraps what you
   * read (RFC 1961 §5); its `socket` property is the TCP socket, and setNoDelay, setKeepAlive,
   * setTimeout and the address getters act on it. A message that fails its integrity check
   * destroys it with `ERR_SOCKS_GSSAPI_PROTECTION`.
   */
  readonly socket: TunnelSocket;
  /**
   * BND.ADDR/BND.PORT of the last proxy's reply: for SOCKS5, the address the proxy connected
   * from (RFC 1928 §6); SOCKS4 replies to CONNECT carry nothing meaningful (usually 0.0.0.0:0).
   */
  readonly bound: SocksAddress;
  /** The chain, first hop first. */
  readonly proxies: readonly SocksProxy[];
}

/**
 * Connects to `destination` through `proxy` (or the chain `proxies`).
 *
 * @example
 *   const { socket } = await connect({
 *     proxy: 'socks5h://127.0.0.1:1080',
 *     destination: { host: 'example.com', port: 443 },
 *   });
 * @throws SocksUsageError bad options (synchronously checked, reported as a rejection).
 * @throws SocksConnectionError the first proxy is unreachable or the connection broke
 *   (`ERR_SOCKS_PROXY_CONNECTION`); a name could not be resolved locally (`ERR_SOCKS_RESOLVE`).
 * @throws SocksAuthError no acceptable method, or credentials rejected.
 * @throws SocksReplyError a proxy refused: `reply` holds the code.
 * @throws SocksProtocolError a proxy sent something malformed or closed mid-handshake.
 * @throws SocksTimeoutError the handshake took longer than `timeout` (default 30 s).
 * @throws SocksAbortError `signal` fired.
 */
export async function connect(options: ConnectOptions): Promise<SocksConnection> {
  const destination = checkDestination(options.destination, 'destination');
  const tunnel = await openTunnel(options, Command.Connect, destination);
  const socket = handOver(tunnel);
  return { socket, bound: tunnel.bound, proxies: tunnel.proxies };
}
