/**
 * Rule specs (what a config file or a library user writes) and their compiled form.
 *
 * A rule matches when *all* conditions it gives match; a condition given as a list matches when
 * *any* element does; a rule with no conditions matches everything. First match wins; the
 * policy's `default` decides when no rule matches. Every value is validated here, and a bad one
 * is reported with its path (`rules[2].destination[1]`), never silently ignored.
 */
import type { CommandName } from '../protocol/constants.js';
import { AddressSet, type Prefix } from './address-set.js';
import { parsePrefix } from './cidr.js';
import { DomainMatcher, parseDomainPattern } from './domain.js';
import { namedSets } from './named-sets.js';
import { parsePortRange, PortSet } from './ports.js';

/** What a rule does when it matches. */
export type RuleAction = 'allow' | 'deny';
/** The protocol a client speaks; SOCKS4a counts as `socks4`. */
export type Dialect = 'socks5' | 'socks4' | 'http';
/** One value, or a list meaning "any of these". */
export type OneOrMany<T> = T | readonly T[];

/** One access rule as written. */
export interface RuleSpec {
  /** For logs and metrics; default `rule N` (1-based). */
  readonly name?: string;
  readonly action: RuleAction;
  /** Client addresses: CIDRs, addresses or named sets (`private`, `loopback`). */
  readonly client?: OneOrMany<string>;
  /** Authenticated user names; `*` is any authenticated user. Never matches anonymous sessions. */
  readonly user?: OneOrMany<string>;
  /** Groups of the authenticated user (from `groupsOf`). Never matches anonymous sessions. */
  readonly group?: OneOrMany<string>;
  readonly command?: OneOrMany<CommandName>;
  readonly dialect?: OneOrMany<Dialect>;
  /**
   * Destinations: CIDRs or addresses (checked against the address actually connected to, after
   * DNS), named sets, domain names and `*.domain` patterns (checked against the name the client
   * sent). See docs/rules.md.
   */
  readonly destination?: OneOrMany<string>;
  /** Destination ports: `443`, `"8000-8999"`, or a list. */
  readonly port?: OneOrMany<number | string>;
  /**
   * Allow rules only: matching clients may go without credentials although users are configured
   * (SOCKS4, which carries no password; HTTP requests without `Proxy-Authorization`). Such a
   * session is then allowed only by rules that say `anonymous: true` — never by an ordinary allow
   * rule or an `allow` default, which are meant for authenticated users.
   */
  readonly anonymous?: boolean;
}

/** What to do when a name resolves to some allowed and some denied addresses. */
export type MixedResolution = 'allowed-only' | 'deny';

/** A whole policy as written. */
export interface PolicySpec {
  readonly rules: readonly RuleSpec[];
  /** Required: the action when no rule matches. */
  readonly default: RuleAction;
  /**
   * `allowed-only` (default): connect only among the allowed addresses; `deny`: refuse the
   * destination if any of its addresses is denied.
   */
  readonly mixedResolution?: MixedResolution;
}

/** Which rule decided: `index` is 0-based in `rules`, or -1 for the default. */
export interface RuleRef {
  readonly index: number;
  readonly name: string;
}

/** A compiled rule. Internal to src/rules. */
export interface CompiledRule {
  readonly ref: RuleRef;
  readonly action: RuleAction;
  readonly clients: AddressSet | undefined;
  readonly users: ReadonlySet<string> | undefined;
  readonly anyUser: boolean;
  readonly groups: ReadonlySet<string> | undefined;
  readonly commands: ReadonlySet<CommandName> | undefined;
  readonly dialects: ReadonlySet<Dialect> | undefined;
  readonly names: DomainMatcher | undefined;
  readonly addresses: AddressSet | undefined;
  /** True when the rule has a destination condition (names and/or addresses). */
  readonly hasDestination: boolean;
  readonly ports: PortSet | undefined;
  readonly anonymous: boolean;
}

/** A problem in a spec, with the path of the offending value. */
export interface PolicyIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

export const COMMANDS: readonly CommandName[] = ['connect', 'bind', 'udp'];
export const DIALECTS: readonly Dialect[] = ['socks5', 'socks4', 'http'];
const ACTIONS: readonly RuleAction[] = ['allow', 'deny'];
const KEYS = new Set([
  'name',
  'action',
  'client',
  'user',
  'group',
  'command',
  'dialect',
  'destination',
  'port',
  'anonymous',
]);

type Path = readonly (string | number)[];

/** Formats a path the way messages name fields: `rules[2].destination[1]`. */
export function formatPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

class Collector {
  readonly issues: PolicyIssue[] = [];
  add(path: Path, message: string): void {
    this.issues.push({ path, message });
  }
}

/** Turns a condition into a non-empty list with the path of each element; undefined if absent. */
function listOf<T>(
  value: OneOrMany<T> | undefined,
  path: Path,
  c: Collector,
): [T, Path][] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) return [[value as T, path]];
  const list = value as readonly T[];
  if (list.length === 0) c.add(path, 'an empty list matches nothing; omit the condition instead');
  return list.map((v, i) => [v, [...path, i]]);
}

function stringsOf(
  value: OneOrMany<string> | undefined,
  path: Path,
  c: Collector,
): [string, Path][] | undefined {
  const list = listOf(value, path, c);
  for (const [v, p] of list ?? [])
    if (typeof v !== 'string' || v === '') c.add(p, 'expected a non-empty string');
  return list;
}

