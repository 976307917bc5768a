/**
 * Server options: defaults first, validated early, frozen (DESIGN.md rule 7). A bad value is an
 * error whose message names the field; nothing is silently ignored.
 */
import { invalidOption } from '../errors.js';
import type { UserDatabase } from '../auth/users.js';
import {
  AddressSet,
  compilePolicy,
  parseObservedAddress,
  parsePrefix,
  type Policy,
} from '../rules/index.js';
import { DnsResolver } from '../dial/resolver.js';
import { formatIPv6, parseIPv4, parseIPv6 } from '../protocol/address.js';
import { MAX_DURATION_MS as MAX_TIMER_MS } from '../config/duration.js';
import type { Dialect, SessionRecord } from './session-record.js';

/** Every dialect the server can speak on one port (picked by the first octet). */
export const allDialects: readonly Dialect[] = Object.freeze(['socks5', 'socks4', 'http']);

/**
 * Decides whether a client may proceed WITHOUT credentials while users are configured. Asked for
 * SOCKS4/4a requests (the protocol carries no password) and for HTTP requests that bring no
 * `Proxy-Authorization`. The record has the client address, dialect, command, destination and
 * (SOCKS4) USERID filled in. Resolve true only when a rule explicitly allows that client.
 */
export type AllowUnauthenticated = (session: Readonly<SessionRecord>) => boolean | Promise<boolean>;

/** A range of ports, both ends included. */
export interface PortRange {
  readonly from: number;
  readonly to: number;
}

/** The address to advertise in replies, per family (see `externalAddress`). */
export interface ExternalAddresses {
  readonly ipv4: string | undefined;
  readonly ipv6: string | undefined;
}

export interface ServerOptions {
  /** Users for RFC 1929 username/password. When set, method 02 is required; else method 00. */
  readonly users?: UserDatabase | undefined;
  /** Absolute deadline from accept to the (first) reply, in ms. Default 10 000. */
  readonly handshakeTimeout?: number | undefined;
  /** Outgoing connect timeout in ms (reply 06 on expiry). Default 10 000. */
  readonly connectTimeout?: number | undefined;
  /** Close a tunnel after this many ms without a byte either way; 0 = never. Default 2 h. */
  readonly idleTimeout?: number | undefined;
  /** Concurrent client connections; beyond it new ones are closed at once. Default 10 000. */
  readonly maxConnections?: number | undefined;
  /** Concurrent connections from one client IP; 0 = unlimited (the default). */
  readonly maxConnectionsPerIp?: number | undefined;
  /** Concurrent sessions of one authenticated user; 0 = unlimited (the default). */
  readonly maxSessionsPerUser?: number | undefined;
  /**
   * Failed authentications allowed per client IP within `authFailureWindow` before further
   * attempts from that IP fail at once, without checking the password. 0 disables. Default 10.
   */
  readonly authFailureLimit?: number | undefined;
  /** The window of `authFailureLimit` in ms. Default 60 000. */
  readonly authFailureWindow?: number | undefined;
  /** How long `close()` lets sessions finish before closing them, in ms. Default 10 000. */
  readonly drainTimeout?: number | undefined;
  /**
   * Allow listening on a non-loopback address with no authentication. Default false: such a
   * server would be an open proxy for anyone who can reach it.
   */
  readonly insecureOpenProxy?: boolean | undefined;
  /** Dialects answered on the listeners; a disabled one is closed unanswered. Default: all. */
  readonly protocols?: readonly Dialect[] | undefined;
  /**
   * With users configured: may this client go without credentials? Default: never (SOCKS4 gets
   * `5B`, HTTP gets `407`). Without users every client is anonymous and this is not consulted.
   * The access-rules engine plugs in here.
   */
  readonly allowUnauthenticated?: AllowUnauthenticated | undefined;
  /** Cap on an HTTP request head (request line + header fields), in octets; beyond it `431`.
   * Default 16 384. */
  readonly httpMaxHeaderSize?: number | undefined;
  /**
   * BIND: how long to wait for the peer's connection after the first reply, in ms; on expiry
   * the second reply is `06` (TTL expired) and the connection closes. Default 120 000.
   */
  readonly bindTimeout?: number | undefined;
  /**
   * For a server behind NAT: the address clients and peers must use to reach it, reported in
   * BIND's first reply and UDP ASSOCIATE's reply instead of the socket's own address. One IP
   * literal, or one IPv4 and one IPv6 (each used for sockets of its family). Default none.
   */
  readonly externalAddress?: string | readonly string[] | undefined;
  /**
   * UDP ASSOCIATE: draw each association's UDP port from this range (so a firewall or NAT can
   * forward it). Default: any free port.
   */
  readonly udpPorts?: PortRange | undefined;
  /** End a UDP association after this many ms with no datagram relayed; 0 = never. Default 120 000. */
  readonly udpIdleTimeout?: number | undefined;
  /**
   * Reassemble RFC 1928 §7 fragments (FRAG ≠ 0). When false every fragment is dropped, as the RFC
   * requires of a relay that does not reassemble. Default true.
   */
  readonly udpReassembly?: boolean | undefined;
  /** The reassembly timer in ms; RFC 1928 §7 says at least 5 s. Default 5 000. */
  readonly udpReassemblyTimeout?: number | undefined;
  /** Largest reassembled datagram in octets (DATA only). Default 65 536. */
  readonly udpMaxDatagramSize?: number | undefined;
  /** Octets all associations together may hold in reassembly queues. Default 16 MiB. */
  readonly udpReassemblyMemory?: number | undefined;
  /**
   * Access rules (a compiled {@link Policy}, see docs/rules.md). Default: allow everything —
   * destinations are still normalised, resolved by ferry and connected to exactly as checked.
   */
  readonly rules?: Policy | undefined;
  /** The DNS resolver for destinations. Default: a DnsResolver with the system's servers. */
  readonly resolver?: DnsResolver | undefined;
  /** Source addresses for outgoing connections, per family. Default: the OS chooses. */
  readonly outbound?: OutboundAddresses | undefined;
  /**
   * Load balancers allowed to send a PROXY protocol header on listeners that expect one: CIDRs
   * or addresses (`10.0.0.0/8`, `::1`). Default none.
   */
  readonly trustedProxies?: readonly string[] | undefined;
}

