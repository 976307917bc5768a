/**
 * The configuration file's schema (zod): the single description of every key, from which the
 * JSON Schema for editors is generated (schema/ferry.schema.json) and `check-config` validates.
 * Values are normalised on the way in (durations to ms, addresses to {host, port}); defaults
 * live in the server options (src/server/options.ts), not here, so there is one source of them.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { parseHostPort } from '../protocol/address.js';
import { findPolicyIssues, parsePrefix, type PolicySpec } from '../rules/index.js';

const durationText = /^(0|\d+(\.\d+)?(ms|s|m|h|d))$/;

/** `500ms`, `10s`, `2m`, `2h`, `1d` or `0`, to milliseconds. */
export const duration = z
  .union([
    z.string().regex(durationText, 'a duration such as 500ms, 10s, 2m, 2h or 0'),
    z.literal(0),
  ])
  .transform((v, ctx) => {
    const ms = typeof v === 'number' ? v : parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${String(v)}" is too long a duration` });
      return z.NEVER;
    }
    return ms;
  });

/** `host:port` or `[v6]:port`. */
export const hostPort = z.string().transform((v, ctx) => {
  try {
    return parseHostPort(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const count = z.number().int().nonnegative();

/** A CIDR or address, written plainly (checked by the rules' own parser). */
const cidr = z.string().superRefine((v, ctx) => {
  const prefix = parsePrefix(v);
  if (typeof prefix === 'string') ctx.addIssue({ code: 'custom', message: prefix });
});

/** `host:port`, or `{ address: host:port, proxyProtocol: true }` for a listener behind a balancer. */
const listenEntry = z.union([
  hostPort,
  z
    .strictObject({
      address: hostPort,
      proxyProtocol: z
        .boolean()
        .optional()
        .describe('Expect a PROXY protocol header from trustedProxies.'),
    })
    .transform((o) => ({ ...o.address, proxyProtocol: o.proxyProtocol })),
]);
const positive = z.number().int().positive();

const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1)]);

const ruleSchema = z.strictObject({
  name: z.string().min(1).optional().describe('Name for logs and metrics (default "rule N").'),
  action: z.enum(['allow', 'deny']),
  client: oneOrMany(z.string())
    .optional()
    .describe('Client CIDRs, addresses or named sets (private, loopback).'),
  user: oneOrMany(z.string())
    .optional()
    .describe('Authenticated users; "*" = any authenticated user.'),
  group: oneOrMany(z.string())
    .optional()
    .describe('Groups of the authenticated user (users file).'),
  command: oneOrMany(z.enum(['connect', 'bind', 'udp'])).optional(),
  dialect: oneOrMany(z.enum(['socks5', 'socks4', 'http'])).optional(),
  destination: oneOrMany(z.string())
    .optional()
    .describe(
      'CIDRs/addresses/named sets (checked on the resolved address) or names and *.name patterns.',
    ),
  port: oneOrMany(z.union([z.number().int(), z.string()]))
    .optional()
    .describe('Ports: 443 or "8000-8999".'),
  anonymous: z
    .boolean()
    .optional()
    .describe(
      'Allow rules: matching clients may go without credentials although users are configured (SOCKS4, HTTP without Proxy-Authorization); such sessions are allowed only by anonymous rules.',
    ),
});

const accessSchema = z
  .strictObject({
    default: z.enum(['allow', 'deny']).describe('What happens when no rule matches.'),
    mixedResolution: z
      .enum(['allowed-only', 'deny'])
      .optional()
      .describe(
        'A name resolving to allowed and denied addresses: connect among the allowed (default) or deny.',
      ),
    rules: z.array(ruleSchema).default([]).describe('Ordered; the first match wins.'),
  })
  .superRefine((access, ctx) => {
    // The policy compiler knows every semantic rule (CIDR host bits, globs, port ranges...).
    for (const issue of findPolicyIssues(access as PolicySpec, { groupsOf: () => undefined })) {
      ctx.addIssue({ code: 'custom', path: [...issue.path], message: issue.message });
    }
  });

const dnsSchema = z.strictObject({
  servers: z
    .array(z.string())
    .min(1)
    .optional()
    .describe('DNS servers ("1.1.1.1", "[::1]:5353"); default: the system\'s.'),
  family: z
    .enum(['ipv4first', 'ipv6first', 'ipv4only', 'ipv6only'])
    .optional()
    .describe('Address family preference (default ipv4first).'),
  timeout: duration.optional().describe('Per-try DNS timeout (default 2s).'),
  tries: z.number().int().min(1).max(10).optional().describe('Tries per server (default 2).'),
  cacheSize: count.optional().describe('Names cached (default 10000).'),
  minTtl: duration.optional().describe('Lower clamp of record TTLs (default 1s).'),
  maxTtl: duration.optional().describe('Upper clamp of record TTLs (default 5m).'),
  negativeTtl: duration.optional().describe('How long "no such name" is cached (default 5s).'),
  systemFallback: z
    .boolean()
    .optional()
    .describe('Ask the system resolver (/etc/hosts...) when DNS fails (default true).'),
  systemTtl: duration
    .optional()
    .describe('How long system-resolver answers are cached (default 30s).'),
});

const gssapiSchema = z.strictObject({
  keytab: z
    .string()
    .min(1)
    .optional()
    .describe('Keytab with the service key (default: KRB5_KTNAME, else /etc/krb5.keytab).'),
  serviceName: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Service to accept as: "rcmd" (curl, Dante) for any host in the keytab, or "rcmd@host" (default: any key in the keytab).',
    ),
  levels: z
    .array(z.enum(['clear', 'integrity', 'confidentiality']))
    .min(1)
    .optional()
    .describe(
      'Protection levels agreed, in order of preference (default [integrity, confidentiality]); "clear" authenticates only (curl).',
    ),
  nec: z
    .boolean()
    .optional()
    .describe('Also accept the NEC variant: an unwrapped level octet (default false).'),
  library: z
    .string()
    .min(1)
    .optional()
    .describe('The GSS-API shared library (default libgssapi_krb5.so.2).'),
});

