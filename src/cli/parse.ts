/** Command-line value parsers. Each throws an InvalidArgumentError-style message naming the value. */
import { InvalidArgumentError } from 'commander';
import { parseHostPort } from '../protocol/address.js';
import { SocksError } from '../errors.js';
import { parsePrefix } from '../rules/index.js';
import { parseDuration as parseDurationText } from '../config/duration.js';
import { gssapiLevelNames, type GssapiLevelName } from '../server/gssapi-options.js';

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

/** Parses `--gssapi-levels`: a comma-separated list of clear, integrity, confidentiality. */
export function parseGssapiLevels(text: string): GssapiLevelName[] {
  const list = text.split(',').map((s) => s.trim());
  for (const level of list) {
    if (!(gssapiLevelNames as readonly string[]).includes(level)) {
      throw new InvalidArgumentError(
        `"${level}" is not a GSS-API protection level (use ${gssapiLevelNames.join(', ')}).`,
      );
    }
  }
  if (new Set(list).size !== list.length) {
    throw new InvalidArgumentError(`"${text}" lists a level twice.`);
  }
  return list as GssapiLevelName[];
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
