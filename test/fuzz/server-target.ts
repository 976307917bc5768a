/**
 * The whole server as a fuzz target: a FerryServer serves each input as one client session over
 * an in-memory socket (`server.handleConnection`), with real access rules, a fake resolver and a
 * real loopback echo server as the only allowed destination. Checked for every session:
 *
 * - nothing throws out of the server (an exception while it handles our bytes is a failure);
 * - it answers exactly what an independent reading of the bytes (socks5-oracle.ts) calls for:
 *   method, RFC 1929 status, a full-length reply with the right REP — then, after success, the
 *   echo of every octet the client sent after its request (never drop a byte), else nothing;
 * - no outbound connection (`ferry:dial:start`) unless the request was complete, authenticated
 *   and allowed, and then exactly one, to the checked destination; and a valid allowed request
 *   does get through;
 * - bounded read-ahead: when the server answers a message (or dials), it has read no further
 *   than the chunk that completed that message — it stops reading while it decides;
 * - every session ends: the socket closes; a client FIN during the handshake ends it at once
 *   (not at the handshake deadline); a stalled client is cut off at the deadline;
 * - afterwards no session is left (`server.stats.active` is 0).
 */
import net from 'node:net';
import { once } from 'node:events';
import diagnosticsChannel from 'node:diagnostics_channel';
import { isDeepStrictEqual } from 'node:util';
import { createServer, type FerryServer } from '../../src/server/index.js';
import { UserDatabase } from '../../src/auth/users.js';
import { hashPassword } from '../../src/auth/password.js';
import {
  compilePolicy,
  normalizeHost,
  NotAllowedError,
  type IpAddress,
} from '../../src/rules/index.js';
import { DnsResolver } from '../../src/dial/resolver.js';
import { resolveAllowed } from '../../src/dial/destination.js';
import { SocksDialError } from '../../src/errors.js';
import { decodeProxyHeader } from '../../src/protocol/proxy-protocol.js';
import { NEED_MORE } from '../../src/protocol/decode.js';
import {
  channelNames,
  type DialStartEvent,
  type SessionEvent,
} from '../../src/observability/channels.js';
import type { SessionRecord } from '../../src/server/session-record.js';
import { MemorySocket } from '../helpers/memory-socket.js';
import { withPort } from './corpus.js';
import { pieces } from './mutate.js';
import { hashString } from './rng.js';
import { expectedAnswers, modelStream, type StreamModel } from './socks5-oracle.js';
import { fail, type FuzzTarget } from './target.js';

/** The echo server's address; its port is preferred fixed so that saved inputs replay as found. */
const ECHO_HOST = '127.0.0.3';
const PREFERRED_ECHO_PORTS = [20999, 21999, 0];
/** IPv6 prefixes whose addresses embed an IPv4 address (see embeddedIPv4Of in src/rules/ip.ts). */
const EMBEDDING_PREFIXES = ['64:ff9b::/96', '2002::/16', '::/96', '::ffff:0:0:0/96', '2001::/32'];
/** Names the fake resolver knows. */
const ECHO_NAME = 'echo.test';
const zone: Readonly<Record<string, readonly string[]>> = {
  [ECHO_NAME]: [ECHO_HOST],
  'private.test': ['10.0.0.1'],
  'both.test': ['10.9.9.9', ECHO_HOST],
  'v6.test': ['fd00::1'],
};
const USER = new TextEncoder().encode('alice');
const PASSWORD = new TextEncoder().encode('secret');
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

interface Live {
  readonly socket: MemorySocket;
  readonly dials: { host: string; port: number; consumed: number }[];
  record: SessionRecord | undefined;
  error: unknown;
}

/** FNV over the octets: picks the delivery variant so that an input always replays the same way. */
function variantOf(input: Uint8Array): { fin: boolean; yieldBetween: boolean; flood: boolean } {
  let h = hashString('variant');
  for (const b of input) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return { fin: (h & 3) !== 0, yieldBetween: (h & 4) !== 0, flood: (h & 0x18) === 0 };
}

const FLOOD_CHUNKS = 16;
const FLOOD_CHUNK = 1024;

/**
 * `proxied`: the session comes from a trusted load balancer and starts with a PROXY protocol
 * header (v1/v2). The header's end is found by ferry's own decoder (fuzzed as a decoder target
 * on its own); everything after it must then behave exactly as a direct session.
 */
