/**
 * Opens a TCP connection to the first proxy and runs each hop's handshake over it: every hop
 * but the last is a CONNECT to the next proxy, through the tunnel the previous hops made; the
 * last hop carries the caller's command. One deadline and one AbortSignal cover it all; when
 * either fires, the socket is destroyed and the operation rejects with SocksTimeoutError or
 * SocksAbortError. Shared by connect(), bind(), associate() and the agents.
 */
import net from 'node:net';
import { lookup } from 'node:dns/promises';
import { formatHostPort, socksAddress, type SocksAddress } from '../protocol/address.js';
import { Command } from '../protocol/constants.js';
import {
  ClientErrorCode,
  invalidOption,
  SocksAbortError,
  SocksConnectionError,
  SocksTimeoutError,
  SocksUsageError,
  UsageErrorCode,
} from '../errors.js';
import { commandLabels, Handshake, HandshakeReader } from './handshake.js';
import { parseProxies, type ProxyInput, type SocksProxy } from './proxy.js';
import type { GssapiSocket } from '../gssapi/stream.js';

/** A host (name or IP literal, IPv6 with or without brackets) and a port. */
export interface Destination {
  readonly host: string;
  readonly port: number;
}

/** Options shared by connect(), bind() and associate(). */
export interface TunnelOptions {
  /** One proxy: a URL (`socks5h://user:pass@host:1080`), an object, or a SocksProxy. */
  readonly proxy?: ProxyInput;
  /** A chain, first hop first: each hop is reached by a CONNECT through the ones before it. */
  readonly proxies?: readonly ProxyInput[];
  /** Aborts the handshake (and, for bind(), the wait for the peer): SocksAbortError. */
  readonly signal?: AbortSignal;
  /**
   * Milliseconds for the whole handshake: reaching the first proxy, every hop, up to the reply
   * (BIND: the first reply). Default 30 000. `Infinity` disables it.
   */
  readonly timeout?: number;
}

/** The default handshake timeout, in milliseconds. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 30_000;

/**
 * What the tunnel hands the application: the TCP socket to the first proxy, or — when a hop's
 * method protects the traffic (GSS-API integrity or confidentiality, RFC 1961 §5) — the
 * encapsulation layer over it, a Duplex that also answers the usual socket calls
 * (setNoDelay, setKeepAlive, setTimeout, the address getters).
 */
export type TunnelSocket = net.Socket | GssapiSocket;

/** A tunnel whose last hop has sent its (first) reply; the reader still owns the socket. */
export interface OpenTunnel {
  /** The TCP connection to the first proxy. */
  readonly socket: net.Socket;
  /** Where the tunnel's bytes travel: {@link socket}, or the last protection layer over it. */
  readonly stream: TunnelSocket;
  readonly reader: HandshakeReader;
  readonly handshake: Handshake;
  /** BND.ADDR/BND.PORT of the last hop's (first) reply, as sent. */
  readonly bound: SocksAddress;
  readonly proxies: readonly SocksProxy[];
}

/** Validates a destination; `what` names the option in messages. */
export function checkDestination(destination: Destination | undefined, what: string): Destination {
  if (typeof destination !== 'object') throw invalidOption(what, 'missing');
  const { host, port } = destination;
  if (typeof host !== 'string' || host === '') throw invalidOption(`${what}.host`, 'missing');
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw invalidOption(`${what}.port`, `must be an integer 0-65535, got ${String(port)}`);
  }
  return { host, port };
}

export function checkTimeout(timeout: number | undefined, what = 'timeout'): number {
  const t = timeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  if (typeof t !== 'number' || Number.isNaN(t) || t <= 0) {
    throw invalidOption(what, `must be a positive number of milliseconds, got ${String(t)}`);
  }
  return t;
}

/**
 * The address to put in a request to `proxy`: names go to the proxy as they are for socks5h and
 * socks4a, and are looked up here (`dns.lookup`, like `net.connect`) for socks5 and socks4.
 */
