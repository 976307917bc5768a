/**
 * The server object: listeners, the connection limit, live sessions, and a graceful close that
 * stops accepting, lets sessions finish for the drain timeout, then closes the rest.
 */
import net from 'node:net';
import { Connection, type ServerContext } from './connection.js';
import { detectDialect } from './dialects.js';
import { readProxyHeader } from './proxy-header.js';
import { resolveServerOptions, type ResolvedServerOptions, type ServerOptions } from './options.js';
import { channels, publish, type ConnectionRejectedEvent } from '../observability/channels.js';
import { SocksUsageError, UsageErrorCode } from '../errors.js';
import { parseIPv4, parseIPv6 } from '../protocol/address.js';
import type { UserDatabase } from '../auth/users.js';
import type { SessionRecord } from './session-record.js';
import { ConcurrencyCounter, FailureThrottle } from './limits.js';
import { GssapiCredentials, type GssapiService } from './gssapi-service.js';

export interface ListenAddress {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /**
   * Expect a PROXY protocol (v1/v2) header from connections whose source is in the
   * `trustedProxies` option; a header from anyone else is refused. Default false.
   */
  readonly proxyProtocol?: boolean | undefined;
}

export interface BoundListener {
  readonly address: string;
  readonly family: string;
  readonly port: number;
}

export interface ServerStats {
  /** Client connections open now (handshaking or relaying). */
  readonly active: number;
  /** Client connections accepted since start. */
  readonly accepted: number;
  /** Connections closed at once because of `maxConnections` or a close under way. */
  readonly rejected: number;
}