export function serverTarget(
  name: string,
  method: 0x00 | 0x02,
  options: { proxied?: boolean } = {},
): FuzzTarget {
  const proxied = options.proxied === true;
  let echo: net.Server | undefined;
  let echoPort = 0;
  const echoSockets = new Set<net.Socket>();
  let finServer: FerryServer | undefined;
  let stallServer: FerryServer | undefined;
  let nextPort = 1;
  let users: UserDatabase | undefined;
  const rules = (): ReturnType<typeof compilePolicy> =>
    compilePolicy({
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
          port: echoPort,
        },
      ],
    });
  const resolver = new ZoneResolver();

  // Sessions are matched to inputs by their record (the same object in every event; ids repeat
  // across the two servers): the session starts synchronously inside handleConnection, and a
  // PROXY header later changes the record's client address and port.
  const bySession = new Map<object, Live>();
  let starting: Live | undefined;
  const onStart = (message: unknown): void => {
    const e = message as SessionEvent;
    if (starting !== undefined) bySession.set(e.session, starting);
  };
  const onDial = (message: unknown): void => {
    const e = message as DialStartEvent;
    const s = e.session === undefined ? undefined : bySession.get(e.session);
    if (s === undefined) return;
    s.dials.push({ host: e.host, port: e.port, consumed: s.socket.consumed });
  };
  const onEnd = (message: unknown): void => {
    const e = message as SessionEvent;
    const s = bySession.get(e.session);
    if (s === undefined) return;
    s.record = { ...e.session };
    bySession.delete(e.session);
  };

  async function listenEcho(): Promise<void> {
    for (const port of PREFERRED_ECHO_PORTS) {
      const server = net.createServer({ allowHalfOpen: true }, (s) => {
        echoSockets.add(s);
        s.on('close', () => echoSockets.delete(s));
        s.on('error', () => undefined);
        s.pipe(s);
      });
      try {
        server.listen(port, ECHO_HOST);
        await once(server, 'listening');
        echo = server;
        echoPort = (server.address() as net.AddressInfo).port;
        return;
      } catch {
        server.close();
      }
    }
    throw new Error(`cannot listen on ${ECHO_HOST}`);
  }

  /** What a correct server must do with a valid request: dial `dial`, or refuse with `reply`. */
  async function decide(
    model: StreamModel,
  ): Promise<{ dial?: { host: string; port: number }; replies: number[] }> {
    const r = model.request;
    if (r?.kind !== 'ok') return { replies: [] };
    if (r.command !== 0x01) return { replies: [0x02, 0x07] }; // BIND/UDP: denied (or unsupported)
    const user = method === 0x02 ? 'alice' : undefined;
    const session = rules().session({
      client: '127.0.0.1',
      user,
      command: 'connect',
      dialect: 'socks5',
    });
    try {
      const checked = await resolveAllowed(session, resolver, r.host, r.port);
      return { dial: { host: checked.host, port: checked.port }, replies: [0x00] };
    } catch (err) {
      if (err instanceof NotAllowedError) return { replies: [0x02] };
      if (err instanceof SocksDialError) return { replies: [err.reply] };
      throw err;
    }
  }

  return {
    name,
    corpus: proxied
      ? ['proxied-socks5-noauth']
      : method === 0x00
        ? ['socks5-client-noauth']
        : ['socks5-client-userpass'],
    maxInput: 1200,
    concurrency: 32,
    weight: 4,
    async setup() {
      await listenEcho();
      if (method === 0x02) {
        const hash = await hashPassword('secret', { ln: 4, r: 1, p: 1 });
        users = UserDatabase.parse(`alice:${hash}\n`);
      }
      const common = {
        rules: rules(),
        resolver,
        users,
        authFailureLimit: 0,
        connectTimeout: 5000,
        maxConnections: 100_000,
        trustedProxies: ['127.0.0.1/32'],
      };
      finServer = createServer({ ...common, handshakeTimeout: END_WITHIN_MS * 2 });
      stallServer = createServer({ ...common, handshakeTimeout: STALL_DEADLINE_MS });
      diagnosticsChannel.subscribe(channelNames.sessionStart, onStart);
      diagnosticsChannel.subscribe(channelNames.dialStart, onDial);
      diagnosticsChannel.subscribe(channelNames.sessionEnd, onEnd);
    },
    prepare: (entry) => withPort(entry, echoPort),
    validate: (entry) => {
      let at = 0;
      if (proxied) {
        const h = decodeProxyHeader(entry);
        if (h === NEED_MORE) fail('corpus', 'incomplete PROXY header');
        at = h.length;
      }
      const m = modelStream(entry.subarray(at), method, { user: USER, password: PASSWORD });
      if (m.greeting.kind !== 'ok') fail('corpus', `greeting ${m.greeting.kind}`);
      if (m.request !== undefined && m.request.kind === 'malformed')
        fail('corpus', 'malformed request');
    },
    async teardown() {
      diagnosticsChannel.unsubscribe(channelNames.sessionStart, onStart);
      diagnosticsChannel.unsubscribe(channelNames.dialStart, onDial);
      diagnosticsChannel.unsubscribe(channelNames.sessionEnd, onEnd);
      const active = (finServer?.stats.active ?? 0) + (stallServer?.stats.active ?? 0);
      await finServer?.close({ drainTimeout: 0 });
      await stallServer?.close({ drainTimeout: 0 });
      for (const s of echoSockets) s.destroy();
      await new Promise((r) => echo?.close(r));
      if (active !== 0)
        fail('sessions-end', `${active} sessions still open after every input ended`);
    },
    async check(input, cuts) {
      const server = variantOf(input).fin ? finServer : stallServer;
      if (server === undefined) throw new Error('serverTarget: setup() was not run');
      const variant = variantOf(input);
      // The stream the client sends: the input, and (flood variant) 16 KiB more right after it.
      let stream = input;
      let ends = [...cuts.filter((c) => c > 0 && c < input.length), input.length];
      if (variant.flood) {
        stream = new Uint8Array(input.length + FLOOD_CHUNKS * FLOOD_CHUNK);
        stream.set(input);
        stream.fill(input.length & 0xff, input.length);
        for (let i = 1; i <= FLOOD_CHUNKS; i++) ends.push(input.length + i * FLOOD_CHUNK);
      }
      ends = [...new Set(ends)].filter((e) => e > 0).sort((a, b) => a - b);
      // With a PROXY header, the SOCKS stream starts after it; a bad or incomplete header means
      // nothing may be answered or dialled at all.
      let prefix = 0;
      let header: 'absent' | 'ok' | 'refused' = 'absent';
      if (proxied) {
        try {
          const h = decodeProxyHeader(stream);
          if (h === NEED_MORE) header = 'refused';
          else {
            prefix = h.length;
            header = 'ok';
          }
        } catch {
          header = 'refused';
        }
      }
      const socks = stream.subarray(prefix);
      const chunkEnd = (offset: number): number =>
        (ends.find((e) => e >= offset + prefix) ?? stream.length) - prefix;

      const port = nextPort;
      nextPort = (nextPort % 65_000) + 1;
      const model: StreamModel =
        header === 'refused'
          ? {
              greeting: { kind: 'incomplete' },
              method: undefined,
              auth: undefined,
              request: undefined,
            }
          : modelStream(socks, method, { user: USER, password: PASSWORD });
      let allSent = false;
      const socket = new MemorySocket({
        remotePort: port,
        onOutput: () => {
          // A real client closes when the server does; in the stall variant it also ends its
          // side once its tunnel is up and all its octets are sent (the echo then ends, and
          // with it the session).
          if (socket.serverEnded) socket.sendEnd();
          else if (allSent && successReplyIn(socket.outputBytes(), model)) socket.sendEnd();
        },
      });
      const state: Live = { socket, dials: [], record: undefined, error: undefined };
      const closed = once(socket, 'close');
      try {
        try {
          starting = state;
          server.handleConnection(socket.asSocket, { proxyProtocol: proxied });
          starting = undefined;
          if (![...bySession.values()].includes(state)) fail('sessions-end', 'no session started');
          for (const piece of pieces(stream, ends.slice(0, -1))) {
            socket.send(piece);
            if (variant.yieldBetween) await new Promise((r) => setImmediate(r));
          }
          allSent = true;
          if (variant.fin || successReplyIn(socket.outputBytes(), model)) socket.sendEnd();
        } catch (err) {
          fail('no-throw', `the server threw while reading the client: ${String(err)}`);
        }
        const timer = setTimeout(() => socket.destroy(new Error('hung')), END_WITHIN_MS);
        await closed.catch(() => undefined);
        clearTimeout(timer);
        if (socket.errored?.message === 'hung')
          fail('sessions-end', `the session was still open ${END_WITHIN_MS} ms after its input`);
        for (let i = 0; i < 200 && state.record === undefined; i++)
          await new Promise((r) => setTimeout(r, 5));
        const record = state.record;
        if (record === undefined)
          fail('sessions-end', 'the socket closed but the session never ended');
        if (variant.fin && record.endReason === 'handshake-timeout') {
          fail(
            'sessions-end',
            'a FIN during the handshake did not end the session: it waited for the deadline',
          );
        }
        await verify(model, socks, prefix, chunkEnd, state, record, variant.fin);
      } finally {
        if (!socket.destroyed) socket.destroy();
      }
    },
  };

  /**
   * `stream` is the SOCKS part of what the client sent, after `prefix` octets of PROXY header;
   * `chunkEnd` counts within it.
   */
  async function verify(
    model: StreamModel,
    stream: Uint8Array,
    prefix: number,
    chunkEnd: (offset: number) => number,
    state: Live,
    record: SessionRecord,
    fin: boolean,
  ): Promise<void> {
    const out = state.socket.outputBytes();
    const cutShort = !fin && record.endReason === 'handshake-timeout';
    const { messages, replyPending } = expectedAnswers(model);
    const decision = await decide(model);
    let at = 0;
    const readAhead = (what: string, endOffset: number, answers: number | undefined): void => {
      if (answers === undefined) return;
      const write = state.socket.writes.find((w) => w.outputLength >= endOffset);
      if (write !== undefined && write.consumed - prefix > chunkEnd(answers)) {
        fail(
          'bounded-read-ahead',
          `${what} written after reading ${write.consumed - prefix} octets; the message ended at ${answers}, its chunk at ${chunkEnd(answers)}`,
        );
      }
    };
    for (const m of messages) {
      const got = out.subarray(at, at + m.bytes.length);
      if (got.length === 0 && cutShort) return;
      if (!isDeepStrictEqual(new Uint8Array(got), m.bytes)) {
        fail(
          'answers',
          `expected ${m.what} ${hex(m.bytes)} at output ${at}, got ${hex(got)} (output ${hex(out.subarray(0, 64))}, end ${record.endReason})`,
        );
      }
      if (m.what === 'reply') {
        const length = replyLength(out, at);
        if (length === undefined || out.length < at + length)
          fail('answers', `a short reply ${hex(out.subarray(at))}`);
        at += length;
      } else {
        at += m.bytes.length;
      }
      readAhead(m.what, at, m.answers);
    }
    if (decision.dial === undefined && state.dials.length > 0) {
      fail(
        'no-unchecked-dial',
        `dialled ${JSON.stringify(state.dials)} for ${describeModel(model)}`,
      );
    }
    if (!replyPending) {
      if (out.length !== at)
        fail('answers', `unexpected output after the answers: ${hex(out.subarray(at, at + 32))}`);
      return;
    }
    const r = model.request;
    if (r?.kind !== 'ok') return;
    if (decision.dial !== undefined) {
      const dials = state.dials;
      if (dials.length === 0 && cutShort) return;
      if (dials.length !== 1)
        fail('dial', `${dials.length} dials for an allowed request (${describeModel(model)})`);
      const d = dials[0]!;
      if (d.host !== decision.dial.host || d.port !== decision.dial.port) {
        fail(
          'dial',
          `dialled ${d.host}:${d.port}; the checked destination was ${decision.dial.host}:${decision.dial.port}`,
        );
      }
      if (d.consumed - prefix > chunkEnd(r.end)) {
        fail(
          'bounded-read-ahead',
          `dialled after reading ${d.consumed - prefix} octets; the request ended at ${r.end}`,
        );
      }
    }
    if (out.length === at) {
      if (cutShort) return;
      fail(
        'answers',
        `no reply to a complete request (${describeModel(model)}; end ${record.endReason})`,
      );
    }
    const length = replyLength(out, at);
    if (length === undefined || out[at] !== 0x05 || out[at + 2] !== 0x00)
      fail('answers', `malformed reply ${hex(out.subarray(at, at + 24))}`);
    if (out.length < at + length) fail('answers', `a short reply ${hex(out.subarray(at))}`);
    const rep = out[at + 1]!;
    if (!decision.replies.includes(rep)) {
      fail(
        'answers',
        `REP ${rep} for ${describeModel(model)}; expected one of ${decision.replies.join(',')}`,
      );
    }
    if (record.reply !== rep)
      fail('answers', `the record says REP ${record.reply}, the wire ${rep}`);
    at += length;
    readAhead('reply', at, r.end);
    const rest = out.subarray(at);
    if (rep !== 0x00) {
      if (rest.length !== 0) fail('answers', `${rest.length} octets after a failure reply`);
      return;
    }
    // Never drop a byte: the echo returns everything the client sent after its request.
    const sent = stream.subarray(r.end);
    if (!isDeepStrictEqual(new Uint8Array(rest), new Uint8Array(sent))) {
      fail(
        'no-byte-dropped',
        `sent ${sent.length} octets after the request, ${rest.length} came back (end ${record.endReason})`,
      );
    }
  }
}

/** 10 for an IPv4 BND, 22 for IPv6 (ferry never answers with a name). */
function replyLength(out: Uint8Array, at: number): number | undefined {
  const atyp = out[at + 3];
  return atyp === 0x01 ? 10 : atyp === 0x04 ? 22 : undefined;
}

function successReplyIn(out: Uint8Array, model: StreamModel): boolean {
  const { messages } = expectedAnswers(model);
  const at = messages.reduce((n, m) => n + m.bytes.length, 0);
  return out.length >= at + 10 && out[at] === 0x05 && out[at + 1] === 0x00;
}

function describeModel(model: StreamModel): string {
  return JSON.stringify(model, (_k, v: unknown) => (v instanceof Uint8Array ? hex(v) : v));
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
