/**
 * The SOCKS5 dialect: drives the sans-IO ServerSession over a client socket — method selection,
 * RFC 1929 or GSS-API (RFC 1961) authentication, the request — then hands the request to its
 * command. After a GSS-API session agrees on a protection level, it reads and writes through
 * `conn.stream`, the encapsulation layer, instead of the socket.
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
import { GssapiServerMethod, type GssapiOutcome } from './gssapi-method.js';

/** Picks the server's method for the client's offer: the server's policy, in its own order. */
export function chooseMethod(offered: readonly number[], available: readonly number[]): number {
  return available.find((m) => offered.includes(m)) ?? AuthMethod.NoAcceptable;
}

/**
 * The methods this server offers, in its order of preference: GSS-API first when configured (it
 * authenticates both ends and can protect the traffic, and no password crosses the wire), then
 * username/password; no authentication only when neither is configured.
 */
export function serverMethods(conn: Connection): number[] {
  const methods: number[] = [];
  if (conn.server.options.gssapi !== undefined) methods.push(AuthMethod.GssApi);
  if (conn.server.users() !== undefined) methods.push(AuthMethod.UserPass);
  if (methods.length === 0) methods.push(AuthMethod.NoAuth);
  return methods;
}

const methodNames: Readonly<Record<number, 'none' | 'username' | 'gssapi'>> = {
  [AuthMethod.NoAuth]: 'none',
  [AuthMethod.UserPass]: 'username',
  [AuthMethod.GssApi]: 'gssapi',
};

export class Socks5Handler {
  readonly #conn: Connection;
  readonly #session = new ServerSession();
  #clientEnded = false;
  #gssapi: GssapiServerMethod | undefined;

  constructor(conn: Connection) {
    this.#conn = conn;
    conn.record.dialect = 'socks5';
    this.#attach();
  }

  /** Reads the client through conn.stream (the socket, or the GSS-API layer over it). */
  #attach(): void {
    this.#conn.stream.on('data', this.#onData);
    this.#conn.stream.once('end', this.#onEnd);
  }

  #detach(): void {
    this.#conn.stream.off('data', this.#onData);
    this.#conn.stream.off('end', this.#onEnd);
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
      if (this.#gssapi !== undefined && this.#session.state === 'method-specific') {
        this.#gssapi.receive(this.#session.takeMethodData(), this.#clientEnded);
        return;
      }
      const event = this.#session.nextEvent();
      if (event === NEED_DATA) {
        if (this.#clientEnded) this.#conn.closeWith(undefined, 'client-closed');
        return;
      }
      if (event === PAUSED) {
        this.#conn.stream.pause();
        return;
      }
      this.#handle(event);
    }
  }

  #handle(event: ServerEvent): void {
    const conn = this.#conn;
    switch (event.type) {
      case 'greeting': {
        const method = chooseMethod(event.methods, serverMethods(conn));
        conn.record.method = methodNames[method];
        const bytes = this.#session.send({ type: 'method', method });
        if (method === AuthMethod.NoAcceptable) {
          conn.closeWith(bytes, 'no-acceptable-method');
          return;
        }
        const gssapi = conn.server.options.gssapi;
        if (method === AuthMethod.GssApi && gssapi !== undefined) {
          this.#gssapi = new GssapiServerMethod(conn, gssapi, this.#onGssapiDone);
        }
        conn.stream.write(bytes);
        return;
      }
      case 'credentials':
        conn.stream.pause();
        void this.#authenticate(event.username, event.password);
        return;
      case 'request':
        conn.stream.pause();
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
    conn.stream.write(bytes);
    conn.stream.resume();
    this.#advance();
  }

  /**
   * The GSS-API sub-negotiation succeeded. At a protected level the handler moves from the
   * socket to the encapsulation layer, which now holds whatever the client sent after its level
   * message; at `clear` those bytes go straight to the session.
   */
  readonly #onGssapiDone = (outcome: GssapiOutcome): void => {
    const conn = this.#conn;
    this.#gssapi = undefined;
    if ('stream' in outcome) {
      this.#detach();
      conn.protect(outcome.stream);
      this.#session.authenticated();
      this.#attach();
    } else {
      this.#session.authenticated(outcome.pending);
    }
    conn.stream.resume();
    this.#advance();
  };

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
        conn.stream.write(
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
        this.#detach();
        return { data: session.takeTrailingData(), ended: this.#clientEnded };
      },
    };
  }
}