export interface OutboundAddresses {
  readonly ipv4?: string | undefined;
  readonly ipv6?: string | undefined;
}

export interface ResolvedServerOptions {
  readonly users: UserDatabase | undefined;
  readonly handshakeTimeout: number;
  readonly connectTimeout: number;
  readonly idleTimeout: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly maxSessionsPerUser: number;
  readonly authFailureLimit: number;
  readonly authFailureWindow: number;
  readonly drainTimeout: number;
  readonly insecureOpenProxy: boolean;
  readonly bindTimeout: number;
  readonly externalAddress: ExternalAddresses;
  readonly udpPorts: PortRange | undefined;
  readonly udpIdleTimeout: number;
  readonly udpReassembly: boolean;
  readonly udpReassemblyTimeout: number;
  readonly udpMaxDatagramSize: number;
  readonly udpReassemblyMemory: number;
  readonly protocols: readonly Dialect[];
  readonly allowUnauthenticated: AllowUnauthenticated;
  readonly httpMaxHeaderSize: number;
  readonly rules: Policy;
  /** Whether `rules` came from the operator (it then counts as a safeguard, like users). */
  readonly hasRules: boolean;
  readonly resolver: DnsResolver;
  readonly outbound: OutboundAddresses;
  readonly trustedProxies: AddressMatcher;
}

/** Answers whether a socket's peer address is in a set. */
export interface AddressMatcher {
  has(address: string): boolean;
}

export const serverDefaults = Object.freeze({
  handshakeTimeout: 10_000,
  connectTimeout: 10_000,
  idleTimeout: 2 * 60 * 60 * 1000,
  maxConnections: 10_000,
  maxConnectionsPerIp: 0,
  maxSessionsPerUser: 0,
  authFailureLimit: 10,
  authFailureWindow: 60_000,
  drainTimeout: 10_000,
  bindTimeout: 2 * 60 * 1000,
  udpIdleTimeout: 2 * 60 * 1000,
  udpReassemblyTimeout: 5_000,
  udpMaxDatagramSize: 64 * 1024,
  udpReassemblyMemory: 16 * 1024 * 1024,
  httpMaxHeaderSize: 16 * 1024,
});

/** RFC 1928 §7: "The reassembly timer MUST be no less than 5 seconds." */
const MIN_REASSEMBLY_TIMEOUT_MS = 5_000;

