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
import { parseIPv4, parseIPv6 } from '../protocol/address.js';
import { MAX_DURATION_MS as MAX_TIMER_MS } from '../config/duration.js';
import {
  resolveGssapiOptions,
  type GssapiServerOptions,
  type ResolvedGssapiOptions,
} from './gssapi-options.js';

export interface ServerOptions {
  /** Users for RFC 1929 username/password. When set, method 02 is required; else method 00. */
  readonly users?: UserDatabase | undefined;
  /**
   * GSS-API (RFC 1961, method 01): Kerberos authentication, and per-message protection of
   * everything after it. When set, method 01 is offered — first, before username/password when
   * `users` is set too — and method 00 is not. See {@link GssapiServerOptions}, docs/gssapi.md.
   */
  readonly gssapi?: GssapiServerOptions | undefined;
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
  readonly gssapi: ResolvedGssapiOptions | undefined;
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
});

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

/** Applies defaults and validates. Throws SocksUsageError (ERR_SOCKS_INVALID_OPTION). */
export function resolveServerOptions(options: ServerOptions = {}): ResolvedServerOptions {
  return Object.freeze({
    users: options.users,
    gssapi: resolveGssapiOptions(options.gssapi),
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
    rules: options.rules ?? allowAll(),
    hasRules: options.rules !== undefined,
    resolver: options.resolver ?? new DnsResolver(),
    outbound: outbound(options.outbound),
    trustedProxies: addressMatcher('trustedProxies', options.trustedProxies ?? []),
  });
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
