/**
 * IPv6 text in one scan each way, for the per-datagram hot path. Accepts exactly what
 * `parseIPv6` in src/protocol/address.ts accepts (RFC 4291 §2.2: hex groups, one `::`, a
 * trailing strict dotted quad; no zone) and formats exactly like its `formatIPv6` (RFC 5952
 * §4: lower case, no leading zeros, the longest run of two or more zero groups — the first on a
 * tie — as `::`). The property tests hold the two pairs equal.
 */

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Strict dotted quad at `start` to the end of `text` (no leading zeros), or -1. */
function quadAt(text: string, start: number): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i <= text.length; i++) {
    const c = i === text.length ? 0x2e : text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || part > 255) return -1;
      value = value * 256 + part;
      dots++;
      part = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39 && !(digits > 0 && part === 0) && digits < 3) {
      part = part * 10 + (c - 0x30);
      digits++;
    } else {
      return -1;
    }
  }
  return dots === 4 ? value : -1;
}

/** Parses IPv6 text into 8 groups of 16 bits, or undefined. */
export function scanIPv6(text: string): number[] | undefined {
  const n = text.length;
  if (n < 2 || n > 45) return undefined;
  const head: number[] = [];
  let tail: number[] | undefined;
  let i = 0;
  if (text.charCodeAt(0) === 0x3a) {
    if (text.charCodeAt(1) !== 0x3a) return undefined;
    tail = [];
    i = 2;
  }
  while (i < n) {
    const groups = tail ?? head;
    const start = i;
    let value = 0;
    let h: number;
    while (i < n && i - start < 5 && (h = hexValue(text.charCodeAt(i))) !== -1) {
      value = value * 16 + h;
      i++;
    }
    if (i < n && text.charCodeAt(i) === 0x2e) {
      const quad = quadAt(text, start);
      if (quad === -1) return undefined;
      groups.push(Math.floor(quad / 0x10000), quad & 0xffff);
      break;
    }
    if (i === start || i - start > 4) return undefined;
    groups.push(value);
    if (i === n) break;
    if (text.charCodeAt(i) !== 0x3a) return undefined;
    i++;
    if (i < n && text.charCodeAt(i) === 0x3a) {
      if (tail !== undefined) return undefined;
      tail = [];
      i++;
    } else if (i === n) {
      return undefined; // a single trailing colon
    }
  }
  const total = head.length + (tail?.length ?? 0);
  if (tail === undefined) return total === 8 ? head : undefined;
  if (total > 7) return undefined;
  return [...head, ...new Array<number>(8 - total).fill(0), ...tail];
}

/** Formats 8 groups per RFC 5952 (without the IPv4-mapped dotted form: callers fold that). */
export function formatGroups(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    out += (groups[i] ?? 0).toString(16);
    if (i < 7) out += ':';
  }
  return out;
}