export async function addressFor(
  proxy: SocksProxy,
  host: string,
  port: number,
): Promise<SocksAddress> {
  const address = checkCarriable(proxy, host, port);
  if (address.type !== 'domain' || proxy.remoteDns) return address;
  try {
    const found = await lookup(address.host, { family: proxy.version === 4 ? 4 : 0 });
    return socksAddress(found.address, port);
  } catch (err) {
    throw new SocksConnectionError(
      ClientErrorCode.Resolve,
      `cannot resolve ${address.host} for ${proxy.toString()} (${proxy.protocol} resolves names locally; ${proxy.version === 5 ? 'socks5h' : 'socks4a'} would let the proxy do it): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** The address as text allows; SOCKS4 cannot carry an IPv6 literal (SocksUsageError). */
function checkCarriable(proxy: SocksProxy, host: string, port: number): SocksAddress {
  const address = socksAddress(host, port);
  if (address.type === 'ipv6' && proxy.version === 4) {
    throw new SocksUsageError(
      UsageErrorCode.InvalidArgument,
      `${proxy.toString()} speaks SOCKS4, which cannot carry the IPv6 address ${host}`,
    );
  }
  return address;
}

/** A deadline and an AbortSignal as one promise that only ever rejects. */
class Guard {
  readonly promise: Promise<never>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #cleanup: () => void = () => undefined;

  constructor(timeout: number, signal: AbortSignal | undefined, describe: () => string) {
    this.promise = new Promise<never>((_resolve, reject) => {
      if (Number.isFinite(timeout)) {
        this.#timer = setTimeout(() => {
          reject(new SocksTimeoutError(timeout, `${describe()} timed out after ${timeout} ms`));
        }, timeout);
      }
      if (signal) {
        const onAbort = (): void => {
          reject(abortError(signal, describe()));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        this.#cleanup = () => {
          signal.removeEventListener('abort', onAbort);
        };
      }
    });
    this.promise.catch(() => undefined); // observed by the race; never an unhandled rejection
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#cleanup();
  }
}

export function abortError(signal: AbortSignal, what: string): SocksAbortError {
  return new SocksAbortError(`${what} was aborted`, { cause: signal.reason });
}

/**
 * Runs `work` under a deadline and a signal; on timeout, abort or failure the socket is
 * destroyed. `work` receives a function to register the socket as soon as it exists.
 */
export async function guarded<T>(
  timeout: number,
  signal: AbortSignal | undefined,
  describe: () => string,
  work: (own: (socket: net.Socket) => void) => Promise<T>,
): Promise<T> {
  if (signal?.aborted) throw abortError(signal, describe());
  const guard = new Guard(timeout, signal, describe);
  let socket: net.Socket | undefined;
  const running = work((s) => {
    socket = s;
  });
  try {
    return await Promise.race([running, guard.promise]);
  } catch (err) {
    socket?.destroy();
    running.catch(() => undefined); // it fails too, now that its socket is gone
    throw err;
  } finally {
    guard.dispose();
  }
}

/** Connects to `proxy`, resolving with the socket; failures are SocksConnectionError. */
function connectToProxy(proxy: SocksProxy, own: (socket: net.Socket) => void): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: proxy.host, port: proxy.port });
    own(socket);
    const onError = (err: Error): void => {
      reject(
        new SocksConnectionError(
          ClientErrorCode.ProxyConnection,
          `cannot reach SOCKS proxy ${proxy.toString()}: ${err.message}`,
          { cause: err },
        ),
      );
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/**
 * Opens the chain and sends `command` for `destination` on the last hop; resolves once that hop
 * has sent its (first) reply. The returned reader still owns the socket.
 */
export function openTunnel(
  options: TunnelOptions,
  command: Command,
  destination: Destination,
): Promise<OpenTunnel> {
  const proxies = parseProxies(options);
  const timeout = checkTimeout(options.timeout);
  const to = formatHostPort(destination.host, destination.port);
  const via = proxies.map((p) => p.toString()).join(' -> ');
  const describe = (): string => `${commandLabels[command]} ${to} via ${via}`;
  // What can be checked without the network is checked before connecting.
  proxies.forEach((proxy, i) => {
    const next = proxies[i + 1];
    checkCarriable(proxy, next?.host ?? destination.host, next?.port ?? destination.port);
  });
  return guarded(timeout, options.signal, describe, async (own) => {
    const first = proxies[0];
    if (first === undefined) throw invalidOption('proxy', 'at least one proxy is required');
    const socket = await connectToProxy(first, own);
    let reader = new HandshakeReader(socket, describe);
    let stream: TunnelSocket = socket;
    for (let i = 0; ; i++) {
      const proxy = proxies[i];
      if (proxy === undefined) throw new Error('unreachable: empty chain');
      const next = proxies[i + 1];
      const last = next === undefined;
      const target = last
        ? await addressFor(proxy, destination.host, destination.port)
        : await addressFor(proxy, next.host, next.port);
      const hop = proxies.length > 1 ? ` (hop ${i + 1} of ${proxies.length})` : '';
      const handshake: Handshake = new Handshake(
        proxy,
        stream,
        reader,
        last ? command : Command.Connect,
        target,
        hop,
      );
      const reply = await handshake.run();
      // A hop whose method protects its traffic carries the rest of the chain inside its layer.
      ({ reader } = handshake.connection);
      stream = (handshake.protection as GssapiSocket | undefined) ?? stream;
      if (last) return { socket, stream, reader, handshake, bound: reply.bound, proxies };
      // Whatever followed this hop's reply already belongs to the next hop's handshake.
      reader.unread(handshake.takeTrailingData());
    }
  });
}

/**
 * Ends the handshake: the bytes after the final reply (and any read past it) go back in front
 * of the socket's readable side, so the application reads them first.
 */
export function handOver(tunnel: OpenTunnel): TunnelSocket {
  tunnel.reader.unread(tunnel.handshake.takeTrailingData());
  const rest = tunnel.reader.release();
  if (rest.length > 0) tunnel.stream.unshift(rest);
  return tunnel.stream;
}