function enumSet<T extends string>(
  value: OneOrMany<T> | undefined,
  allowed: readonly T[],
  path: Path,
  c: Collector,
): ReadonlySet<T> | undefined {
  const list = listOf(value, path, c);
  if (list === undefined) return undefined;
  for (const [v, p] of list)
    if (!allowed.includes(v)) c.add(p, `${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
  return new Set(list.map(([v]) => v));
}

/** Parses CIDRs/addresses/named sets into a set; with `domains`, also collects domain patterns. */
function addressesAndNames(
  list: [string, Path][],
  c: Collector,
  domains: string[] | undefined,
): AddressSet | undefined {
  const prefixes: Prefix[] = [];
  const sets: AddressSet[] = [];
  for (const [text, path] of list) {
    if (typeof text !== 'string') continue;
    const named = namedSets.get(text);
    if (named !== undefined) {
      sets.push(named);
      continue;
    }
    const looksLikeAddress = /^[0-9a-fA-F:.]*[:/]|^[0-9.]+$/.test(text);
    if (domains === undefined || looksLikeAddress) {
      const p = parsePrefix(text);
      if (typeof p === 'string') c.add(path, p);
      else prefixes.push(p);
      continue;
    }
    const d = parseDomainPattern(text);
    if (typeof d === 'string') domains.push(d);
    else c.add(path, d.problem);
  }
  if (prefixes.length === 0 && sets.length === 0) return undefined;
  return AddressSet.union([...sets, new AddressSet(prefixes)]);
}

function compileRule(
  spec: RuleSpec,
  index: number,
  c: Collector,
  hasGroups: boolean,
): CompiledRule {
  const at = (key: string): Path => ['rules', index, key];
  if (typeof spec !== 'object' || (spec as unknown) === null) {
    c.add(['rules', index], 'a rule must be an object');
    spec = { action: 'deny' };
  }
  for (const key of Object.keys(spec))
    if (!KEYS.has(key)) c.add(at(key), `unknown condition "${key}"`);
  if (!ACTIONS.includes(spec.action)) c.add(at('action'), 'must be "allow" or "deny"');
  if (spec.name !== undefined && (typeof spec.name !== 'string' || spec.name === '')) {
    c.add(at('name'), 'expected a non-empty string');
  }
  if (spec.anonymous !== undefined) {
    if (typeof spec.anonymous !== 'boolean') c.add(at('anonymous'), 'expected true or false');
    else if (spec.anonymous && spec.action !== 'allow')
      c.add(at('anonymous'), 'only an allow rule can let clients in without credentials');
    else if (spec.anonymous && (spec.user !== undefined || spec.group !== undefined))
      c.add(at('anonymous'), 'cannot be combined with user or group (they need credentials)');
  }
  const clientList = stringsOf(spec.client, at('client'), c);
  const userList = stringsOf(spec.user, at('user'), c);
  const groupList = stringsOf(spec.group, at('group'), c);
  if (groupList !== undefined && !hasGroups) {
    c.add(at('group'), 'groups need a users file that defines them (no groupsOf lookup given)');
  }
  const destList = stringsOf(spec.destination, at('destination'), c);
  const domains: string[] = [];
  const addresses = destList === undefined ? undefined : addressesAndNames(destList, c, domains);
  const portList = listOf(spec.port, at('port'), c);
  const ranges: (readonly [number, number])[] = [];
  for (const [v, p] of portList ?? []) {
    const r =
      typeof v === 'number' || typeof v === 'string' ? parsePortRange(v) : 'expected a port';
    if (typeof r === 'string') c.add(p, r);
    else ranges.push(r);
  }
  const users = userList?.map(([u]) => u);
  return {
    ref: {
      index,
      name: typeof spec.name === 'string' && spec.name !== '' ? spec.name : `rule ${index + 1}`,
    },
    action: spec.action,
    clients:
      clientList === undefined
        ? undefined
        : (addressesAndNames(clientList, c, undefined) ?? new AddressSet([])),
    users: users === undefined ? undefined : new Set(users.filter((u) => u !== '*')),
    anyUser: users?.includes('*') ?? false,
    groups: groupList === undefined ? undefined : new Set(groupList.map(([g]) => g)),
    commands: enumSet(spec.command, COMMANDS, at('command'), c),
    dialects: enumSet(spec.dialect, DIALECTS, at('dialect'), c),
    names: domains.length > 0 ? new DomainMatcher(domains) : undefined,
    addresses,
    hasDestination: destList !== undefined,
    ports: portList === undefined ? undefined : new PortSet(ranges),
    anonymous: spec.anonymous === true,
  };
}

/** The compiled rules plus the issues found; the policy refuses to build when there are any. */
export function compileRules(
  spec: PolicySpec,
  hasGroups: boolean,
): { rules: CompiledRule[]; issues: PolicyIssue[] } {
  const c = new Collector();
  if (typeof spec !== 'object' || (spec as unknown) === null) {
    c.add([], 'a policy must be an object with "rules" and "default"');
    return { rules: [], issues: c.issues };
  }
  for (const key of Object.keys(spec)) {
    if (!['rules', 'default', 'mixedResolution'].includes(key))
      c.add([key], `unknown key "${key}"`);
  }
  if (!ACTIONS.includes(spec.default)) c.add(['default'], 'required: "allow" or "deny"');
  if (
    spec.mixedResolution !== undefined &&
    !['allowed-only', 'deny'].includes(spec.mixedResolution)
  ) {
    c.add(['mixedResolution'], 'must be "allowed-only" or "deny"');
  }
  if (!Array.isArray(spec.rules)) {
    c.add(['rules'], 'expected a list of rules');
    return { rules: [], issues: c.issues };
  }
  const rules = (spec.rules as readonly RuleSpec[]).map((r, i) => compileRule(r, i, c, hasGroups));
  return { rules, issues: c.issues };
}
