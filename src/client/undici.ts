/**
 * A dispatcher for undici's `fetch` (and `request`, `stream`, ...): an undici `Agent` whose
 * connector opens a SOCKS tunnel, then — for `https:` — runs undici's own TLS connector over it.
 * Unlike undici's built-in SOCKS support it speaks `socks5h`, SOCKS4/4a and chains.
 *
 * undici is an optional peer dependency (`npm install undici@7`): it is loaded the first time a
 * dispatcher is made, so importing `ferry/client` never needs it.
 */
import { createRequire } from 'node:module';
import type net from 'node:net';
import type * as Undici from 'undici';
import { connect } from './connect.js';
import { parseProxies, type ProxyInput } from './proxy.js';
import { checkTimeout } from './tunnel.js';
import { SocksUsageError, UsageErrorCode } from '../errors.js';

export interface SocksConnectorOptions {
  readonly proxy?: ProxyInput;
  readonly proxies?: readonly ProxyInput[];
  /** Milliseconds for each tunnel's SOCKS handshake (default 30 000). */
  readonly handshakeTimeout?: number;
  /** TLS options for `https:` origins (`ca`, `rejectUnauthorized`, `allowH2`, ...). */
  readonly tls?: Undici.buildConnector.BuildOptions;
}

export type SocksDispatcherOptions = SocksConnectorOptions &
  Omit<Undici.Agent.Options, 'connect' | 'factory' | 'tls'>;

const require = createRequire(import.meta.url);

function loadUndici(): typeof Undici {
  try {
    return require('undici') as typeof Undici;
  } catch (err) {
    throw new SocksUsageError(
      UsageErrorCode.InvalidState,
      'a SOCKS dispatcher needs the optional peer dependency undici (npm install undici@7)',
      { cause: err },
    );
  }
}

function defaultPort(protocol: string): number {
  return protocol === 'https:' ? 443 : 80;
}

/**
 * An undici connector (`new Agent({ connect: socksConnector(...) })`): a tunnel per connection.
 * @throws SocksUsageError for bad options, or when undici is not installed.
 */
export function socksConnector(options: SocksConnectorOptions): Undici.buildConnector.connector {
  const proxies = parseProxies(options);
  const timeout = checkTimeout(options.handshakeTimeout, 'handshakeTimeout');
  const tlsConnect = loadUndici().buildConnector({ ...(options.tls ?? {}) });
  return (target, callback) => {
    const port = target.port === '' ? defaultPort(target.protocol) : Number(target.port);
    connect({ proxies, destination: { host: target.hostname, port }, timeout }).then(
      ({ socket: tunnel }) => {
        // A GSS-API protected tunnel is a Duplex with the socket calls undici makes
        // (setNoDelay, setKeepAlive, the address getters), not a net.Socket; undici only types it so.
        const socket = tunnel as net.Socket;
        if (target.protocol !== 'https:') {
          callback(null, socket);
          return;
        }
        tlsConnect({ ...target, httpSocket: socket }, (err, secure) => {
          if (err) {
            socket.destroy();
            callback(err, null);
          } else {
            callback(null, secure);
          }
        });
      },
      (err: unknown) => {
        callback(err as Error, null);
      },
    );
  };
}

/**
 * An undici `Agent` that connects through SOCKS; pass it as `dispatcher` to undici's `fetch`.
 *
 * @example
 *   import { fetch } from 'undici';
 *   const dispatcher = createSocksDispatcher({ proxy: 'socks5h://127.0.0.1:1080' });
 *   const res = await fetch('https://example.com/', { dispatcher });
 * @throws SocksUsageError for bad options, or when undici is not installed.
 */
export function createSocksDispatcher(options: SocksDispatcherOptions): Undici.Agent {
  const { proxy, proxies, handshakeTimeout, tls, ...agentOptions } = options;
  const connector = socksConnector({
    ...(proxy === undefined ? {} : { proxy }),
    ...(proxies === undefined ? {} : { proxies }),
    ...(handshakeTimeout === undefined ? {} : { handshakeTimeout }),
    ...(tls === undefined ? {} : { tls }),
  });
  const { Agent } = loadUndici();
  return new Agent({ ...agentOptions, connect: connector });
}
