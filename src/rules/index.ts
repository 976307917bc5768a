/**
 * Access rules: pure policy (no sockets). Host normalisation that makes odd address spellings
 * impossible to slip through, CIDR/domain/port matchers, the built-in `private` set, and the
 * two-phase (before DNS / per resolved address) evaluation. See docs/rules.md.
 */
export {
  parseIpLiteral,
  parseLooseIPv4,
  parseStrictAddress,
  parseObservedAddress,
  embeddedIPv4Of,
  ipFromBytes,
  ipv4FromNumber,
  type IpAddress,
  type EmbeddingKind,
  type LiteralProblem,
} from './ip.js';
export { normalizeHost, type NormalizedHost } from './host.js';
export { AddressSet, type Prefix } from './address-set.js';
export { parsePrefix } from './cidr.js';
export { parseDomainPattern, DomainMatcher } from './domain.js';
export { parsePortRange, PortSet } from './ports.js';
export { namedSets, PRIVATE_IPV4, PRIVATE_IPV6, LOOPBACK, type NamedRange } from './named-sets.js';
export {
  COMMANDS,
  DIALECTS,
  formatPath,
  type RuleSpec,
  type PolicySpec,
  type RuleAction,
  type RuleRef,
  type Dialect,
  type MixedResolution,
  type OneOrMany,
  type PolicyIssue,
} from './compile.js';
export {
  compilePolicy,
  findPolicyIssues,
  Policy,
  PolicyError,
  SessionPolicy,
  NameCheck,
  DEFAULT_RULE_NAME,
  type Verdict,
  type SessionFacts,
  type PolicyOptions,
  type DestinationCheck,
  type AddressesVerdict,
  type EvaluationContext,
  type Evaluation,
} from './policy.js';
export { NotAllowedError, invalidHostError } from './errors.js';
