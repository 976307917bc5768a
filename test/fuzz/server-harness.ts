/**
 * The whole server, ready to be fuzzed: two FerryServers (a long handshake deadline for inputs
 * the client finishes with a FIN, a short one for inputs where the client stalls) with real access
 * rules, a resolver that answers from a fixed zone and never touches the network, and a loopback
 * echo server as the only allowed destination. `run()` serves one client stream over an
 * in-memory socket (`server.handleConnection`) and reports what the server wrote, when (how much
 * it had read by then), what it dialled, and how the session ended.
 */
import net from 'node:net';
import { once } from 'node:events';
import diagnosticsChannel from 'node:diagnostics_channel';
import { createServer, type FerryServer } from '../../src/server/index.js';
import { UserDatabase } from '../../src/auth/users.js';
import { hashPassword } from '../../src/auth/password.js';
import {
  compilePolicy,
  normalizeHost,
  type Dialect,
  type IpAddress,
  type Policy,
} from '../../src/rules/index.js';
import { DnsResolver } from '../../src/dial/resolver.js';
import { resolveAllowed } from '../../src/dial/destination.js';
import { SocksDialError } from '../../src/errors.js';
import {
  channelNames,
  type DialStartEvent,
  type SessionEvent,
} from '../../src/observability/channels.js';
import type { SessionRecord } from '../../src/server/session-record.js';
import { MemorySocket, type WriteRecord } from '../helpers/memory-socket.js';
import { pieces } from './mutate.js';
import { fail } from './target.js';

/** The echo server's address; its port is preferred fixed so that saved inputs replay as found. */
export const ECHO_HOST = '127.0.0.3';
const PREFERRED_ECHO_PORTS = [20999, 21999, 0];
/** IPv6 prefixes whose addresses embed an IPv4 address (see embeddedIPv4Of in src/rules/ip.ts). */
const EMBEDDING_PREFIXES = ['64:ff9b::/96', '2002::/16', '::/96', '::ffff:0:0:0/96', '2001::/32'];
/** Names the fake resolver knows. */
const zone: Readonly<Record<string, readonly string[]>> = {
  'echo.test': [ECHO_HOST],
  'private.test': ['10.0.0.1'],
  'both.test': ['10.9.9.9', ECHO_HOST],
  'v6.test': ['fd00::1'],
};
/** The servers' cap on an HTTP request head (`httpMaxHeaderSize`): small, so inputs cross it. */
export const HTTP_MAX_HEAD = 1024;
/** The harness's one user. */
export const USER = 'alice';
export const PASSWORD = 'secret';
/** How long a session may take to end after its input before it counts as hung. */
const END_WITHIN_MS = 10_000;
/** The deadline of the "stall" server: a client that stops mid-handshake is cut off at it. */
const STALL_DEADLINE_MS = 250;

/** A resolver that answers from `zone` and never touches the network. */
class ZoneResolver extends DnsResolver {
  override resolve(host: string): Promise<readonly IpAddress[]> {
    const target = normalizeHost(host);
    if (target.kind === 'invalid') return super.resolve(host); // throws ERR_SOCKS_BAD_HOST
    if (target.kind === 'ip') return Promise.resolve([target.ip]);
    const answers = zone[target.name];
    if (answers === undefined) {
      return Promise.reject(
        new SocksDialError('ERR_SOCKS_RESOLVE', `${target.name}: NXDOMAIN (fuzz zone)`, 0x04),
      );
    }
    return Promise.resolve(
      answers.map((a) => {
        const n = normalizeHost(a);
        if (n.kind !== 'ip') throw new Error(`zone entry ${a}`);
        return n.ip;
      }),
    );
  }
}

export interface Dial {
  readonly host: string;
  readonly port: number;
  /** Client octets the server had read when it dialled. */
  readonly consumed: number;
}

/** How one input was delivered. */
export interface Variant {
  /** The client half-closes after its input (else it stalls, and the short deadline applies). */
  readonly fin: boolean;
  /** A turn of the event loop between pieces (else all pieces in one tick). */
  readonly yieldBetween: boolean;
  /** 16 KiB more right after the input, in 1 KiB pieces. */
  readonly flood: boolean;
}

export interface Served {
  readonly output: Buffer;
  readonly writes: readonly WriteRecord[];
  readonly dials: readonly Dial[];
  readonly record: SessionRecord;
}

