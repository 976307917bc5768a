/**
 * Reading a configuration file: YAML → schema → FerryConfig, with every problem reported as
 * `file:line:col: key.path: message`. Also the merge with command-line flags (flags win) and the
 * mapping to the server's options.
 */
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { configSchema, type FerryConfig } from './schema.js';
import { SocksUsageError, UsageErrorCode } from '../errors.js';
import type { ServerOptions } from '../server/options.js';
import type { UserDatabase } from '../auth/users.js';
import { compilePolicy, type PolicySpec } from '../rules/index.js';
import { DnsResolver, type ResolverOptions } from '../dial/resolver.js';

/** A configuration that failed to load; `problems` are one line each, with file:line:col. */
export class ConfigError extends SocksUsageError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(UsageErrorCode.InvalidOption, problems.join('\n'));
    this.problems = problems;
  }
}

function location(
  doc: Document,
  lines: LineCounter,
  path: readonly PropertyKey[],
  unknownKey?: string,
): string {
  const keys = path.map((k) => (typeof k === 'symbol' ? String(k) : k));
  // For an unknown key, point at the key itself; otherwise at the deepest node that exists.
  for (let depth = keys.length; depth >= 0; depth--) {
    const node = doc.getIn(keys.slice(0, depth), true);
    if (node === undefined || node === null) continue;
    if (unknownKey !== undefined && depth === keys.length && isMap(node)) {
      const item = node.items.find((i) => isScalar(i.key) && i.key.value === unknownKey);
      const range = isScalar(item?.key) ? item.key.range : undefined;
      if (range) {
        const p = lines.linePos(range[0]);
        return `${p.line}:${p.col}`;
      }
    }
    const range = (node as { range?: [number, number, number] }).range;
    if (range !== undefined) {
      const p = lines.linePos(range[0]);
      return `${p.line}:${p.col}`;
    }
  }
  return '1:1';
}

function describeIssue(
  doc: Document,
  lines: LineCounter,
  source: string,
  issue: z.core.$ZodIssue,
): string[] {
  const dotted = (path: readonly PropertyKey[]): string =>
    path.map((k) => String(k)).join('.') || '(top level)';
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map(
      (key) =>
        `${source}:${location(doc, lines, issue.path, key)}: ${dotted([...issue.path, key])}: unknown key`,
    );
  }
  if (issue.code === 'invalid_union') {
    // "Invalid input" says nothing: report the alternative the value was meant for, i.e. the
    // first whose type matched (its problem is the real one).
    const meant = issue.errors.find(
      (branch) => !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0),
    );
    if (meant !== undefined && meant.length > 0) {
      return meant.flatMap((i) =>
        describeIssue(doc, lines, source, { ...i, path: [...issue.path, ...i.path] }),
      );
    }
  }
  return [`${source}:${location(doc, lines, issue.path)}: ${dotted(issue.path)}: ${issue.message}`];
}

/** Parses configuration text. Throws ConfigError listing every problem. */
export function parseConfig(text: string, source = 'config'): FerryConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const p = e.linePos?.[0];
        return `${source}:${p ? `${p.line}:${p.col}` : '1:1'}: ${e.message.split('\n')[0] ?? 'YAML syntax error'}`;
      }),
    );
  }
  const data: unknown = doc.toJS() ?? {};
  const result = configSchema.safeParse(data);
  if (!result.success) {
    throw new ConfigError(result.error.issues.flatMap((i) => describeIssue(doc, lines, source, i)));
  }
  return result.data;
}

/** Reads and parses a configuration file. */
export async function loadConfig(path: string): Promise<FerryConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([
      `cannot read config file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  return parseConfig(text, path);
}

/** Overlays `top` on `base` (one level of sections deep): command-line flags over the file. */
export function mergeConfig(base: FerryConfig, top: FerryConfig): FerryConfig {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(top)) {
    if (value === undefined) continue;
    const current = out[key];
    const isSection =
      typeof value === 'object' &&
      !Array.isArray(value) &&
      typeof current === 'object' &&
      current !== null &&
      !Array.isArray(current);
    out[key] = isSection
      ? {
          ...current,
          ...Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)),
        }
      : value;
  }
  return out;
}

/** The server options a configuration describes. */
export function serverOptionsFrom(
  config: FerryConfig,
  users: UserDatabase | undefined,
): ServerOptions {
  return {
    users,
    insecureOpenProxy: config.insecureOpenProxy,
    handshakeTimeout: config.timeouts?.handshake,
    connectTimeout: config.timeouts?.connect,
    idleTimeout: config.timeouts?.idle,
    drainTimeout: config.timeouts?.drain,
    maxConnections: config.limits?.maxConnections,
    maxConnectionsPerIp: config.limits?.maxConnectionsPerIp,
    maxSessionsPerUser: config.limits?.maxSessionsPerUser,
    authFailureLimit: config.limits?.authFailureLimit,
    authFailureWindow: config.limits?.authFailureWindow,
    protocols: config.protocols,
    httpMaxHeaderSize: config.http?.maxHeaderSize,
    rules:
      config.access === undefined
        ? undefined
        : compilePolicy(config.access as PolicySpec, {
            groupsOf: (user) => users?.get(user)?.groups,
          }),
    resolver: new DnsResolver(resolverOptions(config.dns)),
    outbound: config.outbound,
    trustedProxies: config.trustedProxies,
    bindTimeout: config.timeouts?.bind,
    externalAddress: config.externalAddress,
    udpPorts: config.udp?.ports,
    udpIdleTimeout: config.udp?.idleTimeout,
    udpReassembly: config.udp?.reassembly,
    udpReassemblyTimeout: config.udp?.reassemblyTimeout,
    udpMaxDatagramSize: config.udp?.maxDatagramSize,
    udpReassemblyMemory: config.udp?.reassemblyMemory,
  };
}

/** The `dns` section as DnsResolver options (the config speaks ms, the resolver's TTLs seconds). */
function resolverOptions(dns: FerryConfig['dns']): ResolverOptions {
  if (dns === undefined) return {};
  const seconds = (ms: number | undefined): number | undefined =>
    ms === undefined ? undefined : ms / 1000;
  const entries = Object.entries({
    servers: dns.servers,
    family: dns.family,
    timeout: dns.timeout,
    tries: dns.tries,
    cacheSize: dns.cacheSize,
    minTtl: seconds(dns.minTtl),
    maxTtl: seconds(dns.maxTtl),
    negativeTtl: seconds(dns.negativeTtl),
    systemFallback: dns.systemFallback,
    systemTtl: seconds(dns.systemTtl),
  }).filter(([, v]) => v !== undefined);
  return Object.fromEntries(entries);
}