const outboundSchema = z.strictObject({
  ipv4: z.ipv4().optional().describe('Source address for outgoing IPv4 connections.'),
  ipv6: z.ipv6().optional().describe('Source address for outgoing IPv6 connections.'),
});

/** `40000-40999` (or one port) to `{ from, to }`; the server checks the order. */
const portRange = z
  .union([z.number().int().min(1).max(65535), z.string().regex(/^\d{1,5}(-\d{1,5})?$/)])
  .transform((v, ctx) => {
    const [from, to = from] = String(v).split('-').map(Number) as [number, number?];
    if (from < 1 || to > 65535 || from > to) {
      ctx.addIssue({
        code: 'custom',
        message: `"${String(v)}" is not a port range such as 40000-40999`,
      });
      return z.NEVER;
    }
    return { from, to };
  });

const udpSchema = z.strictObject({
  ports: portRange
    .optional()
    .describe('Relay ports for UDP ASSOCIATE, e.g. "40000-40999", for a firewall (default any).'),
  idleTimeout: duration
    .optional()
    .describe('End an association with no datagram either way this long; 0 = never (default 2m).'),
  reassembly: z
    .boolean()
    .optional()
    .describe('Reassemble RFC 1928 fragments (default true); false drops them.'),
  reassemblyTimeout: duration
    .optional()
    .describe('The reassembly timer, at least 5s (default 5s).'),
  maxDatagramSize: positive
    .optional()
    .describe('Largest reassembled datagram in octets (default 65536).'),
  reassemblyMemory: positive
    .optional()
    .describe('Octets all reassembly queues may hold together (default 16 MiB).'),
});

export const logLevelSchema = z.enum([
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
]);

