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

const protocolNames = ['socks5', 'socks4', 'http'] as const;
type ProtocolName = (typeof protocolNames)[number];

/** Parses a comma-separated list of dialects, e.g. `socks5,http`. */
export function parseProtocols(text: string): ProtocolName[] {
  const names = text
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter((p) => p !== '');
  if (names.length === 0) {
    throw new InvalidArgumentError(`"${text}" names no protocol (use socks5, socks4, http).`);
  }
  for (const n of names) {
    if (!(protocolNames as readonly string[]).includes(n)) {
      throw new InvalidArgumentError(`unknown protocol "${n}" (use socks5, socks4, http).`);
    }
  }
  return names as ProtocolName[];
}