/** True for 127.0.0.0/8, ::1, ::ffff:127.x and the name `localhost`. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const v4 = parseIPv4(host);
  if (v4 !== undefined) return v4[0] === 127;
  const v6 = parseIPv6(host);
  if (v6 === undefined) return false;
  const mapped = v6.subarray(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
  if (mapped) return v6[12] === 127;
  return v6.subarray(0, 15).every((b) => b === 0) && v6[15] === 1;
}

export class FerryServer implements ServerContext {
  #options: ResolvedServerOptions;
  #users: UserDatabase | undefined;
  readonly #listeners: net.Server[] = [];
  readonly #connections = new Set<Connection>();
  #nextId = 1;
  #accepted = 0;
  #rejected = 0;
  #closing: Promise<void> | undefined;
  readonly #perIp = new ConcurrencyCounter();
  readonly userSessions = new ConcurrencyCounter();
  readonly authThrottle: FailureThrottle;
  readonly #gssapi = new GssapiCredentials();

  constructor(options: ServerOptions = {}) {
    this.#options = resolveServerOptions(options);
    this.#users = this.#options.users;
    this.authThrottle = new FailureThrottle({
      maxFailures: this.#options.authFailureLimit,
      window: this.#options.authFailureWindow,
    });
  }

  get options(): ResolvedServerOptions {
    return this.#options;
  }

  get stats(): ServerStats {
    return { active: this.#connections.size, accepted: this.#accepted, rejected: this.#rejected };
  }

  /** True once close() was called: the server no longer accepts (for readiness probes). */
  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Live sessions' records (a snapshot of references; records update as sessions progress). */
  sessions(): SessionRecord[] {
    return [...this.#connections].map((c) => c.record);
  }

  /** The users database in force now. */
  users(): UserDatabase | undefined {
    return this.#users;
  }

  /**
   * Whether clients must authenticate: users or GSS-API are configured. A dialect that cannot
   * carry credentials (SOCKS4) or a client that brings none must then be refused unless the
   * access rules let it through anonymously.
   */
  authenticationRequired(): boolean {
    return this.#users !== undefined || this.#options.gssapi !== undefined;
  }

  /** Swaps the users database (hot reload). Sessions already authenticated are not affected. */
  setUsers(users: UserDatabase | undefined): void {
    this.#users = users;
  }

  /**
   * The GSS-API acceptor credential for new sessions, or undefined when GSS-API is not
   * configured. Normally already acquired (by listen() or prepare()).
   */
  gssapi(): Promise<GssapiService> | undefined {
    const options = this.#options.gssapi;
    return options === undefined ? undefined : this.#gssapi.get(options);
  }

  /**
   * Does what `options` need done asynchronously before they can be used — acquiring the GSS-API
   * acceptor credential (loading the library, reading the keytab) — so that a reconfigure() with
   * them does not fail on it later. listen() does this for the options in force.
   * @throws SocksUsageError for an invalid option; SocksGssapiError
   *   (`ERR_SOCKS_GSSAPI_UNAVAILABLE`: no koffi or library; `ERR_SOCKS_GSSAPI`: the keytab has
   *   no usable key for the service, or cannot be read).
   */
  async prepare(options: ServerOptions = {}): Promise<void> {
    const resolved = resolveServerOptions(options);
    if (resolved.gssapi !== undefined) await this.#gssapi.get(resolved.gssapi);
  }

  /**
   * Hot reload: validates the new options, then swaps them in at once. New connections use them;
   * live sessions keep the timers and decisions they already have. Call prepare() first when
   * the GSS-API keytab or service changes.
   * @throws SocksUsageError naming the field when an option is invalid (nothing changes then).
   */
  reconfigure(options: ServerOptions): void {
    const resolved = resolveServerOptions(options);
    this.#options = resolved;
    this.#gssapi.retain(resolved.gssapi);
    this.#users = resolved.users;
    this.authThrottle.configure({
      maxFailures: resolved.authFailureLimit,
      window: resolved.authFailureWindow,
    });
  }

  /**
   * Starts listening on each address. Resolves with the bound addresses. With `gssapi`
   * configured, the acceptor credential is acquired first.
   * @throws SocksUsageError when an address is not loopback and the server has no authentication
   *   (unless `insecureOpenProxy`), or when the server is closing. Listen errors (EADDRINUSE, ...)
   *   reject with the system error and close whatever this call had opened.
   * @throws SocksGssapiError when GSS-API is configured and unavailable
   *   (`ERR_SOCKS_GSSAPI_UNAVAILABLE`, message "GSS-API unavailable: ...") or its credential
   *   cannot be acquired (`ERR_SOCKS_GSSAPI`); nothing is listening then.
   */
  async listen(addresses: ListenAddress | readonly ListenAddress[]): Promise<BoundListener[]> {
    const list = Array.isArray(addresses)
      ? (addresses as readonly ListenAddress[])
      : [addresses as ListenAddress];
    if (this.#closing !== undefined)
      throw new SocksUsageError(UsageErrorCode.InvalidState, 'the server is closing');
    for (const a of list) {
      if (
        !isLoopbackHost(a.host) &&
        !this.authenticationRequired() &&
        !this.#options.hasRules &&
        !this.#options.insecureOpenProxy
      ) {
        throw new SocksUsageError(
          UsageErrorCode.InvalidOption,
          `refusing to listen on ${a.host} without authentication or access rules: that would be an open proxy (configure users or rules, or set insecureOpenProxy)`,
        );
      }
    }
    await this.gssapi();
    if (this.closing)
      throw new SocksUsageError(UsageErrorCode.InvalidState, 'the server is closing');
    const opened: net.Server[] = [];
    try {
      for (const a of list) opened.push(await this.#listenOne(a));
    } catch (err) {
      await Promise.all(opened.map((s) => new Promise((r) => s.close(r))));
      throw err;
    }
    this.#listeners.push(...opened);
    const bound = opened
      .map((s) => s.address() as net.AddressInfo)
      .map(({ address, family, port }) => ({ address, family, port }));
    publish(channels.serverListening, () => ({ addresses: bound }));
    return bound;
  }

  /** Addresses of all listeners. */
  addresses(): BoundListener[] {
    return this.#listeners
      .map((s) => s.address() as net.AddressInfo)
      .map(({ address, family, port }) => ({ address, family, port }));
  }

  /**
   * Serves a connection accepted elsewhere exactly as if one of the listeners had accepted it
   * (limits, PROXY header, dialect detection): a socket handed over by another server or
   * process, or an in-memory stream with `net.Socket`'s shape (how the fuzzer drives whole
   * sessions without the kernel). `proxyProtocol` is the listener option of the same name.
   */
  handleConnection(socket: net.Socket, options: { proxyProtocol?: boolean } = {}): void {
    this.#onConnection(socket, options.proxyProtocol === true, undefined);
  }

  #listenOne(address: ListenAddress): Promise<net.Server> {
    const proxied = address.proxyProtocol === true;
    // A listener bound to one address is every accepted socket's local address: knowing it
    // spares a getsockname() per connection (issue 7, tunnels per second). Wildcards must ask.
    let local: { address: string; port: number } | undefined;
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => {
      this.#onConnection(socket, proxied, local);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(
        {
          host: address.host,
          port: address.port,
          ipv6Only: address.host === '::' ? false : undefined,
        },
        () => {
          server.off('error', reject);
          const bound = server.address() as net.AddressInfo;
          if (bound.address !== '0.0.0.0' && bound.address !== '::')
            local = { address: bound.address, port: bound.port };
          // A listener error after start (EMFILE on accept is handled by libuv) should not crash us.
          server.on('error', () => undefined);
          resolve(server);
        },
      );
    });
  }

  #onConnection(
    socket: net.Socket,
    proxied: boolean,
    local: { address: string; port: number } | undefined,
  ): void {
    const ip = socket.remoteAddress ?? '';
    // From a trusted balancer the client is only known after the PROXY header: count it then.
    const balancer = proxied && this.#options.trustedProxies.has(ip);
    const reason =
      this.#closing !== undefined
        ? 'closing'
        : this.#connections.size >= this.#options.maxConnections
          ? 'max-connections'
          : !balancer && !this.#perIp.tryAcquire(ip, this.#options.maxConnectionsPerIp)
            ? 'per-ip-limit'
            : undefined;
    if (reason !== undefined) {
      this.#reject(reason, ip, socket.remotePort);
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    this.#accepted++;
    const conn = new Connection(this.#nextId++, socket, this, this.#onConnectionEnd, local);
    if (!balancer) conn.ipSlot = ip;
    this.#connections.add(conn);
    publish(channels.sessionStart, () => ({ session: conn.record }));
    if (!balancer) {
      detectDialect(conn, { refuseProxyHeader: proxied });
      return;
    }
    readProxyHeader(conn, this.#admitProxied, (rest) => {
      detectDialect(conn, { initial: rest });
    });
  }

  /** After a PROXY header: the per-IP limit applies to the client it names. */
  readonly #admitProxied = (conn: Connection): boolean => {
    const ip = conn.record.clientAddress;
    if (!this.#perIp.tryAcquire(ip, this.#options.maxConnectionsPerIp)) {
      this.#reject('per-ip-limit', ip, conn.record.clientPort);
      conn.destroy('per-ip-limit');
      return false;
    }
    conn.ipSlot = ip;
    return true;
  };

  #reject(
    reason: ConnectionRejectedEvent['reason'],
    address: string,
    port: number | undefined,
  ): void {
    this.#rejected++;
    publish(channels.connectionRejected, () => ({
      reason,
      remoteAddress: address,
      remotePort: port,
    }));
  }

  readonly #onConnectionEnd = (conn: Connection): void => {
    this.#connections.delete(conn);
    if (conn.ipSlot !== undefined) this.#perIp.release(conn.ipSlot);
    publish(channels.sessionEnd, () => ({ session: conn.record }));
    if (this.#connections.size === 0) this.#drained?.();
  };

  #drained: (() => void) | undefined;

  /**
   * Stops accepting, waits up to `drainTimeout` ms (default: the option) for sessions to end,
   * then closes the rest. Resolves when every listener and session is closed. Idempotent.
   */
  close(options: { drainTimeout?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.drainTimeout ?? this.#options.drainTimeout);
    return this.#closing;
  }

  async #close(drainTimeout: number): Promise<void> {
    publish(channels.serverClosing, () => ({ active: this.#connections.size, drainTimeout }));
    const listenersClosed = Promise.all(this.#listeners.map((s) => new Promise((r) => s.close(r))));
    if (this.#connections.size > 0) {
      const drained = new Promise<void>((resolve) => (this.#drained = resolve));
      for (const conn of [...this.#connections]) conn.drain();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, drainTimeout)));
      await Promise.race([drained, deadline]);
      clearTimeout(timer);
    }
    const forced = this.#connections.size;
    if (forced > 0) {
      const drained = new Promise<void>((resolve) => (this.#drained = resolve));
      for (const conn of this.#connections) conn.destroy('drain-timeout');
      await drained;
    }
    await listenersClosed;
    this.#gssapi.retain(undefined);
    publish(channels.serverClosed, () => ({ forced }));
  }
}

/** Creates a server. Options are validated now: a bad one throws SocksUsageError naming it. */
export function createServer(options: ServerOptions = {}): FerryServer {
  return new FerryServer(options);
}
