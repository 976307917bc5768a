/**
 * Domain-name patterns in destination rules.
 *
 * - `example.com` matches exactly that name.
 * - `*.example.com` matches every name *below* example.com at any depth (`a.example.com`,
 *   `a.b.example.com`) and **not** `example.com` itself — list both to cover both. This is the
 *   reading of a leading `*.` that least surprises: it names "subdomains", and a rule that also
 *   covered the apex could not be narrowed to exclude it.
 * - `*` anywhere else (`a*.com`, `a.*.com`) is a config error, not a glob.
 * Patterns and names are compared in one form: lower case, without a trailing dot, IDN in ASCII
 * (punycode) — patterns go through the same normalisation as the names clients send.
 * A domain pattern matches only a destination the client gave as a name, never an IP literal;
 * to match what a name resolves to, use a CIDR.
 */
import { normalizeHost } from './host.js';

/** Normalises one pattern; returns it in canonical form, or a message saying what is wrong. */
export function parseDomainPattern(text: string): string | { readonly problem: string } {
  const wildcard = text.startsWith('*.');
  const rest = wildcard ? text.slice(2) : text;
  if (rest.includes('*')) {
    return { problem: `"${text}": "*" is only allowed as a whole first label ("*.example.com")` };
  }
  const host = normalizeHost(rest);
  if (host.kind === 'ip') return { problem: `"${text}" is an IP address, not a domain name` };
  if (host.kind === 'invalid') return { problem: `"${text}" is not a domain name: ${host.reason}` };
  return wildcard ? `*.${host.name}` : host.name;
}

/** A compiled list of patterns (any-of). */
export class DomainMatcher {
  readonly #exact = new Set<string>();
  /** Suffixes with their leading dot: `*.example.com` is stored as `.example.com`. */
  readonly #suffixes = new Set<string>();
  readonly #hasSuffixes: boolean;

  /** `patterns` must already be normalised by {@link parseDomainPattern}. */
  constructor(patterns: readonly string[]) {
    for (const p of patterns) {
      if (p.startsWith('*.')) this.#suffixes.add(p.slice(1));
      else this.#exact.add(p);
    }
    this.#hasSuffixes = this.#suffixes.size > 0;
  }

  /** `name` must be normalised (`normalizeHost(...).name`). One set lookup per label. */
  matches(name: string): boolean {
    if (this.#exact.has(name)) return true;
    if (!this.#hasSuffixes) return false;
    for (let dot = name.indexOf('.'); dot !== -1; dot = name.indexOf('.', dot + 1)) {
      if (this.#suffixes.has(name.slice(dot))) return true;
    }
    return false;
  }
}
