/**
 * An independent reading of a SOCKS5 client byte stream (RFC 1928 §3–§5, RFC 1929 §2), written
 * from the RFCs and not from ferry's decoders: where each message ends, whether it is valid, and
 * so what a correct server must answer. The whole-server fuzz target compares ferry with it.
 */
import { replyForError } from '../../src/errors.js';
import { checkDials, checkEcho, hex, type DialectOracle } from './server-target.js';
import { PASSWORD, USER, type Decision } from './server-harness.js';
import { fail } from './target.js';

export type GreetingModel =
  | { kind: 'incomplete' }
  | { kind: 'bad-version' }
  | { kind: 'no-methods' }
  | { kind: 'ok'; end: number; methods: number[] };

export type AuthModel =
  { kind: 'incomplete' } | { kind: 'malformed' } | { kind: 'ok'; end: number; success: boolean };

export type RequestModel =
  | { kind: 'incomplete' }
  /** Malformed: `reply` is the REP the RFC (and ferry's table) gives it. */
  | { kind: 'malformed'; reply: number }
  | { kind: 'ok'; end: number; command: number; host: string; port: number };

export interface StreamModel {
  readonly greeting: GreetingModel;
  /** The METHOD a server offering only `serverMethod` must select (FF: none acceptable). */
  readonly method: number | undefined;
  readonly auth: AuthModel | undefined;
  readonly request: RequestModel | undefined;
}

const VER = 0x05;
const AUTH_VER = 0x01;
const textDecoder = new TextDecoder('utf-8');

