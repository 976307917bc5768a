/**
 * The SOCKS4/4a dialect: drives the sans-IO Socks4ServerSession over a client socket and hands the
 * request to the same command table SOCKS5 uses (CONNECT, BIND). SOCKS4 carries no password, so
 * with users configured a request is refused (`5B`) unless the `allowUnauthenticated` hook lets
 * that client through. USERID is recorded for the log and never trusted.
 */
import { Command, commandNames, Reply } from '../protocol/constants.js';
import { formatHostPort, type SocksAddress } from '../protocol/address.js';
import { Socks4Command } from '../protocol/socks4.js';
import {
  NEED_DATA,
  PAUSED,
  Socks4ServerSession,
  type Socks4ServerEvent,
} from '../protocol/socks4-server-session.js';
import { replyForError, SocksDialError } from '../errors.js';
import type { Connection } from './connection.js';
import type { CommandContext } from './commands/context.js';
import { runCommand } from './commands/index.js';
import { mayProceedAnonymously } from './anonymous.js';

/** SOCKS4's CD values name the same operations as SOCKS5's CMD; the command table is shared. */
const commandFor: Readonly<Record<Socks4Command, Command>> = {
  [Socks4Command.Connect]: Command.Connect,
  [Socks4Command.Bind]: Command.Bind,
};

export class Socks4Handler {
  readonly #conn: Connection;
  readonly #session = new Socks4ServerSession();
  #clientEnded = false;

  constructor(conn: Connection) {
    this.#conn = conn;
    conn.record.dialect = 'socks4';
    conn.socket.on('data', this.#onData);
    conn.socket.once('end', this.#onEnd);
  }

  /** Feeds bytes already read by the dialect detector. */
  receive(chunk: Uint8Array): void {
    this.#session.receiveData(chunk);
    this.#advance();
  }

  readonly #onData = (chunk: Buffer): void => {
    this.receive(chunk);
  };

  readonly #onEnd = (): void => {
    // As in SOCKS5: a FIN after the complete request is a half-close to pass on later; a FIN
    // before it means the request can never complete.
    this.#clientEnded = true;
    this.#advance();
  };

  #advance(): void {
    if (this.#conn.closing) return;
    const event = this.#session.nextEvent();
    if (event === NEED_DATA) {
      if (this.#clientEnded) this.#conn.closeWith(undefined, 'client-closed');
      return;
    }
    if (event === PAUSED) {
      this.#conn.socket.pause();
      return;
    }
    this.#handle(event);
  }

  #handle(event: Socks4ServerEvent): void {
    const conn = this.#conn;
    if (event.type === 'protocol-error') {
      conn.closeWith(event.response, 'protocol-error', event.error.code);
      return;
    }
    conn.socket.pause();
    const command = commandFor[event.command];
    conn.record.command = commandNames[command];
    conn.record.destination = formatHostPort(event.destination.host, event.destination.port);
    conn.record.userId = event.userId;
    void this.#authorize(command, event.destination);
  }

  async #authorize(command: Command, destination: SocksAddress): Promise<void> {
    const conn = this.#conn;
    const allowed = await mayProceedAnonymously(conn);
    if (conn.closing) return;
    if (!allowed) {
      this.#fail(
        new SocksDialError(
          'ERR_SOCKS_AUTH_REQUIRED',
          'authentication is required and SOCKS4 carries no credentials',
          Reply.NotAllowed,
        ),
        'auth-required',
      );
      return;
    }
    runCommand(command, this.#context(destination));
  }

  /**
   * SOCKS4 has one failure code: every error is 5B. The record keeps the SOCKS5 meaning and the
   * error's code, so the log still says why (ECONNREFUSED, ERR_SOCKS_NOT_ALLOWED and its rule,
   * ERR_SOCKS_AUTH_REQUIRED, ...).
   */
  #fail(err: unknown, reason?: string): void {
    const conn = this.#conn;
    conn.record.reply = replyForError(err);
    if (conn.closing) return;
    const bytes = this.#session.send({ type: 'reply', granted: false });
    const noted = conn.noteFailure(err);
    conn.closeWith(bytes, reason ?? noted);
  }

  #context(destination: SocksAddress): CommandContext {
    const conn = this.#conn;
    const session = this.#session;
    return {
      conn,
      destination,
      succeed: (bound) => {
        conn.handshakeDone();
        conn.record.reply = Reply.Succeeded;
        conn.socket.write(session.send({ type: 'reply', granted: true, bound }));
      },
      fail: (err) => {
        this.#fail(err);
      },
      takePending: () => {
        conn.socket.off('data', this.#onData);
        conn.socket.off('end', this.#onEnd);
        return { data: session.takeTrailingData(), ended: this.#clientEnded };
      },
    };
  }
}
