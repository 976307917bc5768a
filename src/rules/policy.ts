/**
 * The access policy: compiled once, evaluated per session, per destination and per address.
 *
 * Evaluation is split where DNS splits it. {@link Policy.session} applies everything known when
 * a request arrives (client, user, groups, command, dialect) once, leaving a short list of rules
 * that only look at the destination. {@link SessionPolicy.checkDestination} then decides an IP
 * literal at once; for a name it decides whatever the name and port decide (domain patterns,
 * ports, rules without a destination) and leaves the rest to {@link NameCheck.checkAddresses},
 * run on the *resolved* addresses — so CIDR rules and `private` see the address that will be
 * connected to, never a name or an odd spelling.
 */
import { SocksUsageError, UsageErrorCode } from '../errors.js';
import type { CommandName } from '../protocol/constants.js';
import type { AddressSet } from './address-set.js';
import {
  compileRules,
  formatPath,
  type CompiledRule,
  type Dialect,
  type MixedResolution,
  type PolicyIssue,
  type PolicySpec,
  type RuleAction,
  type RuleRef,
} from './compile.js';
import type { DomainMatcher } from './domain.js';
import { normalizeHost } from './host.js';
import { parseObservedAddress, type IpAddress } from './ip.js';
import type { PortSet } from './ports.js';

/** A decision and the rule that made it. */
export interface Verdict {
  readonly action: RuleAction;
  readonly rule: RuleRef;
}

/** What is known about a session before it names a destination. */
export interface SessionFacts {
  /** The client's address (after PROXY protocol), e.g. a socket's `remoteAddress`. */
  readonly client: string | IpAddress;
  /** The authenticated user; absent or undefined for anonymous sessions. */
  readonly user?: string | undefined;
  readonly command: CommandName;
  readonly dialect: Dialect;
  /**
   * The session goes without credentials although users are configured, let in by an
   * `anonymous: true` rule ({@link Policy.admitsAnonymous}): only such rules can allow it, and an
   * `allow` default counts as deny.
   */
  readonly anonymous?: boolean | undefined;
}

/** Options of {@link compilePolicy}. */
export interface PolicyOptions {
  /** The groups of a user (from the users file). Required when a rule uses `group`. */
  readonly groupsOf?: (user: string) => Iterable<string> | undefined;
}

/** A rule reduced to its destination conditions for one session. */
interface DestinationRule {
  readonly verdict: Verdict;
  readonly names: DomainMatcher | undefined;
  readonly addresses: AddressSet | undefined;
  readonly ports: PortSet | undefined;
}

/** The result of checking an address list: which addresses may be connected to. */
export interface AddressesVerdict {
  /** allow (with the rule that allowed the first allowed address) or deny. */
  readonly verdict: Verdict;
  /** The addresses that may be connected to, in the order given. Empty when denied. */
  readonly allowed: readonly IpAddress[];
  /** The addresses refused, each with the rule that refused it. */
  readonly denied: readonly { readonly ip: IpAddress; readonly verdict: Verdict }[];
}

function toAddress(value: string | IpAddress, what: string): IpAddress {
  if (typeof value !== 'string') return value;
  const ip = parseObservedAddress(value);
  if (ip === undefined) {
    throw new SocksUsageError(
      UsageErrorCode.InvalidArgument,
      `${what} is not an IP address: "${value}"`,
    );
  }
  return ip;
}

/** Decides each address by the conditional rules, then the fallback. */
function decideAddress(
  conditional: readonly DestinationRule[],
  fallback: Verdict,
  ip: IpAddress,
): Verdict {
  for (const r of conditional) if (r.addresses?.matches(ip) === true) return r.verdict;
  return fallback;
}

/**
 * A destination given as a name. `verdict` is set when the name and port alone decide it (then
 * no address can change it; a `deny` needs no DNS at all). Otherwise resolve the name and call
 * {@link NameCheck.checkAddresses}.
 */
export class NameCheck {
  readonly kind = 'name';
  readonly #conditional: readonly DestinationRule[];
  readonly #fallback: Verdict;
  readonly #mixed: MixedResolution;

