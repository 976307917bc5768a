/**
 * The socket side of one client handshake: reads the proxy's bytes into a {@link ClientSession},
 * writes what the session produces, runs pluggable auth methods, and turns refusals into errors
 * that name the proxy and the destination. Timeouts and aborts are the caller's (tunnel.ts): it
 * destroys the socket, which ends any read here.
 */
import type { Duplex } from 'node:stream';
import { formatHostPort, type SocksAddress } from '../protocol/address.js';
import { AuthMethod, Command, describeReply } from '../protocol/constants.js';
import { ClientSession, type ClientEvent } from '../protocol/client-session.js';
import { describeSocks4Reply } from '../protocol/socks4.js';
import {
  ClientErrorCode,
  ProtocolErrorCode,
  SocksAuthError,
  SocksConnectionError,
  SocksGssapiError,
  SocksProtocolError,
  SocksReplyError,
} from '../errors.js';
import { AuthLimits, type AuthContext, type AuthExchange } from './auth-method.js';
import type { SocksProxy } from './proxy.js';

/**
 * Reads a socket through `'readable'`/`read(n)` rather than `'data'`, for two reasons:
 * - releasing it leaves the stream exactly as Node hands it out (not flowing, not paused), so the
 *   application's own `'data'` listener or `pipe()` starts it as usual;
 * - the session is fed one octet at a time (handshake messages are a few hundred octets at most),
 *   so nothing past the final reply is ever taken out of the socket's buffer. Unshifting it back
 *   would not always work: when the proxy sends its reply, the first payload and a FIN together,
 *   a drained stream emits `'end'` before the handshake code runs, and a stream refuses
 *   `unshift()` after `'end'`.
 */
export class HandshakeReader {
  readonly #socket: Duplex;
  readonly #queue: Uint8Array[] = [];
  #ended: Error | undefined;
  #waiter: (() => void) | undefined;
  readonly #describe: () => string;

  constructor(socket: Duplex, describe: () => string) {
    this.#socket = socket;
    this.#describe = describe;
    socket.on('readable', this.#wake);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onEnd);
    socket.on('error', this.#onError);
  }

  /**
   * The next octets from the proxy: at most `size` (default: all that is buffered). Rejects when
   * the connection ends or fails first.
   */
  async read(size?: number): Promise<Uint8Array> {
    for (;;) {
      const queued = this.#queue.shift();
      if (queued !== undefined) {
        if (size === undefined || queued.length <= size) return queued;
        this.#queue.unshift(queued.subarray(size));
        return queued.subarray(0, size);
      }
      if (this.#ended) throw this.#ended;
      const chunk: unknown = this.#socket.read(size);
      if (chunk instanceof Uint8Array) return chunk;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
    }
  }

  /** Puts bytes back in front, to be read again. */
  unread(chunk: Uint8Array): void {
    if (chunk.length > 0) this.#queue.unshift(chunk);
  }

  /** Stops reading; returns bytes put back with {@link unread} and not read again. */
  release(): Uint8Array {
    this.#socket.off('readable', this.#wake);
    this.#socket.off('end', this.#onEnd);
    this.#socket.off('close', this.#onEnd);
    this.#socket.off('error', this.#onError);
    const rest = Buffer.concat(this.#queue.splice(0));
    return new Uint8Array(rest.buffer, rest.byteOffset, rest.length);
  }

  #wake = (): void => {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  };

  #onEnd = (): void => {
    this.#ended ??= new SocksProtocolError(
      ProtocolErrorCode.UnexpectedClose,
      `${this.#describe()}: the proxy closed the connection during the handshake`,
    );
    this.#wake();
  };

  #onError = (err: Error): void => {
    // A GSS-API layer's own failure (a message that fails its check, the proxy's abort) keeps
    // its code; anything else is the connection breaking.
    if (err instanceof SocksGssapiError) {
      this.#ended ??= new SocksGssapiError(
        err.code,
        `${this.#describe()}: ${err.message}`,
        {
          ...(err.operation === undefined ? {} : { operation: err.operation }),
          major: err.major,
          minor: err.minor,
          routine: err.routine,
        },
        { cause: err },
      );
      this.#wake();
      return;
    }
    this.#ended ??= new SocksConnectionError(
      ClientErrorCode.ProxyConnection,
      `${this.#describe()}: the connection to the proxy failed during the handshake: ${err.message}`,
      { cause: err },
    );
    this.#wake();
  };
}

