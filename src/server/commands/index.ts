/** The command table: one runner per SOCKS command, shared by every dialect. */
import { Command, Reply } from '../../protocol/constants.js';
import { SocksDialError } from '../../errors.js';
import type { CommandContext } from './context.js';
import { runConnect } from './connect.js';
import { runBind } from './bind.js';
import { runUdpAssociate } from './udp.js';

export type CommandRunner = (ctx: CommandContext) => Promise<void> | void;

export const commandRunners: Readonly<Record<Command, CommandRunner>> = {
  [Command.Connect]: runConnect,
  [Command.Bind]: runBind,
  [Command.UdpAssociate]: runUdpAssociate,
};

/**
 * The one entry point every dialect uses to run a command: admission checks that apply to all
 * dialects (the per-user session limit; access rules plug in here) run first.
 */
export function runCommand(command: Command, ctx: CommandContext): void {
  if (!ctx.conn.acquireUserSlot()) {
    ctx.fail(
      new SocksDialError(
        'ERR_SOCKS_USER_LIMIT',
        `user ${ctx.conn.record.user ?? ''} is at maxSessionsPerUser`,
        Reply.NotAllowed,
      ),
    );
    return;
  }
  void commandRunners[command](ctx);
}
