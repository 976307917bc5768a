/**
 * The fuzzer's seed corpus: hand-written valid messages in test/fixtures/fuzz-corpus/*.txt,
 * each field on its own line with a comment, never produced by ferry's encoders.
 *
 * Format: `== name` starts an entry. Every other line is hex octets (spaces and `|` ignored) or
 * a "quoted string" with \r \n \t \\ \" \xHH escapes; `#` starts a comment. A comment containing
 * `@len` marks that line's octets as a binary length field (big-endian); `@len10` marks decimal
 * text (a Content-Length value, a PROXY v1 port). The mutator inflates and zeroes those.
 * `@port` marks a destination port (binary, or decimal with `@port10`) that a harness rewrites
 * to its own listener's port.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const CORPUS_DIR = fileURLToPath(new URL('../fixtures/fuzz-corpus/', import.meta.url));

export interface LengthField {
  readonly offset: number;
  readonly size: number;
  readonly kind: 'binary' | 'decimal';
}

export interface CorpusEntry {
  /** `file/name`, e.g. `socks5-request/connect-ipv4`. */
  readonly id: string;
  readonly bytes: Uint8Array;
  readonly lengthFields: readonly LengthField[];
  /** Octets marked `@port`: a destination port a harness may point at its own listener. */
  readonly portFields: readonly {
    readonly offset: number;
    readonly size: number;
    readonly kind: 'binary' | 'decimal';
  }[];
}

/** Hex octets and "strings", in any mix, then an optional `# comment`. */
function parseLine(line: string, where: string): { octets: number[]; comment: string } {
  const octets: number[] = [];
  let rest = line;
  for (;;) {
    rest = rest.replace(/^[\s|]+/, '');
    if (rest === '' || rest.startsWith('#')) return { octets, comment: rest };
    if (rest.startsWith('"')) {
      const q = unquote(rest, where);
      octets.push(...q.bytes);
      rest = q.rest;
      continue;
    }
    const m = /^[0-9a-fA-F]+/.exec(rest);
    if (m === null || m[0].length % 2 !== 0) throw new Error(`${where}: bad hex near "${rest}"`);
    octets.push(...(m[0].match(/../g) ?? []).map((h) => parseInt(h, 16)));
    rest = rest.slice(m[0].length);
  }
}

function unquote(line: string, where: string): { bytes: number[]; rest: string } {
  const out: number[] = [];
  let i = 1;
  for (; i < line.length; i++) {
    const c = line[i];
    if (c === '"') return { bytes: out, rest: line.slice(i + 1) };
    if (c !== '\\') {
      const code = line.charCodeAt(i);
      if (code > 0x7e) throw new Error(`${where}: use \\xHH for non-ASCII octets`);
      out.push(code);
      continue;
    }
    const e = line[++i];
    if (e === 'r') out.push(0x0d);
    else if (e === 'n') out.push(0x0a);
    else if (e === 't') out.push(0x09);
    else if (e === '\\' || e === '"') out.push(e.charCodeAt(0));
    else if (e === 'x') {
      out.push(parseInt(line.slice(i + 1, i + 3), 16));
      i += 2;
    } else throw new Error(`${where}: unknown escape \\${e ?? ''}`);
  }
  throw new Error(`${where}: unterminated string`);
}

/** Parses one corpus file's text. */
export function parseCorpus(text: string, file: string): CorpusEntry[] {
  const entries: CorpusEntry[] = [];
  let name: string | undefined;
  let bytes: number[] = [];
  let fields: LengthField[] = [];
  let ports: { offset: number; size: number; kind: 'binary' | 'decimal' }[] = [];
  const flush = (): void => {
    if (name === undefined) return;
    if (bytes.length === 0) throw new Error(`${file}: entry "${name}" is empty`);
    entries.push({
      id: `${file}/${name}`,
      bytes: Uint8Array.from(bytes),
      lengthFields: fields,
      portFields: ports,
    });
  };
  text.split('\n').forEach((raw, n) => {
    const where = `${file}:${n + 1}`;
    const line = raw.trim();
    if (line.startsWith('==')) {
      flush();
      name = line.slice(2).trim();
      bytes = [];
      fields = [];
      ports = [];
      return;
    }
    const { octets, comment } = parseLine(line, where);
    if (octets.length === 0) return;
    if (name === undefined) throw new Error(`${where}: octets before the first "== name"`);
    if (/@len10\b/.test(comment))
      fields.push({ offset: bytes.length, size: octets.length, kind: 'decimal' });
    else if (/@len\b/.test(comment))
      fields.push({ offset: bytes.length, size: octets.length, kind: 'binary' });
    if (/@port10\b/.test(comment))
      ports.push({ offset: bytes.length, size: octets.length, kind: 'decimal' });
    else if (/@port\b/.test(comment))
      ports.push({ offset: bytes.length, size: octets.length, kind: 'binary' });
    bytes.push(...octets);
  });
  flush();
  return entries;
}

const cache = new Map<string, CorpusEntry[]>();

/** Entries of test/fixtures/fuzz-corpus/<file>.txt. */
export function corpus(file: string): CorpusEntry[] {
  let entries = cache.get(file);
  if (entries === undefined) {
    entries = parseCorpus(readFileSync(join(CORPUS_DIR, `${file}.txt`), 'utf8'), file);
    cache.set(file, entries);
  }
  return entries;
}

/** Every corpus file's entries (the splice donors). */
export function allCorpora(): CorpusEntry[] {
  return readdirSync(CORPUS_DIR)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .flatMap((f) => corpus(f.slice(0, -4)));
}

/**
 * The entry with every `@port` field set to `port` (binary fields big-endian; decimal fields are
 * replaced by the digits, shifting what follows).
 */
export function withPort(entry: CorpusEntry, port: number): CorpusEntry {
  if (entry.portFields.length === 0) return entry;
  let bytes = [...entry.bytes];
  let shift = 0;
  for (const f of entry.portFields) {
    const at = f.offset + shift;
    const octets =
      f.kind === 'binary'
        ? [(port >>> 8) & 0xff, port & 0xff].slice(2 - f.size)
        : Array.from(String(port), (c) => c.charCodeAt(0));
    bytes = [...bytes.slice(0, at), ...octets, ...bytes.slice(at + f.size)];
    shift += octets.length - f.size;
  }
  const lengthFields = entry.lengthFields.map((l) => {
    const before = entry.portFields.filter((f) => f.offset < l.offset);
    const delta = before.reduce(
      (n, f) => n + (f.kind === 'decimal' ? String(port).length - f.size : 0),
      0,
    );
    return { ...l, offset: l.offset + delta };
  });
  return { ...entry, bytes: Uint8Array.from(bytes), lengthFields, portFields: [] };
}
