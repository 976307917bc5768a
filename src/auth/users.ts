/**
 * The users file: one `name:hash[:group,group...]` per line, `#` comments and blank lines
 * allowed; hashes are PHC scrypt strings (see password.ts). Verification costs the same for an
 * unknown user as for a wrong password, so the two cannot be told apart by timing.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import {
  defaultScryptParams,
  formatPasswordHash,
  parsePasswordHash,
  verifyPassword,
  type PasswordHash,
} from './password.js';
import { SocksUsageError, UsageErrorCode } from '../errors.js';

export interface UserEntry {
  readonly name: string;
  readonly hash: PasswordHash;
  readonly groups: readonly string[];
}

const namePattern = /^[^\s:#][^\s:]{0,254}$/;

/** A user name as the users file allows it: 1–255 octets, no whitespace, no `:`, not starting with `#`. */
export function isValidUserName(name: string): boolean {
  return namePattern.test(name) && Buffer.byteLength(name) <= 255;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The hash an unknown name is checked against. Its scrypt parameters (and lengths) are those most
 * of the users have: a decoy with the defaults next to users hashed with cheaper parameters
 * (`ln=10`, say) would make "unknown user" answer visibly slower than "wrong password", and
 * tell an attacker which names exist.
 */
function decoyFor(entries: readonly UserEntry[]): PasswordHash {
  const counts = new Map<string, { hash: PasswordHash; n: number }>();
  for (const { hash } of entries) {
    const key = `${hash.ln},${hash.r},${hash.p},${hash.salt.length},${hash.hash.length}`;
    const c = counts.get(key);
    if (c === undefined) counts.set(key, { hash, n: 1 });
    else c.n++;
  }
  let typical: PasswordHash | undefined;
  let most = 0;
  for (const { hash, n } of counts.values()) {
    if (n > most) {
      most = n;
      typical = hash;
    }
  }
  const { ln, r, p } = typical ?? defaultScryptParams;
  return {
    ln,
    r,
    p,
    salt: randomBytes(typical?.salt.length ?? 16),
    hash: randomBytes(typical?.hash.length ?? 32),
  };
}

/** An immutable set of users. Reload by building a new one and swapping it in. */
export class UserDatabase {
  readonly #users: ReadonlyMap<string, UserEntry>;
  /** Compared against when the user is unknown, so that path does the same scrypt work. */
  readonly #decoy: PasswordHash;

  constructor(entries: Iterable<UserEntry>) {
    const users = new Map<string, UserEntry>();
    for (const e of entries) users.set(e.name, e);
    this.#users = users;
    this.#decoy = decoyFor([...users.values()]);
  }

  /** Parses users-file text; `source` names the file in error messages (`file:line: problem`). */
  static parse(text: string, source = 'users file'): UserDatabase {
    const entries: UserEntry[] = [];
    const seen = new Set<string>();
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const fail = (problem: string): never => {
        throw new SocksUsageError(UsageErrorCode.InvalidOption, `${source}:${i + 1}: ${problem}`);
      };
      const parts = line.split(':');
      if (parts.length < 2 || parts.length > 3) fail('expected name:hash or name:hash:group,group');
      const [name = '', hashText = '', groupText] = parts;
      if (!isValidUserName(name)) fail(`invalid user name "${name}"`);
      if (seen.has(name)) fail(`duplicate user "${name}"`);
      const hash = parsePasswordHash(hashText);
      if (hash === undefined)
        fail(`user "${name}": not a PHC scrypt hash ($scrypt$ln=..,r=..,p=..$salt$hash)`);
      const groups = groupText === undefined || groupText === '' ? [] : groupText.split(',');
      if (groups.some((g) => !/^[A-Za-z0-9_.-]+$/.test(g)))
        fail(`user "${name}": invalid group name`);
      seen.add(name);
      entries.push({ name, hash: hash as PasswordHash, groups });
    });
    return new UserDatabase(entries);
  }

  /** Reads and parses a users file. Throws SocksUsageError naming the file (and line). */
  static async load(path: string): Promise<UserDatabase> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new SocksUsageError(
        UsageErrorCode.InvalidOption,
        `cannot read users file ${path} (${code})`,
      );
    }
    return UserDatabase.parse(text, path);
  }

  get size(): number {
    return this.#users.size;
  }

  names(): string[] {
    return [...this.#users.keys()];
  }

  get(name: string): UserEntry | undefined {
    return this.#users.get(name);
  }

  /**
   * Checks RFC 1929 credentials. Resolves to the user's name on success, `undefined` otherwise.
   * Unknown names do the same scrypt work against a decoy hash. The caller should zero `password`.
   */
  async verify(username: Uint8Array, password: Uint8Array): Promise<string | undefined> {
    let name: string | undefined;
    try {
      name = textDecoder.decode(username);
    } catch {
      name = undefined; // not UTF-8: cannot be a configured user
    }
    const entry = name === undefined ? undefined : this.#users.get(name);
    const ok = await verifyPassword(password, entry?.hash ?? this.#decoy);
    return ok && entry !== undefined ? entry.name : undefined;
  }
}

/** Serialises entries in file order (used by `ferry users add/remove`). */
export function formatUserLine(entry: UserEntry): string {
  const groups = entry.groups.length > 0 ? `:${entry.groups.join(',')}` : '';
  return `${entry.name}:${formatPasswordHash(entry.hash)}${groups}`;
}

/**
 * Rewrites a users file atomically (temp file + rename, mode 0600), keeping comments and the
 * order of other lines. `update` gets the current line of the user (or undefined) and returns
 * the new line (or undefined to remove it).
 */
export async function updateUsersFile(
  path: string,
  user: string,
  update: (current: string | undefined) => string | undefined,
): Promise<void> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  UserDatabase.parse(text, path); // refuse to rewrite a file we cannot read back
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const index = lines.findIndex(
    (l) => l.trim().split(':')[0] === user && !l.trim().startsWith('#'),
  );
  const next = update(index === -1 ? undefined : lines[index]);
  if (index === -1) {
    if (next !== undefined) lines.push(next);
  } else if (next === undefined) {
    lines.splice(index, 1);
  } else {
    lines[index] = next;
  }
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, lines.length > 0 ? `${lines.join('\n')}\n` : '', { mode: 0o600 });
  await rename(tmp, path);
}
