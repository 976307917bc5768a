/** The command table: one runner per SOCKS command, shared by every dialect. */
import { Command, commandNames, Reply } from '../../protocol/constants.js';
import { SocksDialError } from '../../errors.js';
import type { CommandContext } from './context.js';
import { runConnect } from './connect.js';
import { runBind } from './bind.js';

export type CommandRunner = (ctx: CommandContext) => Promise<void> | void;

function notSupported(command: Command): CommandRunner {
  return (ctx) => {
    ctx.fail(
      new SocksDialError(
        'ERR_SOCKS_COMMAND_NOT_SUPPORTED',
        `${commandNames[command]} is not supported`,
        Reply.CommandNotSupported,
      ),
    );
  };
}

export const commandRunners: Readonly<Record<Command, CommandRunner>> = {
  [Command.Connect]: runConnect,
  [Command.Bind]: runBind,
  [Command.UdpAssociate]: notSupported(Command.UdpAssociate),
};
