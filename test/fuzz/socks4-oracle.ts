/**
 * An independent reading of a SOCKS4/4a client byte stream, written from the SOCKS4 protocol
 * document and the SOCKS4a extension (SOCKS.md), not from ferry's decoder: where the request
 * ends, whether it is valid, and so what a correct server must answer. ferry's own bounds (a
 * USERID or a SOCKS4a name of at most 255 octets) are part of the spec it documents.
 *
 *   +----+----+----+----+----+----+----+----+----+----+....+----+
 *   | VN | CD | DSTPORT |      DSTIP        | USERID       |NULL|   [ DOMAIN | NULL ]  (4a)
 *   +----+----+----+----+----+----+----+----+----+----+....+----+
 *
 * A server without users answers CONNECT from the rules (5A and the tunnel, or 5B); with users,
 * SOCKS4 carries no password, so every request gets 5B; BIND is denied by the fuzz rules (5B).
 */
import { checkDials, checkEcho, hex, type DialectOracle } from './server-target.js';
import type { Decision } from './server-harness.js';
import { fail } from './target.js';

export type Socks4Model =
  | { kind: 'incomplete' }
  | { kind: 'malformed'; why: string }
  | { kind: 'ok'; end: number; command: number; host: string; port: number };

const VN = 0x04;
const CD_CONNECT = 0x01;
const CD_BIND = 0x02;
const REPLY_VN = 0x00;
const GRANTED = 0x5a;
const REJECTED = 0x5b;
const MAX_FIELD = 255;
const REPLY_LENGTH = 8;
const textDecoder = new TextDecoder('utf-8');

/** The index of the NUL ending a field at `start`, 'more', or 'long' past ferry's 255 octets. */
function nulAt(b: Uint8Array, start: number): number | 'more' | 'long' {
  for (let i = start; i < b.length; i++) {
    if (b[i] === 0) return i - start > MAX_FIELD ? 'long' : i;
    if (i - start >= MAX_FIELD) return 'long';
  }
  return 'more';
}

export function modelSocks4(b: Uint8Array): Socks4Model {
  if (b.length < 2) return { kind: 'incomplete' };
  if (b[0] !== VN) return { kind: 'malformed', why: 'version' };
  if (b[1] !== CD_CONNECT && b[1] !== CD_BIND) return { kind: 'malformed', why: 'command' };
  if (b.length < 8) return { kind: 'incomplete' };
  const port = (b[2]! << 8) | b[3]!;
  const user = nulAt(b, 8);
  if (user === 'more') return { kind: 'incomplete' };
  if (user === 'long') return { kind: 'malformed', why: 'USERID too long' };
  // SOCKS4a: DSTIP 0.0.0.x with x nonzero means a name follows USERID's NUL.
  if (b[4] === 0 && b[5] === 0 && b[6] === 0 && b[7] !== 0) {
    const name = nulAt(b, user + 1);
    if (name === 'more') return { kind: 'incomplete' };
    if (name === 'long') return { kind: 'malformed', why: 'name too long' };
    if (name === user + 1) return { kind: 'malformed', why: 'empty name' };
    const host = textDecoder.decode(b.subarray(user + 1, name));
    return { kind: 'ok', end: name + 1, command: b[1], host, port };
  }
  return { kind: 'ok', end: user + 1, command: b[1], host: [...b.subarray(4, 8)].join('.'), port };
}

export function socks4Oracle(users: boolean): DialectOracle<Socks4Model> {
  return {
    dialect: 'socks4',
    corpus: ['socks4-client'],
    users,
    model: modelSocks4,
    validate: (entry) => {
      const m = modelSocks4(entry);
      if (m.kind !== 'ok') fail('corpus', `SOCKS4 stream is ${m.kind}`);
    },
    succeeded: (out) => out.length >= REPLY_LENGTH && out[0] === REPLY_VN && out[1] === GRANTED,
    verify: async (v) => {
      const { model: m, output: out } = v;
      const describe = (): string => JSON.stringify(m);
      if (m.kind === 'incomplete') {
        checkDials(v, undefined, 0, describe);
        if (out.length > 0) fail('answers', `answered an incomplete SOCKS4 request: ${hex(out)}`);
        return;
      }
      const rejected = (): void => {
        if (out.length === 0 && v.cutShort) return;
        if (!Buffer.from(out).equals(Buffer.from([REPLY_VN, REJECTED, 0, 0, 0, 0, 0, 0]))) {
          fail('answers', `expected 00 5B and six zeros for ${describe()}, got ${hex(out)}`);
        }
      };
      if (m.kind === 'malformed') {
        checkDials(v, undefined, 0, describe);
        rejected();
        return;
      }
      let decision: Decision | undefined;
      if (m.command === CD_CONNECT && !users) decision = await v.decide(m.host, m.port, undefined);
      checkDials(v, decision, m.end, describe);
      if (decision === undefined || 'refused' in decision) {
        rejected();
        v.readAhead('reply', REPLY_LENGTH, m.end);
        return;
      }
      if (out.length === 0 && v.cutShort) return;
      if (out.length < REPLY_LENGTH || out[0] !== REPLY_VN || out[1] !== GRANTED) {
        fail('answers', `expected 00 5A for ${describe()}, got ${hex(out.subarray(0, 16))}`);
      }
      v.readAhead('reply', REPLY_LENGTH, m.end);
      checkEcho(v, REPLY_LENGTH, m.end);
    },
  };
}