/** Bounds for `httpMaxHeaderSize`: room for a request line and Host; at most 1 MiB. */
const MIN_HEADER_SIZE = 256;
const MAX_HEADER_SIZE = 1024 * 1024;

const neverAnonymous: AllowUnauthenticated = () => false;

function protocols(value: readonly Dialect[] | undefined): readonly Dialect[] {
  if (value === undefined) return allDialects;
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidOption('protocols', `must be a non-empty list of ${allDialects.join(', ')}`);
  }
  for (const p of value as readonly unknown[]) {
    if (!allDialects.includes(p as Dialect)) {
      throw invalidOption(
        'protocols',
        `unknown protocol "${String(p)}" (expected ${allDialects.join(', ')})`,
      );
    }
  }
  return Object.freeze([...new Set<Dialect>(value as readonly Dialect[])]);
}

function duration(
  field: string,
  value: number | undefined,
  fallback: number,
  allowZero: boolean,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < (allowZero ? 0 : 1) ||
    value > MAX_TIMER_MS
  ) {
    throw invalidOption(
      field,
      `must be an integer number of milliseconds ${allowZero ? '0' : '1'}..${MAX_TIMER_MS}, got ${String(value)}`,
    );
  }
  return value;
}

function count(
  field: string,
  value: number | undefined,
  fallback: number,
  allowZero = false,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw invalidOption(
      field,
      `must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${String(value)}`,
    );
  }
  return value;
}

function externalAddresses(value: string | readonly string[] | undefined): ExternalAddresses {
  const field = 'externalAddress';
  if (value === undefined) return Object.freeze({ ipv4: undefined, ipv6: undefined });
  const list: readonly unknown[] = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.length > 2) {
    throw invalidOption(field, 'must be an IP address, or one IPv4 and one IPv6 address');
  }
  let ipv4: string | undefined;
  let ipv6: string | undefined;
  for (const item of list) {
    const text = typeof item === 'string' ? item : '';
    const v6 = parseIPv6(text);
    if (parseIPv4(text) === undefined && v6 === undefined) {
      throw invalidOption(field, `must be an IP address (no name, no port), got ${String(item)}`);
    }
    if ((v6 === undefined ? ipv4 : ipv6) !== undefined) {
      throw invalidOption(field, `at most one address per family, got ${list.join(', ')}`);
    }
    if (v6 === undefined) ipv4 = text;
    else ipv6 = formatIPv6(v6);
  }
  return Object.freeze({ ipv4, ipv6 });
}

function reassemblyTimeout(value: number | undefined): number {
  const ms = duration('udpReassemblyTimeout', value, serverDefaults.udpReassemblyTimeout, false);
  if (ms < MIN_REASSEMBLY_TIMEOUT_MS) {
    throw invalidOption(
      'udpReassemblyTimeout',
      `must be at least ${MIN_REASSEMBLY_TIMEOUT_MS} ms (RFC 1928 §7), got ${ms}`,
    );
  }
  return ms;
}

function portRange(field: string, value: PortRange | undefined): PortRange | undefined {
  if (value === undefined) return undefined;
  const ok = (n: unknown): n is number =>
    typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 0xffff;
  if (typeof value !== 'object' || !ok(value.from) || !ok(value.to) || value.from > value.to) {
    throw invalidOption(
      field,
      `must be { from, to } with 1 <= from <= to <= 65535, got ${JSON.stringify(value)}`,
    );
  }
  return Object.freeze({ from: value.from, to: value.to });
}

function bool(field: string, value: boolean | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidOption(field, `must be true or false`);
  return value;
}

