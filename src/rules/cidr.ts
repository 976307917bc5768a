/**
 * CIDR prefixes as an operator writes them in a rule: `10.0.0.0/8`, `fd00::/8`, or a bare
 * address (`/32`, `/128`). Strict on purpose — `010.0.0.0/8` or `10.1/16` are errors, not
 * octal or shorthand guesses — and a prefix with host bits set is an error that suggests the
 * network (`10.0.0.1/8`: "did you mean 10.0.0.0/8?").
 */
import type { Prefix } from './address-set.js';
import { ipv4FromNumber, ipv6FromWords, parseStrictAddress } from './ip.js';

/** Clears the bits after `length` in `words` (1 or 4 words). */
function maskWords(words: readonly number[], length: number): number[] {
  return words.map((w, i) => {
    const keep = Math.max(0, Math.min(32, length - 32 * i));
    return keep === 0 ? 0 : keep === 32 ? w : (w & (0xffffffff << (32 - keep))) >>> 0;
  });
}

function formatPrefix(family: 4 | 6, words: readonly number[], length: number): string {
  const ip = family === 4 ? ipv4FromNumber(words[0] ?? 0) : ipv6FromWords(words);
  return `${ip.address}/${length}`;
}

/**
 * Parses one CIDR prefix or address. Returns the prefix, or a message saying what is wrong.
 * IPv4-mapped IPv6 prefixes (`::ffff:10.0.0.0/104`) become the IPv4 prefix they denote,
 * because the policy always sees IPv4-mapped addresses as IPv4.
 */
export function parsePrefix(text: string): Prefix | string {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const ip = parseStrictAddress(addressText);
  if (ip === undefined)
    return `"${addressText}" is not an IP address (write a dotted quad or IPv6)`;
  const mapped = ip.family === 4 && addressText.includes(':');
  const max = ip.family === 4 ? 32 : 128;
  let length = max;
  if (slash !== -1) {
    const lengthText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText)) return `bad prefix length "${lengthText}"`;
    length = Number(lengthText) - (mapped ? 96 : 0);
    if (mapped && length < 0) {
      return `"${text}" spans more than IPv4-mapped space; IPv4-mapped addresses are matched as IPv4`;
    }
    if (length > max) return `prefix length ${lengthText} is longer than ${mapped ? 128 : max}`;
  }
  const network = maskWords(ip.words, length);
  if (network.some((w, i) => w !== ip.words[i])) {
    return `"${text}" has host bits set; did you mean ${formatPrefix(ip.family, network, length)}?`;
  }
  return { family: ip.family, words: network, length };
}

/** Like {@link parsePrefix} but throws on error; for built-in tables that are known good. */
export function prefix(text: string): Prefix {
  const p = parsePrefix(text);
  if (typeof p === 'string') throw new Error(`built-in prefix ${text}: ${p}`);
  return p;
}

/** The IPv4-mapped IPv6 form (::ffff:0:0/96) of an IPv4 prefix. */
export function mappedPrefix(p: Prefix): Prefix {
  return { family: 6, words: [0, 0, 0xffff, p.words[0] ?? 0], length: 96 + p.length };
}
