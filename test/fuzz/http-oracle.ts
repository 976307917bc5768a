/**
 * An independent, deliberately partial reading of an HTTP proxy client stream (RFC 9112 §2–5,
 * RFC 9110 §9.3.6 CONNECT, §11.7 proxy authentication), written from the RFCs and not from
 * ferry's parser. It finds where the first request head ends and recognises one shape exactly:
 * a plain `CONNECT host:port HTTP/1.1` head with ordinary fields, whose answer is fully known
 * (407 without the right Basic credentials when there are users, else 200 and the tunnel or an
 * error status from the rules). For every other stream (forwarded requests, odd spellings,
 * garbage) it checks what must hold whatever a correct parser decides:
 *
 * - no outbound connection before a whole request head arrived, none to a destination the rules
 *   deny, and none at all with users unless the stream carried alice's credentials;
 * - what ferry writes is HTTP: a status line `HTTP/1.1 NNN`, and a head that ends;
 * - a stream without a complete head within the cap gets no 2xx.
 */
import {
  checkDials,
  checkEcho,
  hex,
  type DialectOracle,
  type Verification,
} from './server-target.js';
import { HTTP_MAX_HEAD, USER } from './server-harness.js';
import { fail } from './target.js';

/** Basic base64("alice:secret") (RFC 7617 §2). */
const ALICE = 'YWxpY2U6c2VjcmV0';

export interface HttpModel {
  /** Offset just past the first head's empty line, when it arrived within the cap. */
  readonly headEnd: number | undefined;
  /** Offset where the first credentials for alice appear, if anywhere. */
  readonly credentialsAt: number | undefined;
  /** The plain CONNECT this oracle fully predicts, if the first head is one. */
  readonly connect: { host: string; port: number; authorized: boolean } | undefined;
}

const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// A field value of visible ASCII and inner spaces: no obs-text, no controls (RFC 9110 §5.5).
const PLAIN_VALUE = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;
// Fields whose presence changes how the head is judged (framing, hop-by-hop): not "plain".
const SPECIAL = new Set(['content-length', 'transfer-encoding', 'connection', 'upgrade', 'expect']);

function plainConnect(
  head: string,
): { host: string; port: number; authorization: string[] } | undefined {
  const lines = head.split('\r\n');
  const m = /^CONNECT ([^ ]+) HTTP\/1\.1$/.exec(lines[0] ?? '');
  if (m === null) return undefined;
  const authority = /^([a-z0-9](?:[a-z0-9.-]{0,61}[a-z0-9])?):([1-9][0-9]{0,4})$/i.exec(m[1]!);
  if (authority === null) return undefined;
  const port = Number(authority[2]);
  const host = authority[1]!;
  if (port > 65_535 || /^[0-9.]+$/.test(host) !== /^\d+\.\d+\.\d+\.\d+$/.test(host))
    return undefined;
  if (/^[0-9.]+$/.test(host) && host.split('.').some((o) => o.length > 1 && o.startsWith('0')))
    return undefined;
  const authorization: string[] = [];
  let hosts = 0;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!TOKEN.test(name) || (value !== '' && !PLAIN_VALUE.test(value))) return undefined;
    const lower = name.toLowerCase();
    if (SPECIAL.has(lower)) return undefined;
    if (lower === 'host' && ++hosts > 1) return undefined;
    if (lower === 'proxy-authorization') authorization.push(value);
  }
  // HTTP/1.1 requires exactly one Host (RFC 9112 §3.2): without it the answer is 400.
  if (hosts !== 1) return undefined;
  return { host, port, authorization };
}

export function modelHttp(b: Uint8Array): HttpModel {
  const text = latin1(b);
  const end = text.indexOf('\r\n\r\n');
  const headEnd = end !== -1 && end + 4 <= HTTP_MAX_HEAD ? end + 4 : undefined;
  // Field name and scheme are case-insensitive (RFC 9110 §5.1, §11.1); base64 is not.
  const cred = [...text.matchAll(/proxy-authorization:[ \t]*basic +([A-Za-z0-9+/=]+)/gi)].find(
    (c) => c[1] === ALICE,
  );
  const credentialsAt = cred?.index;
  if (headEnd === undefined) return { headEnd, credentialsAt, connect: undefined };
  const plain = plainConnect(text.slice(0, end));
  if (plain === undefined) return { headEnd, credentialsAt, connect: undefined };
  const authorized =
    plain.authorization.length === 1 &&
    /^basic +(\S+)$/i.exec(plain.authorization[0]!)?.[1] === ALICE;
  return {
    headEnd,
    credentialsAt,
    connect: { host: plain.host, port: plain.port, authorized },
  };
}

