/**
 * The SOCKS5 dialect: drives the sans-IO ServerSession over a client socket — method selection,
 * RFC 1929 authentication, the request — then hands the request to its command.
 */
import { AuthMethod, Command, commandNames, Reply } from '../protocol/constants.js';
import {
  formatHostPort,
  socksAddress,
  UNSPECIFIED_ADDRESS,
  type SocksAddress,
} from '../protocol/address.js';
import { NEED_DATA, PAUSED, ServerSession, type ServerEvent } from '../protocol/server-session.js';
import { replyForError } from '../errors.js';
import type { Connection } from './connection.js';
import type { CommandContext } from './commands/context.js';
import { runCommand } from './commands/index.js';
import { authenticateUser } from './authenticate.js';

/** Picks the server's method for the client's offer: the server's policy, in its own order. */
export function chooseMethod(offered: readonly number[], available: readonly number[]): number {
  return available.find((m) => offered.includes(m)) ?? AuthMethod.NoAcceptable;
}

export class Socks5Handler {
  readonly #conn: Connection;
  readonly #session = new ServerSession();
  #clientEnded = false;

  constructor(conn: Connection) {
    this.#conn = conn;
    conn.record.dialect = 'socks5';
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
    // A FIN after a complete request (or while we authenticate) is a half-close to pass on
    // later; a FIN while we still wait for the client's bytes means the handshake cannot finish.
    this.#clientEnded = true;
    this.#advance();
  };

  #advance(): void {
    for (;;) {
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
  }

  #handle(event: ServerEvent): void {
    const conn = this.#conn;
    switch (event.type) {
      case 'greeting': {
        const available =
          conn.server.users() !== undefined ? [AuthMethod.UserPass] : [AuthMethod.NoAuth];
        const method = chooseMethod(event.methods, available);
        conn.record.method =
          method === AuthMethod.UserPass
            ? 'username'
            : method === AuthMethod.NoAuth
              ? 'none'
              : undefined;
        const bytes = this.#session.send({ type: 'method', method });
        if (method === AuthMethod.NoAcceptable) conn.closeWith(bytes, 'no-acceptable-method');
        else conn.socket.write(bytes);
        return;
      }
      case 'credentials':
        conn.socket.pause();
        void this.#authenticate(event.username, event.password);
        return;
      case 'request':
        conn.socket.pause();
        this.#request(event.command, event.destination);
        return;
      case 'protocol-error':
        conn.closeWith(event.response, 'protocol-error', event.error.code);
        return;
    }
  }

  async #authenticate(username: Uint8Array, password: Uint8Array): Promise<void> {
    const conn = this.#conn;
    const user = await authenticateUser(conn, username, password);
    if (conn.closing) return;
    const bytes = this.#session.send({ type: 'auth-result', success: user !== undefined });
    if (user === undefined) {
      conn.closeWith(bytes, 'auth-failed');
      return;
    }
    conn.socket.write(bytes);
    conn.socket.resume();
    this.#advance();
  }

  #request(command: Command, destination: SocksAddress): void {
    const conn = this.#conn;
    conn.record.command = commandNames[command];
    conn.record.destination = formatHostPort(destination.host, destination.port);
    const ctx = this.#context(destination);
    runCommand(command, ctx);
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
        conn.socket.write(
          session.send({
            type: 'reply',
            reply: Reply.Succeeded,
            bound: socksAddress(bound.address, bound.port),
          }),
        );
      },
      fail: (err) => {
        const reply = replyForError(err);
        conn.record.reply = reply;
        if (conn.closing) return;
        const bytes = session.send({ type: 'reply', reply, bound: UNSPECIFIED_ADDRESS });
        conn.closeWith(bytes, conn.noteFailure(err));
      },
      takePending: () => {
        conn.socket.off('data', this.#onData);
        conn.socket.off('end', this.#onEnd);
        return { data: session.takeTrailingData(), ended: this.#clientEnded };
      },
    };
  }
}