function eq(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function readGreeting(b: Uint8Array): GreetingModel {
  if (b.length < 1) return { kind: 'incomplete' };
  if (b[0] !== VER) return { kind: 'bad-version' };
  if (b.length < 2) return { kind: 'incomplete' };
  const n = b[1]!;
  if (n === 0) return { kind: 'no-methods' };
  if (b.length < 2 + n) return { kind: 'incomplete' };
  return { kind: 'ok', end: 2 + n, methods: [...b.subarray(2, 2 + n)] };
}

function readAuth(b: Uint8Array, at: number, user: Uint8Array, pass: Uint8Array): AuthModel {
  if (b.length < at + 1) return { kind: 'incomplete' };
  if (b[at] !== AUTH_VER) return { kind: 'malformed' };
  if (b.length < at + 2) return { kind: 'incomplete' };
  const ulen = b[at + 1]!;
  if (ulen === 0) return { kind: 'malformed' };
  if (b.length < at + 3 + ulen) return { kind: 'incomplete' };
  const plen = b[at + 2 + ulen]!;
  if (plen === 0) return { kind: 'malformed' };
  const end = at + 3 + ulen + plen;
  if (b.length < end) return { kind: 'incomplete' };
  const u = b.subarray(at + 2, at + 2 + ulen);
  const p = b.subarray(at + 3 + ulen, end);
  return { kind: 'ok', end, success: eq(u, user) && eq(p, pass) };
}

const REP_GENERAL = 0x01;
const REP_COMMAND = 0x07;
const REP_ATYP = 0x08;

function readRequest(b: Uint8Array, at: number): RequestModel {
  if (b.length < at + 1) return { kind: 'incomplete' };
  if (b[at] !== VER) return { kind: 'malformed', reply: REP_GENERAL };
  if (b.length < at + 2) return { kind: 'incomplete' };
  const command = b[at + 1]!;
  if (command < 1 || command > 3) return { kind: 'malformed', reply: REP_COMMAND };
  if (b.length < at + 4) return { kind: 'incomplete' };
  const atyp = b[at + 3]!;
  const a = at + 4;
  const port = (end: number): number => (b[end - 2]! << 8) | b[end - 1]!;
  switch (atyp) {
    case 0x01: {
      const end = a + 4 + 2;
      if (b.length < end) return { kind: 'incomplete' };
      return {
        kind: 'ok',
        end,
        command,
        host: [...b.subarray(a, a + 4)].join('.'),
        port: port(end),
      };
    }
    case 0x04: {
      const end = a + 16 + 2;
      if (b.length < end) return { kind: 'incomplete' };
      const groups: string[] = [];
      for (let i = 0; i < 8; i++)
        groups.push(((b[a + 2 * i]! << 8) | b[a + 2 * i + 1]!).toString(16));
      return { kind: 'ok', end, command, host: groups.join(':'), port: port(end) };
    }
    case 0x03: {
      if (b.length < a + 1) return { kind: 'incomplete' };
      const len = b[a]!;
      if (len === 0) return { kind: 'malformed', reply: REP_GENERAL };
      const end = a + 1 + len + 2;
      if (b.length < end) return { kind: 'incomplete' };
      const name = b.subarray(a + 1, a + 1 + len);
      if (name.includes(0)) return { kind: 'malformed', reply: REP_GENERAL };
      return { kind: 'ok', end, command, host: textDecoder.decode(name), port: port(end) };
    }
    default:
      return { kind: 'malformed', reply: REP_ATYP };
  }
}

/** Reads a client stream for a server that offers exactly `serverMethod` (00 or 02). */
export function modelStream(
  bytes: Uint8Array,
  serverMethod: 0x00 | 0x02,
  credentials: { user: Uint8Array; password: Uint8Array },
): StreamModel {
  const greeting = readGreeting(bytes);
  if (greeting.kind !== 'ok')
    return { greeting, method: undefined, auth: undefined, request: undefined };
  const method = greeting.methods.includes(serverMethod) ? serverMethod : 0xff;
  if (method === 0xff) return { greeting, method, auth: undefined, request: undefined };
  let at = greeting.end;
  let auth: AuthModel | undefined;
  if (method === 0x02) {
    auth = readAuth(bytes, at, credentials.user, credentials.password);
    if (auth.kind !== 'ok' || !auth.success) return { greeting, method, auth, request: undefined };
    at = auth.end;
  }
  return { greeting, method, auth, request: readRequest(bytes, at) };
}

/** One server message in the expected answer, with the client octet that completed its question. */
export interface ExpectedMessage {
  readonly what: 'method' | 'auth' | 'reply';
  /** Exact octets, or for a reply only VER and REP (the bound address varies). */
  readonly bytes: Uint8Array;
  /** Client stream offset just past the message this answers (undefined for error answers). */
  readonly answers: number | undefined;
}

/**
 * The server's answers up to the reply: method selection, RFC 1929 status, the reply's first two
 * octets when its REP is known from the bytes alone. `replyPending` is set for a valid request,
 * whose REP depends on rules, DNS and the dial.
 */
export function expectedAnswers(model: StreamModel): {
  messages: ExpectedMessage[];
  replyPending: boolean;
} {
  const messages: ExpectedMessage[] = [];
  const g = model.greeting;
  if (g.kind === 'no-methods')
    messages.push({ what: 'method', bytes: Uint8Array.of(VER, 0xff), answers: undefined });
  if (g.kind !== 'ok' || model.method === undefined) return { messages, replyPending: false };
  messages.push({ what: 'method', bytes: Uint8Array.of(VER, model.method), answers: g.end });
  if (model.method === 0xff) return { messages, replyPending: false };
  const a = model.auth;
  if (a !== undefined) {
    if (a.kind === 'incomplete') return { messages, replyPending: false };
    if (a.kind === 'malformed') {
      messages.push({ what: 'auth', bytes: Uint8Array.of(AUTH_VER, 0x01), answers: undefined });
      return { messages, replyPending: false };
    }
    messages.push({
      what: 'auth',
      bytes: Uint8Array.of(AUTH_VER, a.success ? 0x00 : 0x01),
      answers: a.end,
    });
    if (!a.success) return { messages, replyPending: false };
  }
  const r = model.request;
  if (r === undefined || r.kind === 'incomplete') return { messages, replyPending: false };
  if (r.kind === 'malformed') {
    messages.push({ what: 'reply', bytes: Uint8Array.of(VER, r.reply), answers: undefined });
    return { messages, replyPending: false };
  }
  return { messages, replyPending: true };
}

// --- The SOCKS5 oracle for the whole-server target ---------------------------------------------

const textEncoder = new TextEncoder();

/** 10 for an IPv4 BND, 22 for IPv6 (ferry never answers with a name). */
function replyLength(out: Uint8Array, at: number): number | undefined {
  const atyp = out[at + 3];
  return atyp === 0x01 ? 10 : atyp === 0x04 ? 22 : undefined;
}

function describe(model: StreamModel): string {
  return JSON.stringify(model, (_k, v: unknown) => (v instanceof Uint8Array ? hex(v) : v));
}

/**
 * The REPs a correct server may send for a valid request, given what the rules decided for it as
 * a CONNECT. The fuzz rules allow CONNECT only: BIND and UDP ASSOCIATE are denied (02), or get
 * the failure a CONNECT would get first when DST.ADDR is a name that does not resolve or a bad
 * host.
 */
function expectedReplies(command: number, decision: Decision | undefined): number[] {
  if (decision === undefined) return [];
  if (command !== 0x01) {
    const failure = 'refused' in decision ? replyForError(decision.refused) : 0x02;
    return failure === 0x02 ? [0x02] : [0x02, failure];
  }
  if ('dial' in decision) return [0x00];
  return [replyForError(decision.refused)];
}

/**
 * SOCKS5 with method 00 or 02 (user alice / secret): the answers of {@link expectedAnswers}, then
 * the reply for what the rules decide, then the echo.
 */
export function socks5Oracle(method: 0x00 | 0x02): DialectOracle<StreamModel> {
  const credentials = { user: textEncoder.encode(USER), password: textEncoder.encode(PASSWORD) };
  return {
    dialect: 'socks5',
    corpus: method === 0x00 ? ['socks5-client-noauth'] : ['socks5-client-userpass'],
    users: method === 0x02,
    model: (stream) => modelStream(stream, method, credentials),
    validate: (entry) => {
      const m = modelStream(entry, method, credentials);
      if (m.greeting.kind !== 'ok') fail('corpus', `greeting ${m.greeting.kind}`);
      if (m.request?.kind === 'malformed') fail('corpus', 'malformed request');
    },
    succeeded: (out, model) => {
      const at = expectedAnswers(model).messages.reduce((n, m) => n + m.bytes.length, 0);
      return out.length >= at + 10 && out[at] === VER && out[at + 1] === 0x00;
    },
    verify: async (v) => {
      const { model, output: out } = v;
      const { messages, replyPending } = expectedAnswers(model);
      let at = 0;
      for (const m of messages) {
        const got = out.subarray(at, at + m.bytes.length);
        if (got.length === 0 && v.cutShort) return;
        if (!Buffer.from(m.bytes).equals(got)) {
          fail(
            'answers',
            `expected ${m.what} ${hex(m.bytes)} at output ${at}, got ${hex(got)} (output ${hex(out.subarray(0, 64))}, end ${v.record.endReason})`,
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
        v.readAhead(m.what, at, m.answers);
      }
      const r = model.request;
      const decision =
        replyPending && r?.kind === 'ok'
          ? await v.decide(r.host, r.port, method === 0x02 ? USER : undefined)
          : undefined;
      // BIND and UDP ASSOCIATE never dial out.
      const dialling = r?.kind === 'ok' && r.command === 0x01;
      checkDials(v, dialling ? decision : undefined, r?.kind === 'ok' ? r.end : 0, () =>
        describe(model),
      );
      if (!replyPending || r?.kind !== 'ok') {
        if (out.length !== at)
          fail('answers', `unexpected output after the answers: ${hex(out.subarray(at, at + 32))}`);
        return;
      }
      if (out.length === at) {
        if (v.cutShort) return;
        fail(
          'answers',
          `no reply to a complete request (${describe(model)}; end ${v.record.endReason})`,
        );
      }
      const length = replyLength(out, at);
      if (length === undefined || out[at] !== VER || out[at + 2] !== 0x00) {
        fail('answers', `malformed reply ${hex(out.subarray(at, at + 24))}`);
      }
      if (out.length < at + length) fail('answers', `a short reply ${hex(out.subarray(at))}`);
      const rep = out[at + 1]!;
      const allowed = expectedReplies(r.command, decision);
      if (!allowed.includes(rep)) {
        fail('answers', `REP ${rep} for ${describe(model)}; expected one of ${allowed.join(',')}`);
      }
      if (v.record.reply !== rep)
        fail('answers', `the record says REP ${v.record.reply}, the wire ${rep}`);
      at += length;
      v.readAhead('reply', at, r.end);
      if (rep !== 0x00) {
        if (out.length !== at) fail('answers', `${out.length - at} octets after a failure reply`);
        return;
      }
      checkEcho(v, at, r.end);
    },
  };
}