  /** @internal */
  constructor(
    readonly name: string,
    conditional: readonly DestinationRule[],
    fallback: Verdict,
    mixed: MixedResolution,
  ) {
    this.#conditional = conditional;
    this.#fallback = fallback;
    this.#mixed = mixed;
    // When every path ends in deny, refuse before DNS; the rule reported is the fallback.
    const allDeny =
      fallback.action === 'deny' && conditional.every((r) => r.verdict.action === 'deny');
    this.verdict = conditional.length === 0 || allDeny ? fallback : undefined;
  }

  readonly verdict: Verdict | undefined;

  /**
   * Decides each resolved address (strings are parsed; IPv4-mapped counts as IPv4). With
   * `mixedResolution: 'allowed-only'` the destination is allowed when any address is, and only
   * those may be connected to; with `'deny'` one denied address denies the destination.
   * Throws SocksUsageError for an empty list or a string that is not an address.
   */
  checkAddresses(addresses: readonly (string | IpAddress)[]): AddressesVerdict {
    if (addresses.length === 0) {
      throw new SocksUsageError(
        UsageErrorCode.InvalidArgument,
        `no addresses to check for ${this.name}`,
      );
    }
    const allowed: IpAddress[] = [];
    const denied: { ip: IpAddress; verdict: Verdict }[] = [];
    let firstAllow: Verdict | undefined;
    for (const a of addresses) {
      const ip = toAddress(a, 'a resolved address');
      const verdict = this.verdict ?? decideAddress(this.#conditional, this.#fallback, ip);
      if (verdict.action === 'allow') {
        allowed.push(ip);
        firstAllow ??= verdict;
      } else {
        denied.push({ ip, verdict });
      }
    }
    const firstDenied = denied[0];
    if (firstDenied !== undefined && (firstAllow === undefined || this.#mixed === 'deny')) {
      return { verdict: firstDenied.verdict, allowed: [], denied };
    }
    return { verdict: firstAllow ?? this.#fallback, allowed, denied };
  }
}

/** The result of {@link SessionPolicy.checkDestination}. */
export type DestinationCheck =
  | {
      readonly kind: 'ip';
      readonly ip: IpAddress;
      /** False when the client used an odd spelling of the address. */
      readonly canonical: boolean;
      readonly verdict: Verdict;
    }
  | NameCheck
  | { readonly kind: 'invalid'; readonly reason: string };

/**
 * The policy for one session: rules that cannot apply to it are gone, the rest only look at
 * the destination. Cheap enough per UDP datagram (no allocation for IP destinations beyond the
 * result object). Immutable.
 */
export class SessionPolicy {
  readonly #rules: readonly DestinationRule[];
  readonly #fallback: Verdict;
  readonly #mixed: MixedResolution;
  /**
   * Set when every destination gets the same action (e.g. `deny` for a UDP ASSOCIATE that no
   * rule could allow: refuse it up front). The rule is the one that ends the list for this
   * session (the first without destination or port conditions, or the default).
   */
  readonly fixed: Verdict | undefined;

  /** @internal */
  constructor(rules: readonly DestinationRule[], fallback: Verdict, mixed: MixedResolution) {
    this.#rules = rules;
    this.#fallback = fallback;
    this.#mixed = mixed;
    this.fixed = rules.every((r) => r.verdict.action === fallback.action) ? fallback : undefined;
  }

  /**
   * Checks a destination as the client sent it (`host` in any spelling; `port` 0–65535).
   * An IP literal is decided now; a name returns a {@link NameCheck}; a host that is neither
   * (bad characters, zone ids, `1.2.3.256`) is `invalid` — answer it as unreachable (04).
   */
  checkDestination(host: string, port: number): DestinationCheck {
    const target = normalizeHost(host);
    if (target.kind === 'invalid') return target;
    if (target.kind === 'ip') {
      return {
        kind: 'ip',
        ip: target.ip,
        canonical: target.canonical,
        verdict: this.checkAddress(target.ip, port),
      };
    }
    const conditional: DestinationRule[] = [];
    for (const r of this.#rules) {
      if (r.ports !== undefined && !r.ports.has(port)) continue;
      const byName = r.names?.matches(target.name) === true;
      const unconditional = r.names === undefined && r.addresses === undefined;
      if (byName || unconditional)
        return new NameCheck(target.name, conditional, r.verdict, this.#mixed);
      if (r.addresses !== undefined) conditional.push(r);
    }
    return new NameCheck(target.name, conditional, this.#fallback, this.#mixed);
  }

  /**
   * Checks one address and port: an IP destination, a UDP datagram's destination, BIND's
   * incoming peer. Domain patterns never match an address. Strings are parsed as observed
   * addresses (IPv4-mapped folds to IPv4); throws SocksUsageError for a non-address string.
   */
  checkAddress(address: string | IpAddress, port: number): Verdict {
    const ip = toAddress(address, 'address');
    for (const r of this.#rules) {
      if (r.ports !== undefined && !r.ports.has(port)) continue;
      if (r.names === undefined && r.addresses === undefined) return r.verdict;
      if (r.addresses?.matches(ip) === true) return r.verdict;
    }
    return this.#fallback;
  }
}

/** The default action, reported as rule index -1 named `default`. */
export const DEFAULT_RULE_NAME = 'default';

/** A compiled, immutable policy. Create with {@link compilePolicy}. */
export class Policy {
  readonly #rules: readonly CompiledRule[];
  readonly #default: Verdict;
  readonly #mixed: MixedResolution;
  readonly #groupsOf: ((user: string) => Iterable<string> | undefined) | undefined;

  /** @internal */
  constructor(rules: readonly CompiledRule[], spec: PolicySpec, options: PolicyOptions) {
    this.#rules = rules;
    this.#default = { action: spec.default, rule: { index: -1, name: DEFAULT_RULE_NAME } };
    this.#mixed = spec.mixedResolution ?? 'allowed-only';
    this.#groupsOf = options.groupsOf;
  }

  /**
   * Applies the session facts to every rule, once. Throws SocksUsageError when `client` is
   * not an IP address.
   */
  session(facts: SessionFacts): SessionPolicy {
    const client = toAddress(facts.client, 'client');
    const user = facts.user;
    const anonymous = facts.anonymous === true;
    let groups: ReadonlySet<string> | undefined;
    const rules: DestinationRule[] = [];
    for (const r of this.#rules) {
      if (anonymous && r.action === 'allow' && !r.anonymous) continue;
      if (r.commands !== undefined && !r.commands.has(facts.command)) continue;
      if (r.dialects !== undefined && !r.dialects.has(facts.dialect)) continue;
      if (r.clients !== undefined && !r.clients.matches(client)) continue;
      if (r.users !== undefined && (user === undefined || !(r.anyUser || r.users.has(user))))
        continue;
      if (r.groups !== undefined) {
        if (user === undefined) continue;
        groups ??= new Set(this.#groupsOf?.(user) ?? []);
        let any = false;
        for (const g of r.groups) if (groups.has(g)) any = true;
        if (!any) continue;
      }
      const verdict: Verdict = { action: r.action, rule: r.ref };
      if (!r.hasDestination && r.ports === undefined) {
        return new SessionPolicy(rules, verdict, this.#mixed);
      }
      rules.push({ verdict, names: r.names, addresses: r.addresses, ports: r.ports });
    }
    const fallback =
      anonymous && this.#default.action === 'allow'
        ? { action: 'deny' as const, rule: this.#default.rule }
        : this.#default;
    return new SessionPolicy(rules, fallback, this.#mixed);
  }

  /**
   * Whether a client without credentials may go on although users are configured: some
   * `anonymous: true` rule matches its address, command and dialect. Its destinations are then
   * decided with `anonymous: true` in the {@link SessionFacts}.
   */
  admitsAnonymous(facts: Omit<SessionFacts, 'user' | 'anonymous'>): boolean {
    const client = toAddress(facts.client, 'client');
    return this.#rules.some(
      (r) =>
        r.anonymous &&
        (r.commands === undefined || r.commands.has(facts.command)) &&
        (r.dialects === undefined || r.dialects.has(facts.dialect)) &&
        (r.clients === undefined || r.clients.matches(client)),
    );
  }

  /**
   * One-shot evaluation: {@link Policy.session} + {@link SessionPolicy.checkDestination} (+
   * {@link NameCheck.checkAddresses} when `addresses` are given). For a name, call it once
   * without addresses (a `deny` needs no DNS), resolve, and call again with them. Hot paths
   * (UDP datagrams) should keep the {@link SessionPolicy} instead.
   */
  evaluate(ctx: EvaluationContext): Evaluation {
    const { host, port, addresses } = ctx.destination;
    const check = this.session(ctx).checkDestination(host, port);
    switch (check.kind) {
      case 'invalid':
        return { decision: 'invalid', reason: check.reason };
      case 'ip':
        return check.verdict.action === 'allow'
          ? { decision: 'allow', rule: check.verdict.rule, addresses: [check.ip] }
          : { decision: 'deny', rule: check.verdict.rule, denied: [check.ip] };
      case 'name': {
        if (check.verdict?.action === 'deny')
          return { decision: 'deny', rule: check.verdict.rule, denied: [] };
        if (addresses === undefined) return { decision: 'resolve', name: check.name };
        const r = check.checkAddresses(addresses);
        return r.verdict.action === 'allow'
          ? { decision: 'allow', rule: r.verdict.rule, addresses: r.allowed }
          : { decision: 'deny', rule: r.verdict.rule, denied: r.denied.map((d) => d.ip) };
      }
    }
  }
}

/** Input of {@link Policy.evaluate}: the session facts and the destination. */
export interface EvaluationContext extends SessionFacts {
  readonly destination: {
    readonly host: string;
    readonly port: number;
    /** The resolved addresses of a name; omit before DNS. Ignored for IP literals. */
    readonly addresses?: readonly (string | IpAddress)[] | undefined;
  };
}

/** The result of {@link Policy.evaluate}. */
export type Evaluation =
  | {
      readonly decision: 'allow';
      readonly rule: RuleRef;
      /** Connect only among these (checked, canonical) addresses. */
      readonly addresses: readonly IpAddress[];
    }
  | { readonly decision: 'deny'; readonly rule: RuleRef; readonly denied: readonly IpAddress[] }
  /** The destination is a name and no deny is certain: resolve `name`, call again with addresses. */
  | { readonly decision: 'resolve'; readonly name: string }
  /** Not an address nor a valid name: answer host unreachable (04). */
  | { readonly decision: 'invalid'; readonly reason: string };

/** Thrown by {@link compilePolicy}: a SocksUsageError whose `issues` lists every problem. */
export class PolicyError extends SocksUsageError {
  readonly issues: readonly PolicyIssue[];
  constructor(issues: readonly PolicyIssue[]) {
    const first = issues[0];
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    super(
      UsageErrorCode.InvalidOption,
      first === undefined ? 'invalid policy' : `${formatPath(first.path)}: ${first.message}${more}`,
    );
    this.issues = issues;
  }
}

/** Every problem in a policy spec, with paths — for a config schema's own error reporting. */
export function findPolicyIssues(
  spec: PolicySpec,
  options: PolicyOptions = {},
): readonly PolicyIssue[] {
  return compileRules(spec, options.groupsOf !== undefined).issues;
}

/**
 * Validates and compiles a policy. Throws {@link PolicyError} (a SocksUsageError with code
 * ERR_SOCKS_INVALID_OPTION) naming the first bad field, e.g. `rules[2].destination[0]: ...`.
 */
export function compilePolicy(spec: PolicySpec, options: PolicyOptions = {}): Policy {
  const { rules, issues } = compileRules(spec, options.groupsOf !== undefined);
  if (issues.length > 0) throw new PolicyError(issues);
  return new Policy(rules, spec, options);
}
