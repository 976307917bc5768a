/**
 * What a command (CONNECT, BIND, UDP ASSOCIATE) needs from the dialect that received it. The
 * dialect (SOCKS5, SOCKS4, HTTP CONNECT) knows how to encode replies; the command knows how to
 * reach the destination. Neither knows the other's wire format.
 */
import type { SocksAddress } from '../../protocol/address.js';
import type { Connection } from '../connection.js';

export interface BoundAddress {
  readonly address: string;
  readonly port: number;
}

export interface CommandContext {
  readonly conn: Connection;
  readonly destination: SocksAddress;
  /** Sends a success reply carrying `bound` (BIND sends two). */
  succeed(bound: BoundAddress): void;
  /** Sends the failure reply for `err` (via `replyForError`) and closes the connection. */
  fail(err: unknown): void;
  /**
   * Ends the handshake's hold on the client socket: the bytes the client sent after its request
   * (to forward before anything else) and whether it already half-closed.
   */
  takePending(): PendingInput;
}

export interface PendingInput {
  readonly data: Uint8Array;
  /** The client sent its FIN during the handshake (a paused socket still reports 'end'). */
  readonly ended: boolean;
}
