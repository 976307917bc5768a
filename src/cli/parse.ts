/** Command-line value parsers. Each throws an InvalidArgumentError-style message naming the value. */
import { isIP } from 'node:net';
import { InvalidArgumentError } from 'commander';
import { parseHostPort } from '../protocol/address.js';
import { SocksError } from '../errors.js';
import { parsePrefix } from '../rules/index.js';
import { parseDuration as parseDurationText } from '../config/duration.js';

/** Parses `500ms`, `10s`, `2m`, `2h`, `1d` (or `0`) into milliseconds. */
export function parseDuration(text: string): number {
  const ms = parseDurationText(text);
  if (ms === undefined)
    throw new InvalidArgumentError(`"${text}" is not a duration (use e.g. 500ms, 10s, 2m, 2h).`);
  return ms;
}

/** Parses a positive integer. */
export function parsePositiveInt(text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new InvalidArgumentError(`"${text}" is not a positive integer.`);
  }
  return Number(text);
}

/** Checks a CIDR or address as the rules write them. */
export function parseCidr(text: string): string {
  const prefix = parsePrefix(text.trim());
  if (typeof prefix === 'string') throw new InvalidArgumentError(`${prefix}.`);
  return text.trim();
}

/** Parses `--workers`: a count 1-1024 or `auto`. */
export function parseWorkers(text: string): number | 'auto' {
  if (text === 'auto') return 'auto';
  const n = parsePositiveInt(text);
  if (n > 1024)
    throw new InvalidArgumentError(`"${text}" is more workers than ferry allows (1024).`);
  return n;
}

/** Parses a non-negative integer (0 usually means "off"). */
export function parseCount(text: string): number {
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(Number(text))) {
    throw new InvalidArgumentError(`"${text}" is not a non-negative integer.`);
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

/** Parses `PORT` (on 127.0.0.1), `HOST:PORT` or `[IPv6]:PORT` for the admin listener. */
export function parseAdminAddress(text: string): { host: string; port: number } {
  if (/^\d{1,5}$/.test(text) && Number(text) <= 0xffff)
    return { host: '127.0.0.1', port: Number(text) };
  return parseListenAddress(text);
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

/** Parses an IP address literal (no name, no port). */
export function parseIpAddress(text: string): string {
  const t = text.trim();
  if (isIP(t) === 0) throw new InvalidArgumentError(`"${text}" is not an IP address.`);
  return t;
}

/** RFC 1928 §7: "The reassembly timer MUST be no less than 5 seconds." */
export function parseReassemblyTimeout(text: string): number {
  const ms = parseDuration(text);
  if (ms < 5000) {
    throw new InvalidArgumentError(`"${text}" is shorter than 5s (RFC 1928 §7's minimum).`);
  }
  return ms;
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