/** The status of the response head at `at`, and where that head ends (undefined: incomplete). */
function responseAt(out: Buffer, at: number): { status: number; end: number | undefined } {
  const line = /^HTTP\/1\.1 ([1-5][0-9][0-9])[ \r]/.exec(latin1(out.subarray(at, at + 16)));
  if (line === null)
    fail('answers', `not an HTTP response at ${at}: ${hex(out.subarray(at, at + 32))}`);
  const end = out.indexOf('\r\n\r\n', at);
  return { status: Number(line[1]), end: end === -1 ? undefined : end + 4 };
}

async function checkEveryDial(v: Verification<HttpModel>, users: boolean): Promise<void> {
  const m = v.model;
  for (const d of v.dials) {
    if (m.headEnd === undefined || d.consumed < m.headEnd) {
      fail(
        'no-unchecked-dial',
        `dialled ${d.host}:${d.port} after ${d.consumed} octets, before a whole head (${String(m.headEnd)})`,
      );
    }
    if (users && (m.credentialsAt === undefined || m.credentialsAt >= d.consumed)) {
      fail('no-unchecked-dial', `dialled ${d.host}:${d.port} without alice's credentials`);
    }
    // A forwarded request dials by name (its lookup returns only checked addresses), a tunnel
    // by the checked address: either way the rules must allow it.
    const decision = await v.decideAs(d.host, d.port, users ? USER : undefined, 'http');
    if (!('dial' in decision) || decision.dial.port !== d.port) {
      fail('no-unchecked-dial', `dialled ${d.host}:${d.port}, which the rules do not allow as is`);
    }
  }
}

export function httpOracle(users: boolean): DialectOracle<HttpModel> {
  return {
    dialect: 'http',
    corpus: [users ? 'http-client-userpass' : 'http-client-noauth'],
    users,
    model: modelHttp,
    validate: (entry) => {
      if (modelHttp(entry).headEnd === undefined) fail('corpus', 'no complete request head');
    },
    // Any tunnel, not only the plain CONNECT's: a client whose CONNECT succeeded ends its side
    // once it has sent everything (else the tunnel would stay open, as it should).
    succeeded: (out) => {
      const text = latin1(out);
      const at = text.indexOf('HTTP/1.1 200 Connection established\r\n');
      return at !== -1 && text.indexOf('\r\n\r\n', at) !== -1;
    },
    verify: async (v) => {
      const { model: m, output: out } = v;
      await checkEveryDial(v, users);
      if (out.length > 0) {
        const first = responseAt(out, 0);
        if (m.headEnd === undefined && first.status < 300)
          fail('answers', `${first.status} for a stream without a whole head`);
      }
      const c = m.connect;
      if (c === undefined || m.headEnd === undefined) return;
      // The plain CONNECT: its answer is known.
      const describe = (): string => JSON.stringify(c);
      if (out.length === 0) {
        if (v.cutShort) return;
        fail(
          'answers',
          `no response to a complete CONNECT (${describe()}; end ${v.record.endReason})`,
        );
      }
      const r = responseAt(out, 0);
      if (r.end === undefined)
        fail('answers', `an unfinished response head ${hex(out.subarray(0, 64))}`);
      v.readAhead('response', r.end, m.headEnd);
      // After a 407 or a refusal the connection may live on (keep-alive) and later requests in
      // the stream may be dialled: checkEveryDial judged those.
      if (users && !c.authorized) {
        if (r.status !== 407)
          fail('answers', `${r.status} to a CONNECT without alice's credentials`);
        return;
      }
      const decision = await v.decideAs(c.host, c.port, users ? USER : undefined, 'http');
      if ('dial' in decision) {
        checkDials(v, decision, m.headEnd, describe);
        if (r.status !== 200) fail('answers', `${r.status} to an allowed CONNECT ${describe()}`);
        checkEcho(v, r.end, m.headEnd);
      } else if (r.status < 400) {
        fail('answers', `${r.status} to a refused CONNECT ${describe()}`);
      }
    },
  };
}
