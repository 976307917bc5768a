/**
 * Destination hosts as a client sent them, sorted into exactly one of: an IP address (in any
 * spelling, see ./ip.ts), a domain name in one canonical form, or something refused.
 *
 * The one property that matters: the string a rule matches is the string that gets resolved,
 * and what gets connected to is an address that was checked. Nothing a client sends is ever
 * handed to the OS as a "name" unless it passed {@link normalizeHost} as a name.
 */
import { domainToASCII } from 'node:url';
import { parseIpLiteral, type IpAddress, type LiteralProblem } from './ip.js';

/** The result of {@link normalizeHost}. */
export type NormalizedHost =
  | {
      readonly kind: 'ip';
      readonly ip: IpAddress;
      /** False when the client used an odd spelling (`127.1`, `::ffff:7f00:1`, `[::1]` ...). */
      readonly canonical: boolean;
    }
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'invalid'; readonly reason: string };

const problemText: Readonly<Record<LiteralProblem, string>> = {
  'zone-id': 'an IPv6 zone id names one of the proxy’s interfaces and is not accepted',
  'bad-ipv6': 'malformed IPv6 address',
  'bad-ipv4': 'ends in a number but is not a valid IPv4 address',
};

/** RFC 1035 §2.3.4 / RFC 1123 §2.1 sizes; `_` is allowed because real names use it. */
const MAX_NAME = 253;
const MAX_LABEL = 63;
const LABEL = /^[a-z0-9_-]+$/;

/** Checks a lower-case ASCII name without trailing dot. Returns the problem, or undefined. */
function nameProblem(name: string): string | undefined {
  if (name === '') return 'empty name';
  if (name.length > MAX_NAME) return `name longer than ${MAX_NAME} octets`;
  for (const label of name.split('.')) {
    if (label === '') return 'empty label';
    if (label.length > MAX_LABEL) return `label longer than ${MAX_LABEL} octets`;
    if (!LABEL.test(label)) return 'characters other than letters, digits, "-" and "_"';
  }
  return undefined;
}

const NON_ASCII = /[^\x20-\x7e]/;

function hasControlOrPercent(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x25 /* % */) return true;
  }
  return false;
}

/**
 * Classifies a destination host exactly once:
 * - IP literal in any spelling → `{kind:'ip'}` with the canonical address a connect reaches;
 * - a name → `{kind:'name'}`: lower-cased, one trailing dot removed, internationalised names
 *   converted to their ASCII (punycode) form by UTS #46 (`url.domainToASCII`), which also maps
 *   full-width digits and dots — so the result is classified again and `１２７．０．０．１`
 *   is the IP 127.0.0.1, not a name;
 * - anything else → `{kind:'invalid'}` with a reason: empty labels, characters outside
 *   `[A-Za-z0-9_-]`, more than 253 octets, zone ids, `1.2.3.256`-like hosts.
 * Never throws.
 */
export function normalizeHost(host: string): NormalizedHost {
  const literal = parseIpLiteral(host);
  if (typeof literal === 'object') {
    return { kind: 'ip', ip: literal, canonical: literal.address === host };
  }
  if (literal !== undefined) return { kind: 'invalid', reason: problemText[literal] };
  let ascii = host;
  if (NON_ASCII.test(host)) {
    // domainToASCII would percent-decode and drop some code points; refuse those inputs first.
    if (hasControlOrPercent(host)) {
      return { kind: 'invalid', reason: 'control characters or "%"' };
    }
    ascii = domainToASCII(host);
    if (ascii === '') return { kind: 'invalid', reason: 'not a valid internationalised name' };
    const again = parseIpLiteral(ascii);
    if (typeof again === 'object') return { kind: 'ip', ip: again, canonical: false };
    if (again !== undefined) return { kind: 'invalid', reason: problemText[again] };
  }
  let name = ascii.toLowerCase();
  if (name.length > 1 && name.endsWith('.')) name = name.slice(0, -1);
  const problem = nameProblem(name);
  return problem === undefined ? { kind: 'name', name } : { kind: 'invalid', reason: problem };
}