export const commandLabels: Readonly<Record<Command, string>> = {
  [Command.Connect]: 'CONNECT',
  [Command.Bind]: 'BIND',
  [Command.UdpAssociate]: 'UDP ASSOCIATE',
};

/** One hop's handshake, up to its first reply. */
export class Handshake {
  readonly session: ClientSession;
  readonly label: string;
  readonly #proxy: SocksProxy;
  #socket: Duplex;
  #reader: HandshakeReader;
  #protection: Duplex | undefined;
  readonly #command: Command;
  readonly #destination: SocksAddress;

  constructor(
    proxy: SocksProxy,
    socket: Duplex,
    reader: HandshakeReader,
    command: Command,
    destination: SocksAddress,
    hopLabel = '',
  ) {
    this.#proxy = proxy;
    this.#socket = socket;
    this.#reader = reader;
    this.#command = command;
    this.#destination = destination;
    this.session = new ClientSession({ version: proxy.version });
    const to = formatHostPort(destination.host, destination.port);
    this.label = `${commandLabels[command]} ${to} via SOCKS${proxy.version} proxy ${proxy.toString()}${hopLabel}`;
  }

  readonly #describe = (): string => this.label;

  /**
   * Where this hop's bytes travel once its method is done: the connection it was given, or the
   * protection layer its method put over it (GSS-API). Later hops and the application use it.
   */
  get connection(): { readonly stream: Duplex; readonly reader: HandshakeReader } {
    return { stream: this.#socket, reader: this.#reader };
  }

  /** The layer this hop's method put over the connection, if any. */
  get protection(): Duplex | undefined {
    return this.#protection;
  }

  /** Runs the handshake to the first reply; resolves with it, or rejects with a SocksError. */
  async run(): Promise<Extract<ClientEvent, { type: 'reply' }>> {
    if (this.session.version === 5) await this.#negotiateMethod();
    const proxy = this.#proxy;
    this.#socket.write(
      this.session.send({
        type: 'request',
        command: this.#command,
        destination: this.#destination,
        ...(proxy.version === 4 && proxy.username !== undefined ? { userId: proxy.username } : {}),
      }),
    );
    return this.nextReply();
  }

  /** Waits for a reply (the first, or BIND's second); a failure reply rejects. */
  async nextReply(): Promise<Extract<ClientEvent, { type: 'reply' }>> {
    const event = await this.#next();
    if (event.type !== 'reply') throw new Error(`unexpected ${event.type}`); // table guarantees
    if (event.succeeded) return event;
    const version = this.session.version;
    const meaning = version === 5 ? describeReply(event.reply) : describeSocks4Reply(event.reply);
    const code = `0x${event.reply.toString(16).padStart(2, '0')}`;
    throw new SocksReplyError(
      event.reply,
      version,
      `${this.label} failed: ${meaning} (SOCKS${version} reply ${code})`,
    );
  }

  /** Hands back bytes after the final reply and stops owning them. */
  takeTrailingData(): Uint8Array {
    return this.session.takeTrailingData();
  }

