/** `ferry serve`: flags (over an optional config file) → the running server. */
import { Command, Option } from 'commander';
import { serverDefaults } from '../server/options.js';
import { gssapiDefaults, type GssapiLevelName } from '../server/gssapi-options.js';
import { formatDuration as ms } from '../config/duration.js';
import type { FerryConfig } from '../config/schema.js';
import { logLevels } from './log.js';
import {
  collect,
  parseAdminAddress,
  parseCount,
  parseDuration,
  parseGssapiLevels,
  parseIpAddress,
  parseListenAddress,
  parsePortRange,
  parsePositiveInt,
  parseReassemblyTimeout,
  parseSize,
  parseProtocols,
  parseWorkers,
  parseCidr,
} from './parse.js';
import { runServer } from './runtime.js';

interface ServeFlags {
  config?: string;
  watch?: boolean;
  listen?: { host: string; port: number }[];
  users?: string;
  gssapi?: boolean;
  gssapiKeytab?: string;
  gssapiService?: string;
  gssapiLevels?: GssapiLevelName[];
  gssapiNec?: boolean;
  gssapiLibrary?: string;
  handshakeTimeout?: number;
  connectTimeout?: number;
  idleTimeout?: number;
  maxConnections?: number;
  maxConnectionsPerIp?: number;
  maxSessionsPerUser?: number;
  authFailureLimit?: number;
  authFailureWindow?: number;
  drainTimeout?: number;
  logLevel?: FerryConfig extends { log?: { level?: infer L } } ? L : never;
  logFile?: string;
  insecureOpenProxy?: boolean;
  admin?: { host: string; port: number };
  workers?: number | 'auto';
  balance?: 'round-robin' | 'kernel';
  protocols?: ('socks5' | 'socks4' | 'http')[];
  httpMaxHeaderSize?: number;
  proxyProtocol?: boolean;
  trustedProxies?: string[];
  bindTimeout?: number;
  externalAddress?: string[];
  udpPorts?: { from: number; to: number };
  udpIdleTimeout?: number;
  /** commander's `--no-udp-reassembly`: true unless the flag was given. */
  udpReassembly?: boolean;
  udpReassemblyTimeout?: number;
  udpMaxDatagramSize?: number;
  udpReassemblyMemory?: number;
}

/** The `gssapi` section the flags give, if any: any --gssapi-* flag turns GSS-API on. */
function gssapiFlags(f: ServeFlags): FerryConfig['gssapi'] {
  const section = {
    keytab: f.gssapiKeytab,
    serviceName: f.gssapiService,
    levels: f.gssapiLevels,
    nec: f.gssapiNec,
    library: f.gssapiLibrary,
  };
  const given = Object.values(section).some((v) => v !== undefined);
  return given || f.gssapi === true ? section : undefined;
}

/** The flags as a configuration overlay: what was given on the command line wins over the file. */
function flagsToConfig(f: ServeFlags): FerryConfig {
  return {
    listen: f.listen,
    users: f.users,
    gssapi: gssapiFlags(f),
    insecureOpenProxy: f.insecureOpenProxy,
    watch: f.watch,
    timeouts: {
      handshake: f.handshakeTimeout,
      connect: f.connectTimeout,
      idle: f.idleTimeout,
      drain: f.drainTimeout,
      bind: f.bindTimeout,
    },
    limits: {
      maxConnections: f.maxConnections,
      maxConnectionsPerIp: f.maxConnectionsPerIp,
      maxSessionsPerUser: f.maxSessionsPerUser,
      authFailureLimit: f.authFailureLimit,
      authFailureWindow: f.authFailureWindow,
    },
    log: { level: f.logLevel, file: f.logFile },
    admin: f.admin,
    workers: f.workers,
    balance: f.balance,
    protocols: f.protocols,
    http: { maxHeaderSize: f.httpMaxHeaderSize },
    trustedProxies: f.trustedProxies,
    externalAddress: f.externalAddress,
    udp: {
      ports: f.udpPorts,
      idleTimeout: f.udpIdleTimeout,
      // Only the flag's presence overrides the file (commander defaults --no-X to true).
      reassembly: f.udpReassembly === false ? false : undefined,
      reassemblyTimeout: f.udpReassemblyTimeout,
      maxDatagramSize: f.udpMaxDatagramSize,
      reassemblyMemory: f.udpReassemblyMemory,
    },
  };
}

