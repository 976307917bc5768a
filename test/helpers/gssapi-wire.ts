/**
 * A GSS-API SOCKS client driven by hand, for wire-level tests of the server: the greeting and
 * every RFC 1961 message are written here byte by byte (headers spelled out, not produced by
 * ferry's encoder); the tokens come from the system library through an in-test initiator. What
 * follows the level negotiation (wrapped requests, tampered frames, replays) is up to the test.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import type { GssapiBinding, GssInitiator } from '../../src/gssapi/index.js';
import { connectTo, Reader } from './net.js';

/** `01 MTYP LEN(2) TOKEN`, assembled by hand. */
export function frame(mtyp: number, token: Uint8Array): Buffer {
  const header = Buffer.from([0x01, mtyp, token.length >> 8, token.length & 0xff]);
  return Buffer.concat([header, token]);
}

/** Reads one RFC 1961 message: `[mtyp, token]` (`[0xff, empty]` for the abort). */
export async function readFrame(reader: Reader): Promise<[number, Buffer]> {
  const head = await reader.read(2);
  assert.equal(head[0], 0x01, 'RFC 1961 VER');
  if (head[1] === 0xff) return [0xff, Buffer.alloc(0)];
  const len = (await reader.read(2)).readUInt16BE(0);
  return [head[1]!, await reader.read(len)];
}

export interface RawGssapiSession {
  readonly socket: net.Socket;
  readonly reader: Reader;
  readonly initiator: GssInitiator;
  /** The MTYP 01 tokens the server sent (the last may be empty). */
  readonly serverTokens: Buffer[];
}

/**
 * Greeting `05 01 01` (GSS-API only), the server's `05 01`, then the context exchange to
 * completion. Returns before the protection-level message.
 */
export async function establishRaw(
  gss: GssapiBinding,
  port: number,
  options: { target?: string; flags?: number } = {},
): Promise<RawGssapiSession> {
  const socket = await connectTo(port);
  socket.setNoDelay(true);
  const reader = new Reader(socket);
  socket.write(Buffer.from([0x05, 0x01, 0x01])); // VER 5, NMETHODS 1, METHOD 01 (GSS-API)
  assert.deepEqual(await reader.read(2), Buffer.from([0x05, 0x01]), 'server selects GSS-API');
  const initiator = gss.createInitiator({
    target: options.target ?? 'rcmd@localhost',
    ...(options.flags === undefined ? {} : { flags: options.flags }),
  });
  const serverTokens: Buffer[] = [];
  let step = await initiator.step();
  // Kerberos: one token each way with mutual authentication; without it, the server answers
  // the only token with a zero-length one.
  for (let round = 0; round < 5 && step.token !== undefined; round++) {
    socket.write(frame(0x01, step.token));
    const [mtyp, token] = await readFrame(reader);
    assert.equal(mtyp, 0x01, 'a context token answers a context token');
    serverTokens.push(token);
    if (step.complete) break;
    step = await initiator.step(token);
  }
  assert.ok(initiator.complete, 'context established');
  return { socket, reader, initiator, serverTokens };
}

/** Sends the wrapped level octet and returns the level the server answered (unwrapped). */
export async function negotiateLevel(session: RawGssapiSession, level: number): Promise<number> {
  const { initiator, reader, socket } = session;
  const wrapped = initiator.wrap(Uint8Array.of(level), { confidential: false }).token;
  socket.write(frame(0x02, wrapped));
  const [mtyp, token] = await readFrame(reader);
  assert.equal(mtyp, 0x02, 'protection-level answer');
  const answer = initiator.unwrap(token).data;
  assert.equal(answer.length, 1);
  return answer[0]!;
}

/** An MTYP 03 frame carrying `data` wrapped at the level (2 = confidentiality). */
export function wrapped(initiator: GssInitiator, level: number, data: Uint8Array): Buffer {
  return frame(0x03, initiator.wrap(data, { confidential: level === 2 }).token);
}

/** Reads one MTYP 03 frame and unwraps it. */
export async function readWrapped(session: RawGssapiSession): Promise<Uint8Array> {
  const [mtyp, token] = await readFrame(session.reader);
  assert.equal(mtyp, 0x03, 'encapsulated message');
  return session.initiator.unwrap(token).data;
}