/** What the rules and the resolver make of a request: where to dial, or why not. */
export type Decision =
  | { readonly dial: { readonly host: string; readonly port: number } }
  | { readonly refused: unknown };

interface Live {
  readonly socket: MemorySocket;
  readonly dials: Dial[];
  record: SessionRecord | undefined;
}

export class ServerHarness {
  readonly #withUsers: boolean;
  #echo: net.Server | undefined;
  #echoPort = 0;
  readonly #echoSockets = new Set<net.Socket>();
  #finServer: FerryServer | undefined;
  #stallServer: FerryServer | undefined;
  #rules: Policy | undefined;
  readonly #resolver = new ZoneResolver();
  #nextPort = 1;
  // Sessions are matched to inputs by their record (the same object in every event; ids repeat
  // across the two servers): it starts synchronously inside handleConnection, and a PROXY header
  // later changes the record's client address and port.
  readonly #bySession = new Map<object, Live>();
  #starting: Live | undefined;

  constructor(options: { users: boolean }) {
    this.#withUsers = options.users;
  }

  get echoPort(): number {
    return this.#echoPort;
  }

  readonly #onStart = (message: unknown): void => {
    const e = message as SessionEvent;
    if (this.#starting !== undefined) this.#bySession.set(e.session, this.#starting);
  };