export function serveCommand(): Command {
  return new Command('serve')
    .description(
      'run the proxy server (SOCKS5, SOCKS4/4a and HTTP on one port, 127.0.0.1:1080 by default)',
    )
    .option(
      '--config <file>',
      'YAML configuration file; flags given here override it (see docs/configuration.md)',
    )
    .option('--watch', 'reload when the config file changes, as on SIGHUP')
    .option(
      '--listen <host:port>',
      'address to listen on; repeatable; [::1]:1080 for IPv6 (default: 127.0.0.1:1080)',
      collect(parseListenAddress),
    )
    .option(
      '--users <file>',
      'users file (name:scrypt-hash per line); requires username/password (RFC 1929)',
    )
    .option(
      '--gssapi',
      'offer GSS-API (Kerberos, RFC 1961) with the default keytab; implied by any --gssapi-* flag',
    )
    .option('--gssapi-keytab <file>', 'keytab holding the service key (see docs/gssapi.md)')
    .option(
      '--gssapi-service <name>',
      'service to accept as: rcmd (curl, Dante) for any host in the keytab, or rcmd@host',
    )
    .option(
      '--gssapi-levels <list>',
      `protection levels agreed, in order of preference: clear,integrity,confidentiality (default: ${gssapiDefaults.levels.join(',')})`,
      parseGssapiLevels,
    )
    .option(
      '--gssapi-nec',
      'also accept the NEC variant (unwrapped level octet; curl --socks5-gssapi-nec)',
    )
    .option('--gssapi-library <file>', 'the GSS-API shared library (default: libgssapi_krb5.so.2)')
    .option(
      '--handshake-timeout <duration>',
      `deadline from accept to reply (default: ${ms(serverDefaults.handshakeTimeout)})`,
      parseDuration,
    )
    .option(
      '--connect-timeout <duration>',
      `outgoing connect timeout (default: ${ms(serverDefaults.connectTimeout)})`,
      parseDuration,
    )
    .option(
      '--idle-timeout <duration>',
      `close tunnels idle this long; 0 = never (default: ${ms(serverDefaults.idleTimeout)})`,
      parseDuration,
    )
    .option(
      '--max-connections <n>',
      `concurrent client connections (default: ${serverDefaults.maxConnections})`,
      parsePositiveInt,
    )
    .option(
      '--max-connections-per-ip <n>',
      'concurrent connections from one client IP; 0 = unlimited (default: 0)',
      parseCount,
    )
    .option(
      '--max-sessions-per-user <n>',
      'concurrent sessions of one user; 0 = unlimited (default: 0)',
      parseCount,
    )
    .option(
      '--auth-failure-limit <n>',
      `failed logins per client IP per window before it is throttled; 0 = off (default: ${serverDefaults.authFailureLimit})`,
      parseCount,
    )
    .option(
      '--auth-failure-window <duration>',
      `the throttle window (default: ${ms(serverDefaults.authFailureWindow)})`,
      parseDuration,
    )
    .option(
      '--drain-timeout <duration>',
      `on SIGTERM/SIGINT, time for sessions to finish (default: ${ms(serverDefaults.drainTimeout)})`,
      parseDuration,
    )
    .option(
      '--bind-timeout <duration>',
      `BIND: wait this long for the peer's connection (default: ${ms(serverDefaults.bindTimeout)})`,
      parseDuration,
    )
    .option(
      '--external-address <ip>',
      'behind NAT: the address BIND and UDP ASSOCIATE replies advertise; one per family, repeatable',
      collect(parseIpAddress),
    )
    .option(
      '--udp-ports <from-to>',
      'UDP ASSOCIATE: take relay ports from this range, e.g. 40000-40999 (default: any)',
      parsePortRange,
    )
    .option(
      '--udp-idle-timeout <duration>',
      `end a UDP association idle this long; 0 = never (default: ${ms(serverDefaults.udpIdleTimeout)})`,
      parseDuration,
    )
    .option('--no-udp-reassembly', 'drop UDP fragments (FRAG != 0) instead of reassembling them')
    .option(
      '--udp-reassembly-timeout <duration>',
      `RFC 1928 reassembly timer, at least 5s (default: ${ms(serverDefaults.udpReassemblyTimeout)})`,
      parseReassemblyTimeout,
    )
    .option(
      '--udp-max-datagram-size <size>',
      `largest reassembled UDP datagram (default: ${serverDefaults.udpMaxDatagramSize / 1024}KiB)`,
      parseSize,
    )
    .option(
      '--udp-reassembly-memory <size>',
      `memory for all UDP reassembly queues together (default: ${serverDefaults.udpReassemblyMemory / 1024 / 1024}MiB)`,
      parseSize,
    )
    .option(
      '--protocols <list>',
      'dialects to answer, comma-separated: socks5,socks4,http (default: all)',
      parseProtocols,
    )
    .option(
      '--http-max-header-size <bytes>',
      `HTTP request head cap; beyond it 431 (default: ${serverDefaults.httpMaxHeaderSize})`,
      parsePositiveInt,
    )
    .addOption(new Option('--log-level <level>', 'log level (default: info)').choices(logLevels))
    .option('--log-file <file>', 'write logs to this file instead of stdout; reopened on SIGHUP')
    .option(
      '--admin <[host:]port>',
      'serve /metrics, /healthz and /readyz here (host defaults to 127.0.0.1)',
      parseAdminAddress,
    )
    .option(
      '--proxy-protocol',
      'every --listen address expects a PROXY protocol v1/v2 header from --trusted-proxies',
    )
    .option(
      '--trusted-proxies <cidr>',
      'load balancer allowed to send a PROXY header (CIDR or address); repeatable, or comma-separated',
      (value: string, previous: string[] | undefined) => [
        ...(previous ?? []),
        ...value.split(',').map(parseCidr),
      ],
    )
    .option(
      '--workers <n|auto>',
      'worker processes sharing the listeners; auto = one per core (default: 1)',
      parseWorkers,
    )
    .addOption(
      new Option(
        '--balance <how>',
        'how workers share new connections: round-robin (even) or kernel (faster, uneven)',
      ).choices(['round-robin', 'kernel']),
    )
    .option(
      '--insecure-open-proxy',
      'allow listening beyond loopback WITHOUT authentication (an open proxy: anyone who can reach it can use it)',
    )
    .action(async (flags: ServeFlags) => {
      await runServer({
        configPath: flags.config,
        flags: flagsToConfig(flags),
        proxyProtocol: flags.proxyProtocol === true,
      });
    });
}
