/**
 * Destination ports in rules: a number (`443`), an inclusive range (`"8000-8999"`), or a list
 * of either. Compiled to sorted, merged ranges checked by binary search.
 */

/** Parses one port or range; returns [lo, hi] or a message saying what is wrong. */
export function parsePortRange(value: number | string): readonly [number, number] | string {
  const text = String(value).trim();
  const m = /^([0-9]{1,5})(?:\s*-\s*([0-9]{1,5}))?$/.exec(text);
  if (m === null) return `"${text}" is not a port (0-65535) or a range "lo-hi"`;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo > 0xffff || hi > 0xffff) return `"${text}": ports are 0-65535`;
  if (lo > hi) return `"${text}": the range is empty (lo > hi)`;
  return [lo, hi];
}

/** A set of ports. */
export class PortSet {
  readonly #bounds: Uint32Array;

  constructor(ranges: readonly (readonly [number, number])[]) {
    const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const [lo, hi] of sorted) {
      const last = merged[merged.length - 1];
      if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
      else merged.push([lo, hi]);
    }
    this.#bounds = new Uint32Array(merged.flat());
  }

  has(port: number): boolean {
    const b = this.#bounds;
    let lo = 0;
    let hi = b.length / 2 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (port < (b[mid * 2] ?? 0)) hi = mid - 1;
      else if (port > (b[mid * 2 + 1] ?? 0)) lo = mid + 1;
      else return true;
    }
    return false;
  }
}
