/** Command-line value parsers. Each throws an InvalidArgumentError-style message naming the value. */
import { InvalidArgumentError } from 'commander';
import { parseHostPort } from '../protocol/address.js';
import { SocksError } from '../errors.js';

const units: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Parses `500ms`, `10s`, `2m`, `2h`, `1d` (or `0`) into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (text.trim() === '0') return 0;
  if (m === null)
    throw new InvalidArgumentError(`"${text}" is not a duration (use e.g. 500ms, 10s, 2m, 2h).`);
  const ms = Math.round(Number(m[1]) * (units[m[2] ?? 'ms'] ?? 1));
  if (!Number.isSafeInteger(ms) || ms > 2 ** 31 - 1)
    throw new InvalidArgumentError(`"${text}" is too long a duration.`);
  return ms;
}

/** Parses a positive integer. */
export function parsePositiveInt(text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new InvalidArgumentError(`"${text}" is not a positive integer.`);
  }
  return Number(text);
}

/** Parses `HOST:PORT` or `[IPv6]:PORT`. */
export function parseListenAddress(text: string): { host: string; port: number } {
  try {
    return parseHostPort(text);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof SocksError ? `${err.message}.` : String(err));
  }
}

/** Collects a repeatable option into a list. */
export function collect<T>(
  parse: (text: string) => T,
): (text: string, previous: T[] | undefined) => T[] {
  return (text, previous) => [...(previous ?? []), parse(text)];
}

/** Parses a port range `FROM-TO` (or one port) into `{ from, to }`. */
export function parsePortRange(text: string): { from: number; to: number } {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text.trim());
  const from = Number(m?.[1]);
  const to = Number(m?.[2] ?? m?.[1]);
  if (m === null || from < 1 || to > 0xffff || from > to) {
    throw new InvalidArgumentError(`"${text}" is not a port range (use e.g. 40000-40999).`);
  }
  return { from, to };
}

const sizeUnits: Readonly<Record<string, number>> = {
  '': 1,
  k: 1024,
  kib: 1024,
  m: 1024 * 1024,
  mib: 1024 * 1024,
};

/** Parses a size in octets: `65536`, `64KiB`, `64k`, `16MiB`, `16m`. */
export function parseSize(text: string): number {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = sizeUnits[(m?.[2] ?? '?').toLowerCase()];
  const n = Number(m?.[1]) * (unit ?? NaN);
  if (m === null || unit === undefined || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`"${text}" is not a size (use e.g. 65536, 64KiB, 16MiB).`);
  }
  return n;
}
