/**
 * The effective configuration as `ferry check-config` prints it: every key with the value in force
 * (defaults filled in from the server's own option resolution), durations spelled back, secrets
 * masked.
 */
import { resolveServerOptions } from '../server/options.js';
import { serverOptionsFrom } from './load.js';
import { formatDuration } from './duration.js';
import type { FerryConfig } from './schema.js';
import type { UserDatabase } from '../auth/users.js';
import { formatHostPort } from '../protocol/address.js';
import { resolverDefaults } from '../dial/resolver.js';
import { gssapiDefaults } from '../server/gssapi-options.js';
import { DEFAULT_GSSAPI_LIBRARY } from '../gssapi/load.js';

export function effectiveConfig(
  config: FerryConfig,
  users: UserDatabase | undefined,
): Record<string, unknown> {
  const o = resolveServerOptions(serverOptionsFrom(config, users));
  const admin = config.admin;
  return {
    listen: (config.listen ?? [{ host: '127.0.0.1', port: 1080 }]).map((a) =>
      'proxyProtocol' in a && a.proxyProtocol === true
        ? { address: formatHostPort(a.host, a.port), proxyProtocol: true }
        : formatHostPort(a.host, a.port),
    ),
    trustedProxies: config.trustedProxies ?? [],
    users:
      config.users === undefined
        ? null
        : { file: config.users, count: users?.size ?? 0, hashes: '(masked)' },
    gssapi:
      o.gssapi === undefined
        ? null
        : {
            keytab: o.gssapi.keytab ?? '(library default)',
            serviceName: o.gssapi.serviceName ?? '(any key in the keytab)',
            levels: config.gssapi?.levels ?? [...gssapiDefaults.levels],
            nec: o.gssapi.nec,
            library: o.gssapi.library ?? DEFAULT_GSSAPI_LIBRARY,
          },
    insecureOpenProxy: o.insecureOpenProxy,
    timeouts: {
      handshake: formatDuration(o.handshakeTimeout),
      connect: formatDuration(o.connectTimeout),
      idle: formatDuration(o.idleTimeout),
      drain: formatDuration(o.drainTimeout),
      bind: formatDuration(o.bindTimeout),
    },
    limits: {
      maxConnections: o.maxConnections,
      maxConnectionsPerIp: o.maxConnectionsPerIp,
      maxSessionsPerUser: o.maxSessionsPerUser,
      authFailureLimit: o.authFailureLimit,
      authFailureWindow: formatDuration(o.authFailureWindow),
    },
    protocols: o.protocols,
    http: { maxHeaderSize: o.httpMaxHeaderSize },
    access:
      config.access === undefined
        ? { default: 'allow', rules: [] }
        : {
            default: config.access.default,
            mixedResolution: config.access.mixedResolution ?? 'allowed-only',
            rules: config.access.rules,
          },
    dns: {
      servers: config.dns?.servers ?? '(system)',
      family: config.dns?.family ?? resolverDefaults.family,
      timeout: formatDuration(config.dns?.timeout ?? resolverDefaults.timeout),
      tries: config.dns?.tries ?? resolverDefaults.tries,
      cacheSize: config.dns?.cacheSize ?? resolverDefaults.cacheSize,
      minTtl: formatDuration(config.dns?.minTtl ?? resolverDefaults.minTtl * 1000),
      maxTtl: formatDuration(config.dns?.maxTtl ?? resolverDefaults.maxTtl * 1000),
      negativeTtl: formatDuration(config.dns?.negativeTtl ?? resolverDefaults.negativeTtl * 1000),
      systemFallback: config.dns?.systemFallback ?? resolverDefaults.systemFallback,
      systemTtl: formatDuration(config.dns?.systemTtl ?? resolverDefaults.systemTtl * 1000),
    },
    outbound: { ipv4: o.outbound.ipv4 ?? '(system)', ipv6: o.outbound.ipv6 ?? '(system)' },
    externalAddress: [o.externalAddress.ipv4, o.externalAddress.ipv6].filter(
      (a) => a !== undefined,
    ),
    udp: {
      ports: o.udpPorts === undefined ? '(any)' : `${o.udpPorts.from}-${o.udpPorts.to}`,
      idleTimeout: formatDuration(o.udpIdleTimeout),
      reassembly: o.udpReassembly,
      reassemblyTimeout: formatDuration(o.udpReassemblyTimeout),
      maxDatagramSize: o.udpMaxDatagramSize,
      reassemblyMemory: o.udpReassemblyMemory,
    },
    log: { level: config.log?.level ?? 'info', file: config.log?.file ?? '(stdout)' },
    admin:
      admin === undefined
        ? null
        : typeof admin === 'number'
          ? `127.0.0.1:${admin}`
          : formatHostPort(admin.host, admin.port),
    watch: config.watch ?? false,
    workers: config.workers ?? 1,
    // Unset, node:cluster's own default (NODE_CLUSTER_SCHED_POLICY) applies.
    balance:
      config.balance ??
      (process.env.NODE_CLUSTER_SCHED_POLICY === 'none' ? 'kernel' : 'round-robin'),
  };
}
