#!/usr/bin/env node
/**
 * The `ferry` command: argv → config → library. No protocol logic here. Command-line mistakes
 * print one sentence and exit 2.
 */
// First: V8 heap sizing must apply before the rest of the program allocates (see the file).
import './heap-tuning.js';
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { serveCommand } from './serve.js';
import { usersCommand } from './users.js';
import { checkConfigCommand } from './check-config.js';
import { connectCommand } from './connect.js';
import { CliError } from './errors.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

function program(): Command {
  const cmd = new Command('ferry')
    .description('SOCKS5 proxy server and client toolkit')
    .version(pkg.version, '-V, --version')
    .showHelpAfterError(false)
    .configureOutput({ outputError: () => undefined })
    .exitOverride();
  for (const sub of [serveCommand(), checkConfigCommand(), usersCommand(), connectCommand()]) {
    cmd.addCommand(sub);
  }
  // Subcommands inherit exit handling so that their errors also reach main().
  const inherit = (c: Command): void => {
    c.exitOverride().configureOutput({ outputError: () => undefined });
    c.commands.forEach(inherit);
  };
  cmd.commands.forEach(inherit);
  return cmd;
}

async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      ) {
        process.exit(0);
      }
      const text = err.message.replace(/^error: /, '');
      process.stderr.write(
        `ferry: ${text.endsWith('.') ? text : `${text}.`} See 'ferry --help'.\n`,
      );
      process.exit(2);
    }
    if (err instanceof CliError) {
      process.stderr.write(`ferry: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write(`ferry: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

await main(process.argv);
