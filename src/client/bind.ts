/**
 * `bind()`: RFC 1928 §4 BIND (and SOCKS4 CD 02) — ask the last proxy to accept one incoming
 * connection for us, as active FTP needs. Two replies: the first says where the proxy listens
 * (tell the peer to connect there), the second who connected; then the socket carries that
 * connection's bytes.
 */
import { socksAddress, type SocksAddress } from '../protocol/address.js';
import { Command } from '../protocol/constants.js';
import type { SocksProxy } from './proxy.js';
import {
  checkDestination,
  checkTimeout,
  guarded,
  handOver,
  openTunnel,
  type Destination,
  type OpenTunnel,
  type TunnelOptions,
  type TunnelSocket,
} from './tunnel.js';

export interface BindOptions extends TunnelOptions {
  /**
   * DST.ADDR/DST.PORT of the request: the application server the peer belongs to, which the
   * proxy may use to check who connects (SOCKS4 servers compare the peer's IP with it).
   * Default `0.0.0.0:0`: no expectation.
   */
  readonly destination?: Destination;
  /**
   * Milliseconds to wait for the peer after the first reply. Default `Infinity`: as long as the
   * proxy waits (Dante and ferry have their own limit). `signal` still applies.
   */
  readonly acceptTimeout?: number;
}

/** The connection a BIND accepted. */
export interface SocksIncoming {
  /** The socket to the (first) proxy, now carrying the peer's bytes; see SocksConnection. */
  readonly socket: TunnelSocket;
  /** The peer's address, from the second reply. */
  readonly remote: SocksAddress;
}

/** A BIND in progress. */
export interface SocksBind {
  /**
   * Where the proxy listens for the peer (first reply). When the proxy says 0.0.0.0 or `::`
   * ("my own address"), this is the proxy's address as we reached it.
   */
  readonly bound: SocksAddress;
  /** Resolves when the peer has connected (second reply); rejects like connect() does. */
  readonly incoming: Promise<SocksIncoming>;
  readonly proxies: readonly SocksProxy[];
  /** Gives up: closes the control connection; `incoming` rejects with SocksAbortError. */
  close(): void;
}

const UNSPECIFIED_HOSTS: ReadonlySet<string> = new Set(['0.0.0.0', '::']);

/** The SOCKS4 rule (and common SOCKS5 practice): an unspecified bound address means the proxy's. */
export function proxyAddressIfUnspecified(tunnel: OpenTunnel, address: SocksAddress): SocksAddress {
  if (!UNSPECIFIED_HOSTS.has(address.host)) return address;
  const last = tunnel.proxies[tunnel.proxies.length - 1];
  const host =
    tunnel.proxies.length === 1 && tunnel.socket.remoteAddress !== undefined
      ? tunnel.socket.remoteAddress
      : (last?.host ?? address.host);
  return socksAddress(host, address.port);
}

/**
 * Asks the (last) proxy to accept one connection; resolves after the first reply.
 * @throws the same errors as connect(), for the handshake up to the first reply.
 */
export async function bind(options: BindOptions): Promise<SocksBind> {
  const destination = checkDestination(
    options.destination ?? { host: '0.0.0.0', port: 0 },
    'destination',
  );
  const acceptTimeout = checkTimeout(options.acceptTimeout ?? Infinity, 'acceptTimeout');
  const tunnel = await openTunnel(options, Command.Bind, destination);
  const closer = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, closer.signal]) : closer.signal;
  const incoming = guarded(
    acceptTimeout,
    signal,
    () => `${tunnel.handshake.label}: waiting for the peer`,
    async (own) => {
      own(tunnel.socket);
      const second = await tunnel.handshake.nextReply();
      return { socket: handOver(tunnel), remote: second.bound };
    },
  );
  incoming.catch(() => undefined); // the caller may never wait for it; not an unhandled rejection
  return {
    bound: proxyAddressIfUnspecified(tunnel, tunnel.bound),
    incoming,
    proxies: tunnel.proxies,
    close: () => {
      closer.abort(new Error('closed by the caller'));
      tunnel.socket.destroy();
    },
  };
}