  async #negotiateMethod(): Promise<void> {
    const proxy = this.#proxy;
    const credentials = proxy.credentials();
    const required = proxy.methods.some((m) => m.required === true);
    const methods: number[] = required ? [] : [AuthMethod.NoAuth];
    if (credentials) methods.push(AuthMethod.UserPass);
    for (const m of proxy.methods) if (!methods.includes(m.method)) methods.push(m.method);
    this.#socket.write(this.session.send({ type: 'greeting', methods }));
    const selected = await this.#next();
    if (selected.type !== 'method') throw new Error(`unexpected ${selected.type}`);
    const method = selected.method;
    if (method === AuthMethod.NoAcceptable) {
      const names = [...(required ? [] : ['none']), ...(credentials ? ['username/password'] : [])];
      names.push(...proxy.methods.map((m) => m.name));
      throw new SocksAuthError(
        ClientErrorCode.NoAcceptableMethod,
        `${this.label} failed: the proxy accepted none of the offered authentication methods (${names.join(', ')})`,
      );
    }
    if (method === AuthMethod.UserPass && credentials) {
      this.#socket.write(this.session.send({ type: 'credentials', ...credentials }));
      const result = await this.#next();
      if (result.type === 'auth-result' && !result.success) {
        throw new SocksAuthError(
          ClientErrorCode.AuthFailed,
          `${this.label} failed: the proxy rejected the username/password of user "${credentials.username}" (RFC 1929 status 0x${result.status.toString(16).padStart(2, '0')})`,
        );
      }
      return;
    }
    const custom = proxy.methods.find((m) => m.method === method);
    if (custom) await this.#runMethod(custom.start(this.#context()), custom.name);
  }

  /** Drives a pluggable method's exchange until it is done (see auth-method.ts). */
  async #runMethod(exchange: AuthExchange, name: string): Promise<void> {
    let input = this.session.takeMethodData();
    for (let steps = 0; steps < AuthLimits.maxSteps;) {
      const step = await exchange.step(input);
      steps++;
      if (!Number.isInteger(step.consumed) || step.consumed < 0 || step.consumed > input.length) {
        throw new RangeError(`auth method ${name}: consumed ${step.consumed} of ${input.length}`);
      }
      const sent = step.output !== undefined && step.output.length > 0;
      if (sent) this.#socket.write(step.output);
      if (step.error !== undefined) throw step.error;
      input = input.subarray(step.consumed);
      if (step.done && step.protect !== undefined) {
        // Everything after the method is encapsulated: the octets read past its end (and any
        // still queued) belong to the layer, which now carries this hop and what follows.
        const pending = Buffer.concat([input, this.#reader.release()]);
        const layer = step.protect(this.#socket, pending);
        this.#protection = layer;
        this.#socket = layer;
        this.#reader = new HandshakeReader(layer, this.#describe);
        this.session.authenticated();
        return;
      }
      if (step.done) {
        this.session.authenticated(input);
        return;
      }
      if (input.length === 0 || (step.consumed === 0 && !sent)) {
        if (input.length > AuthLimits.maxBuffered) {
          throw new SocksProtocolError(
            ProtocolErrorCode.MessageTooLarge,
            `${this.label}: auth method ${name} buffered more than ${AuthLimits.maxBuffered} octets`,
          );
        }
        input = Buffer.concat([input, await this.#reader.read()]);
      }
    }
    throw new SocksProtocolError(
      ProtocolErrorCode.BadMessage,
      `${this.label}: auth method ${name} did not finish in ${AuthLimits.maxSteps} steps`,
    );
  }

  #context(): AuthContext {
    return {
      proxy: this.#proxy.toString(),
      proxyHost: this.#proxy.host,
      destination: this.#destination,
    };
  }

  /** The next event, reading as needed; a malformed message rejects with context added. */
  async #next(): Promise<Exclude<ClientEvent, { type: 'protocol-error' }>> {
    for (;;) {
      const event = this.session.nextEvent();
      if (typeof event === 'object') {
        if (event.type !== 'protocol-error') return event;
        throw new SocksProtocolError(
          event.error.code,
          `${this.label}: the proxy sent a malformed message: ${event.error.message}`,
          undefined,
          { cause: event.error },
        );
      }
      // One octet at a time: never take bytes past the final reply out of the socket.
      this.session.receiveData(await this.#reader.read(1));
    }
  }
}
