/** The command table: one runner per SOCKS command, shared by every dialect. */
import { Command } from '../../protocol/constants.js';
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
