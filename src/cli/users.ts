/** `ferry users add|remove|list FILE [USER]`: manage the users file. */
import { Command } from 'commander';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { hashPassword } from '../auth/password.js';
import { isValidUserName, updateUsersFile, UserDatabase } from '../auth/users.js';
import { CliError } from './errors.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** Prompts on the terminal without echo. */
async function promptHidden(question: string): Promise<string> {
  const muted = new Writable({ write: (_chunk, _enc, cb) => cb() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  process.stderr.write(question);
  try {
    return await new Promise<string>((resolve) => rl.question('', resolve));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

/** Password from stdin when it is not a TTY (first line), else a no-echo prompt, asked twice. */
async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const text = await readAll(process.stdin);
    return text.split(/\r?\n/)[0] ?? '';
  }
  const first = await promptHidden('Password: ');
  const second = await promptHidden('Repeat password: ');
  if (first !== second) throw new CliError('the passwords do not match.', 2);
  return first;
}

export function usersCommand(): Command {
  const users = new Command('users').description('manage a users file (name:scrypt-hash per line)');
  users
    .command('add')
    .description('add a user or change their password (password from stdin, or prompted)')
    .argument('<file>', 'users file (created if missing, mode 0600)')
    .argument('<user>', 'user name')
    .action(async (file: string, user: string) => {
      if (!isValidUserName(user))
        throw new CliError(
          `"${user}" is not a valid user name (1-255 octets, no whitespace or ":").`,
          2,
        );
      const password = await readPassword();
      if (password === '' || Buffer.byteLength(password) > 255) {
        throw new CliError('the password must be 1-255 octets (RFC 1929).', 2);
      }
      const hash = await hashPassword(password);
      await updateUsersFile(file, user, (current) => {
        const groups = current?.trim().split(':')[2];
        return `${user}:${hash}${groups !== undefined && groups !== '' ? `:${groups}` : ''}`;
      }).catch(rethrow);
      process.stderr.write(`user ${user} saved in ${file}\n`);
    });
  users
    .command('remove')
    .description('remove a user')
    .argument('<file>', 'users file')
    .argument('<user>', 'user name')
    .action(async (file: string, user: string) => {
      const seen = { found: false };
      await updateUsersFile(file, user, (current) => {
        seen.found = current !== undefined;
        return undefined;
      }).catch(rethrow);
      if (!seen.found) throw new CliError(`no user "${user}" in ${file}.`, 1);
      process.stderr.write(`user ${user} removed from ${file}\n`);
    });
  users
    .command('list')
    .description('list user names')
    .argument('<file>', 'users file')
    .action(async (file: string) => {
      const db = await UserDatabase.load(file).catch(rethrow);
      for (const name of db.names()) {
        const groups = db.get(name)?.groups ?? [];
        process.stdout.write(groups.length > 0 ? `${name}\t${groups.join(',')}\n` : `${name}\n`);
      }
    });
  return users;
}

function rethrow(err: unknown): never {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ERR_SOCKS_INVALID_OPTION') throw new CliError(`${e.message}.`, 2);
  throw new CliError(`${e.message}.`, 1);
}