/** Applies defaults and validates. Throws SocksUsageError (ERR_SOCKS_INVALID_OPTION). */
export function resolveServerOptions(options: ServerOptions = {}): ResolvedServerOptions {
  return Object.freeze({
    users: options.users,
    handshakeTimeout: duration(
      'handshakeTimeout',
      options.handshakeTimeout,
      serverDefaults.handshakeTimeout,
      false,
    ),
    connectTimeout: duration(
      'connectTimeout',
      options.connectTimeout,
      serverDefaults.connectTimeout,
      false,
    ),
    idleTimeout: duration('idleTimeout', options.idleTimeout, serverDefaults.idleTimeout, true),
    maxConnections: count('maxConnections', options.maxConnections, serverDefaults.maxConnections),
    maxConnectionsPerIp: count(
      'maxConnectionsPerIp',
      options.maxConnectionsPerIp,
      serverDefaults.maxConnectionsPerIp,
      true,
    ),
    maxSessionsPerUser: count(
      'maxSessionsPerUser',
      options.maxSessionsPerUser,
      serverDefaults.maxSessionsPerUser,
      true,
    ),
    authFailureLimit: count(
      'authFailureLimit',
      options.authFailureLimit,
      serverDefaults.authFailureLimit,
      true,
    ),
    authFailureWindow: duration(
      'authFailureWindow',
      options.authFailureWindow,
      serverDefaults.authFailureWindow,
      false,
    ),
    drainTimeout: duration('drainTimeout', options.drainTimeout, serverDefaults.drainTimeout, true),
    insecureOpenProxy: options.insecureOpenProxy === true,
    bindTimeout: duration('bindTimeout', options.bindTimeout, serverDefaults.bindTimeout, false),
    externalAddress: externalAddresses(options.externalAddress),
    udpPorts: portRange('udpPorts', options.udpPorts),
    udpIdleTimeout: duration(
      'udpIdleTimeout',
      options.udpIdleTimeout,
      serverDefaults.udpIdleTimeout,
      true,
    ),
    udpReassembly: bool('udpReassembly', options.udpReassembly, true),
    udpReassemblyTimeout: reassemblyTimeout(options.udpReassemblyTimeout),
    udpMaxDatagramSize: count(
      'udpMaxDatagramSize',
      options.udpMaxDatagramSize,
      serverDefaults.udpMaxDatagramSize,
    ),
    udpReassemblyMemory: count(
      'udpReassemblyMemory',
      options.udpReassemblyMemory,
      serverDefaults.udpReassemblyMemory,
    ),
    protocols: protocols(options.protocols),
    allowUnauthenticated: allowUnauthenticated(options.allowUnauthenticated),
    httpMaxHeaderSize: headerSize(options.httpMaxHeaderSize),
    rules: options.rules ?? allowAll(),
    hasRules: options.rules !== undefined,
    resolver: options.resolver ?? new DnsResolver(),
    outbound: outbound(options.outbound),
    trustedProxies: addressMatcher('trustedProxies', options.trustedProxies ?? []),
  });
}

function allowUnauthenticated(value: AllowUnauthenticated | undefined): AllowUnauthenticated {
  if (value === undefined) return neverAnonymous;
  if (typeof value !== 'function')
    throw invalidOption('allowUnauthenticated', 'must be a function');
  return value;
}

function headerSize(value: number | undefined): number {
  if (value === undefined) return serverDefaults.httpMaxHeaderSize;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < MIN_HEADER_SIZE ||
    value > MAX_HEADER_SIZE
  ) {
    throw invalidOption(
      'httpMaxHeaderSize',
      `must be an integer number of octets ${MIN_HEADER_SIZE}..${MAX_HEADER_SIZE}, got ${String(value)}`,
    );
  }
  return value;
}

let allowAllPolicy: Policy | undefined;
/** The policy of a server without rules: every destination allowed (after normalisation). */
function allowAll(): Policy {
  allowAllPolicy ??= compilePolicy({ rules: [], default: 'allow' });
  return allowAllPolicy;
}

function outbound(value: OutboundAddresses | undefined): OutboundAddresses {
  if (value === undefined) return {};
  if (value.ipv4 !== undefined && parseIPv4(value.ipv4) === undefined) {
    throw invalidOption('outbound.ipv4', `must be an IPv4 address, got "${value.ipv4}"`);
  }
  if (value.ipv6 !== undefined && parseIPv6(value.ipv6) === undefined) {
    throw invalidOption('outbound.ipv6', `must be an IPv6 address, got "${value.ipv6}"`);
  }
  return Object.freeze({ ...value });
}

function addressMatcher(field: string, cidrs: readonly string[]): AddressMatcher {
  const prefixes = cidrs.map((text, i) => {
    const prefix = parsePrefix(text);
    if (typeof prefix === 'string') throw invalidOption(`${field}[${i}]`, prefix);
    return prefix;
  });
  const set = new AddressSet(prefixes);
  return {
    has: (address) => {
      const ip = parseObservedAddress(address);
      return ip !== undefined && set.has(ip);
    },
  };
}
