/** `ferry check-config FILE`: validate a configuration and print what would be in force. */
import { Command } from 'commander';
import { stringify } from 'yaml';
import { loadConfig } from '../config/load.js';
import { effectiveConfig } from '../config/effective.js';
import { UserDatabase } from '../auth/users.js';
import { CliError } from './errors.js';

export function checkConfigCommand(): Command {
  return new Command('check-config')
    .description(
      'validate a configuration file and print the effective configuration (exit 0 valid, 2 invalid)',
    )
    .argument('<file>', 'YAML configuration file')
    .action(async (file: string) => {
      try {
        const config = await loadConfig(file);
        const users =
          config.users === undefined ? undefined : await UserDatabase.load(config.users);
        process.stdout.write(
          `# ${file} is valid. Effective configuration:\n${stringify(effectiveConfig(config, users))}`,
        );
      } catch (err) {
        throw new CliError((err as Error).message, 2);
      }
    });
}
