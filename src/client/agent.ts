/**
 * `node:http` / `node:https` agents whose connections go through a SOCKS proxy or chain.
 * They are ordinary `http.Agent`/`https.Agent`s (pooling and keep-alive work as usual) whose
 * `createConnection` opens a tunnel with connect() instead of a TCP connection; the HTTPS one
 * then runs TLS over the tunnel, end to end with the origin.
 *
 * Two classes because Node checks `agent.protocol` against the request's and takes the default
 * port from `agent.defaultPort`, neither of which can depend on the request: `SocksAgent` is for
 * `http:` URLs, `SocksHttpsAgent` for `https:` ones.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { connect } from './connect.js';
import { parseProxies, type ProxyInput, type SocksProxy } from './proxy.js';
import { checkTimeout } from './tunnel.js';

/** What both agents add to Node's agent options. */
export interface SocksAgentProxyOptions {
  /** One proxy (URL or object); names are resolved per its scheme (`socks5h`: by the proxy). */
  readonly proxy?: ProxyInput;
  /** A chain, first hop first. */
  readonly proxies?: readonly ProxyInput[];
  /**
   * Milliseconds for each tunnel's SOCKS handshake (default 30 000). The agent's own `timeout`
   * option stays what Node makes of it: the socket's idle timeout.
   */
  readonly handshakeTimeout?: number;
}

export type SocksAgentOptions = http.AgentOptions & SocksAgentProxyOptions;
export type SocksHttpsAgentOptions = https.AgentOptions & SocksAgentProxyOptions;

type Callback = (err: Error | null, stream: Duplex) => void;

interface Target {
  readonly host: string;
  readonly port: number;
}

function targetOf(options: http.ClientRequestArgs, defaultPort: number): Target {
  const host = options.hostname ?? options.host ?? 'localhost';
  const port =
    options.port === undefined || options.port === null ? defaultPort : Number(options.port);
  return { host, port };
}

function split<T extends SocksAgentProxyOptions>(options: T) {
  const { proxy, proxies, handshakeTimeout, ...agentOptions } = options;
  const chain = parseProxies({ proxy, proxies });
  return { chain, timeout: checkTimeout(handshakeTimeout, 'handshakeTimeout'), agentOptions };
}

/**
 * An `http.Agent` for `http:` requests through SOCKS.
 *
 * @example
 *   const agent = new SocksAgent({ proxy: 'socks5h://127.0.0.1:1080', keepAlive: true });
 *   http.get('http://example.com/', { agent }, (res) => { ... });
 * @throws SocksUsageError for bad proxy options. Tunnel failures reach the request's `'error'`.
 */
export class SocksAgent extends http.Agent {
  readonly proxies: readonly SocksProxy[];
  readonly #timeout: number;

  constructor(options: SocksAgentOptions) {
    const { chain, timeout, agentOptions } = split(options);
    super(agentOptions);
    this.proxies = chain;
    this.#timeout = timeout;
  }

  override createConnection(options: http.ClientRequestArgs, callback?: Callback): undefined {
    const { host, port } = targetOf(options, 80);
    connect({ proxies: this.proxies, destination: { host, port }, timeout: this.#timeout }).then(
      ({ socket }) => callback?.(null, socket),
      (err: unknown) => callback?.(err as Error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/**
 * An `https.Agent` for `https:` requests through SOCKS: TLS runs over the tunnel, so the
 * proxy sees only ciphertext. TLS options (`ca`, `rejectUnauthorized`, `servername`, ...) work as
 * on any `https.Agent` or request.
 *
 * @example
 *   const agent = new SocksHttpsAgent({ proxy: 'socks5h://127.0.0.1:1080' });
 *   https.get('https://example.com/', { agent }, (res) => { ... });
 */
export class SocksHttpsAgent extends https.Agent {
  readonly proxies: readonly SocksProxy[];
  readonly #timeout: number;

  constructor(options: SocksHttpsAgentOptions) {
    const { chain, timeout, agentOptions } = split(options);
    super(agentOptions);
    this.proxies = chain;
    this.#timeout = timeout;
  }

  override createConnection(options: https.RequestOptions, callback?: Callback): undefined {
    const { host, port } = targetOf(options, 443);
    connect({ proxies: this.proxies, destination: { host, port }, timeout: this.#timeout }).then(
      ({ socket }) => {
        const bare = host.startsWith('[') ? host.slice(1, -1) : host;
        const servername = options.servername ?? (net.isIP(bare) === 0 ? bare : undefined);
        const secure = tls.connect({
          ...(options as tls.ConnectionOptions),
          host: bare,
          socket,
          ...(servername === undefined ? {} : { servername }),
        });
        callback?.(null, secure);
      },
      (err: unknown) => callback?.(err as Error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}