  readonly #onDial = (message: unknown): void => {
    const e = message as DialStartEvent;
    const s = e.session === undefined ? undefined : this.#bySession.get(e.session);
    s?.dials.push({ host: e.host, port: e.port, consumed: s.socket.consumed });
  };

  readonly #onEnd = (message: unknown): void => {
    const e = message as SessionEvent;
    const s = this.#bySession.get(e.session);
    if (s === undefined) return;
    s.record = { ...e.session };
    this.#bySession.delete(e.session);
  };

  async setup(): Promise<void> {
    await this.#listenEcho();
    this.#rules = compilePolicy({
      default: 'deny',
      rules: [
        // Rules also match the IPv4 address an IPv6 form embeds (docs/rules.md), so an allow of
        // 127.0.0.3 would admit ::7f00:3, 2002:7f00:3::/48 ... which route off this machine.
        // The fuzzer must only ever reach loopback: deny those forms themselves first.
        { name: 'fuzz-no-embedded', action: 'deny', destination: EMBEDDING_PREFIXES },
        {
          name: 'fuzz-echo',
          action: 'allow',
          command: 'connect',
          destination: `${ECHO_HOST}/32`,
          port: this.#echoPort,
        },
      ],
    });
    let users: UserDatabase | undefined;
    if (this.#withUsers) {
      const hash = await hashPassword(PASSWORD, { ln: 4, r: 1, p: 1 });
      users = UserDatabase.parse(`${USER}:${hash}\n`);
    }
    const common = {
      rules: this.#rules,
      resolver: this.#resolver,
      users,
      authFailureLimit: 0,
      connectTimeout: 5000,
      maxConnections: 100_000,
      trustedProxies: ['127.0.0.1/32'],
      // Small, so that mutated HTTP heads cross it (431 / 414).
      httpMaxHeaderSize: HTTP_MAX_HEAD,
    };
    this.#finServer = createServer({ ...common, handshakeTimeout: END_WITHIN_MS * 2 });
    this.#stallServer = createServer({ ...common, handshakeTimeout: STALL_DEADLINE_MS });
    diagnosticsChannel.subscribe(channelNames.sessionStart, this.#onStart);
    diagnosticsChannel.subscribe(channelNames.dialStart, this.#onDial);
    diagnosticsChannel.subscribe(channelNames.sessionEnd, this.#onEnd);
  }

  /** Fails when a session outlived its input; closes everything. */
  async teardown(): Promise<void> {
    diagnosticsChannel.unsubscribe(channelNames.sessionStart, this.#onStart);
    diagnosticsChannel.unsubscribe(channelNames.dialStart, this.#onDial);
    diagnosticsChannel.unsubscribe(channelNames.sessionEnd, this.#onEnd);
    const active = (this.#finServer?.stats.active ?? 0) + (this.#stallServer?.stats.active ?? 0);
    await this.#finServer?.close({ drainTimeout: 0 });
    await this.#stallServer?.close({ drainTimeout: 0 });
    for (const s of this.#echoSockets) s.destroy();
    await new Promise((r) => this.#echo?.close(r));
    if (active !== 0) fail('sessions-end', `${active} sessions still open after every input ended`);
  }

  /** Where the rules and the resolver send a CONNECT to `host:port`, or the error that stops it. */
  async decide(
    host: string,
    port: number,
    user: string | undefined,
    dialect: Dialect,
  ): Promise<Decision> {
    const rules = this.#rules;
    if (rules === undefined) throw new Error('ServerHarness: setup() was not run');
    const session = rules.session({ client: '127.0.0.1', user, command: 'connect', dialect });
    try {
      const checked = await resolveAllowed(session, this.#resolver, host, port);
      return { dial: { host: checked.host, port: checked.port } };
    } catch (err) {
      if (err instanceof SocksDialError) return { refused: err };
      throw err;
    }
  }

  /**
   * Serves `stream`, delivered in pieces ending at `ends`, as one client session. `succeeded`
   * says when the output holds a success answer (in the stall variant the client then ends its
   * side, once everything is sent, so that its tunnel to the echo closes).
   */
  async run(
    stream: Uint8Array,
    ends: readonly number[],
    variant: Variant,
    options: { proxied: boolean; succeeded: (output: Buffer) => boolean },
  ): Promise<Served> {
    const server = variant.fin ? this.#finServer : this.#stallServer;
    if (server === undefined) throw new Error('ServerHarness: setup() was not run');
    const port = this.#nextPort;
    this.#nextPort = (this.#nextPort % 65_000) + 1;
    let allSent = false;
    const socket = new MemorySocket({
      remotePort: port,
      onOutput: () => {
        // A real client closes when the server does.
        if (socket.serverEnded) socket.sendEnd();
        else if (allSent && options.succeeded(socket.outputBytes())) socket.sendEnd();
      },
    });
    const state: Live = { socket, dials: [], record: undefined };
    const closed = once(socket, 'close');
    try {
      try {
        this.#starting = state;
        server.handleConnection(socket.asSocket, { proxyProtocol: options.proxied });
        this.#starting = undefined;
        if (![...this.#bySession.values()].includes(state))
          fail('sessions-end', 'no session started');
        for (const piece of pieces(stream, ends.slice(0, -1))) {
          socket.send(piece);
          if (variant.yieldBetween) await new Promise((r) => setImmediate(r));
        }
        allSent = true;
        if (variant.fin || options.succeeded(socket.outputBytes())) socket.sendEnd();
      } catch (err) {
        if (err instanceof Error && err.name === 'PropertyFailure') throw err;
        fail('no-throw', `the server threw while reading the client: ${String(err)}`);
      }
      const timer = setTimeout(() => socket.destroy(new Error('hung')), END_WITHIN_MS);
      await closed.catch(() => undefined);
      clearTimeout(timer);
      if (socket.errored?.message === 'hung') {
        fail('sessions-end', `the session was still open ${END_WITHIN_MS} ms after its input`);
      }
      for (let i = 0; i < 200 && state.record === undefined; i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      const record = state.record;
      if (record === undefined)
        fail('sessions-end', 'the socket closed but the session never ended');
      if (variant.fin && record.endReason === 'handshake-timeout') {
        fail(
          'sessions-end',
          'a FIN during the handshake did not end the session: it waited for the deadline',
        );
      }
      return { output: socket.outputBytes(), writes: socket.writes, dials: state.dials, record };
    } finally {
      if (!socket.destroyed) socket.destroy();
    }
  }

  async #listenEcho(): Promise<void> {
    for (const port of PREFERRED_ECHO_PORTS) {
      const server = net.createServer({ allowHalfOpen: true }, (s) => {
        this.#echoSockets.add(s);
        s.on('close', () => this.#echoSockets.delete(s));
        s.on('error', () => undefined);
        s.pipe(s);
      });
      try {
        server.listen(port, ECHO_HOST);
        await once(server, 'listening');
        this.#echo = server;
        this.#echoPort = (server.address() as net.AddressInfo).port;
        return;
      } catch {
        server.close();
      }
    }
    throw new Error(`cannot listen on ${ECHO_HOST}`);
  }
}