export const configSchema = z
  .strictObject({
    listen: z
      .array(listenEntry)
      .min(1)
      .optional()
      .describe('Addresses to listen on (default ["127.0.0.1:1080"]).'),
    trustedProxies: z
      .array(cidr)
      .optional()
      .describe('Load balancers (CIDRs/addresses) whose PROXY protocol header is believed.'),
    users: z
      .string()
      .min(1)
      .optional()
      .describe('Users file (name:scrypt-hash[:groups] per line); requires username/password.'),
    gssapi: gssapiSchema
      .optional()
      .describe('GSS-API / Kerberos authentication and protection (RFC 1961; docs/gssapi.md).'),
    insecureOpenProxy: z
      .boolean()
      .optional()
      .describe('Allow a non-loopback listener without authentication.'),
    timeouts: z
      .strictObject({
        handshake: duration.optional().describe('Deadline from accept to reply (default 10s).'),
        connect: duration.optional().describe('Outgoing connect timeout (default 10s).'),
        idle: duration.optional().describe('Close tunnels idle this long; 0 = never (default 2h).'),
        drain: duration
          .optional()
          .describe('Time sessions get to finish on SIGTERM (default 10s).'),
        bind: duration
          .optional()
          .describe("BIND: wait this long for the peer's connection (default 2m)."),
      })
      .optional(),
    limits: z
      .strictObject({
        maxConnections: positive
          .optional()
          .describe('Concurrent client connections (default 10000).'),
        maxConnectionsPerIp: count
          .optional()
          .describe('Concurrent connections per client IP; 0 = unlimited (default).'),
        maxSessionsPerUser: count
          .optional()
          .describe('Concurrent sessions per user; 0 = unlimited (default).'),
        authFailureLimit: count
          .optional()
          .describe(
            'Failed logins per client IP per window before throttling; 0 = off (default 10).',
          ),
        authFailureWindow: duration
          .optional()
          .describe('Window of the failed-login throttle (default 1m).'),
      })
      .optional(),
    protocols: z
      .array(z.enum(['socks5', 'socks4', 'http']))
      .min(1)
      .optional()
      .describe('Dialects answered on the listeners (default all: socks5, socks4, http).'),
    http: z
      .strictObject({
        maxHeaderSize: z
          .number()
          .int()
          .min(256)
          .max(1024 * 1024)
          .optional()
          .describe('Cap on an HTTP request head in octets; beyond it 431 (default 16384).'),
      })
      .optional()
      .describe('The HTTP proxy dialect.'),
    access: accessSchema.optional().describe('Access rules (docs/rules.md).'),
    dns: dnsSchema.optional().describe('How destination names are resolved.'),
    outbound: outboundSchema.optional().describe('Outgoing connections.'),
    externalAddress: oneOrMany(z.union([z.ipv4(), z.ipv6()]))
      .optional()
      .describe(
        'Behind NAT: the address BIND and UDP ASSOCIATE replies advertise (one IPv4 and/or one IPv6).',
      ),
    udp: udpSchema.optional().describe('UDP ASSOCIATE.'),
    log: z
      .strictObject({
        level: logLevelSchema.optional().describe('Log level (default info).'),
        file: z
          .string()
          .min(1)
          .optional()
          .describe('Log file (default stdout); reopened on SIGHUP for rotation.'),
      })
      .optional(),
    admin: z
      .union([z.number().int().min(0).max(65535), hostPort])
      .optional()
      .describe(
        'Admin listener for /metrics, /healthz, /readyz: a port (on 127.0.0.1) or host:port.',
      ),
    watch: z
      .boolean()
      .optional()
      .describe('Reload when the config file changes, as on SIGHUP (default false).'),
    workers: z
      .union([z.number().int().min(1).max(1024), z.literal('auto')])
      .optional()
      .describe(
        'Worker processes sharing the listeners (node:cluster); "auto" = one per core (default 1).',
      ),
    balance: z
      .enum(['round-robin', 'kernel'])
      .optional()
      .describe(
        'How workers share new connections: "round-robin" (the primary accepts and hands each to the next worker; even spread) or "kernel" (every worker accepts on the shared socket; more connections per second, uneven spread). Default round-robin, or NODE_CLUSTER_SCHED_POLICY.',
      ),
  })
  .describe('ferry configuration');

/** The configuration after validation: durations in ms, addresses parsed. */
export type FerryConfig = z.output<typeof configSchema>;
