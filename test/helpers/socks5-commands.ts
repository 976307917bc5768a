/**
 * Hand-written bytes for BIND and UDP ASSOCIATE (RFC 1928 §4, §7), written from the RFC and not
 * by ferry's encoder, plus a client that runs the handshake and reads replies.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { connectTo, Reader } from './net.js';
import { GREETING_NOAUTH, hex, parseReply } from './socks5.js';

/** CMD octets: 02 BIND, 03 UDP ASSOCIATE. */
export const CMD_BIND = 0x02;
export const CMD_UDP = 0x03;

/** VER=05 CMD RSV=00 ATYP DST.ADDR DST.PORT, for an IPv4 or IPv6 literal or a domain name. */
export function request(cmd: number, host: string, port: number): Buffer {
  let atypAndAddr: Buffer;
  if (net.isIPv4(host)) {
    // ATYP 01 + four octets
    atypAndAddr = Buffer.from([0x01, ...host.split('.').map(Number)]);
  } else if (net.isIPv6(host)) {
    // ATYP 04 + sixteen octets
    atypAndAddr = Buffer.concat([Buffer.from([0x04]), ipv6Bytes(host)]);
  } else {
    // ATYP 03 + length octet + name
    atypAndAddr = Buffer.concat([Buffer.from([0x03, host.length]), Buffer.from(host, 'latin1')]);
  }
  const port2 = Buffer.alloc(2);
  port2.writeUInt16BE(port);
  return Buffer.concat([Buffer.from([0x05, cmd, 0x00]), atypAndAddr, port2]);
}

/** Sixteen octets of an IPv6 literal (only `::` compression, which is all the tests use). */
export function ipv6Bytes(host: string): Buffer {
  const [head = '', tail = ''] = host.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const groups = host.includes('::')
    ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
    : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/**
 * A UDP datagram as the client sends it: RSV=0000 | FRAG | ATYP | DST.ADDR | DST.PORT | DATA.
 */
export function udpDatagram(host: string, port: number, data: Buffer | string, frag = 0): Buffer {
  // Reuse the request's address encoding: drop its VER CMD RSV.
  const address = request(CMD_UDP, host, port).subarray(3);
  return Buffer.concat([
    Buffer.from([0x00, 0x00, frag]),
    address,
    Buffer.isBuffer(data) ? data : Buffer.from(data),
  ]);
}

/** Parses a datagram from the relay: its FRAG, the sender it names, and DATA. */
export function parseUdpDatagram(msg: Buffer): {
  rsv: number;
  frag: number;
  atyp: number;
  host: string;
  port: number;
  data: Buffer;
} {
  const rsv = msg.readUInt16BE(0);
  const frag = msg[2]!;
  const atyp = msg[3]!;
  if (atyp === 0x01) {
    return {
      rsv,
      frag,
      atyp,
      host: [...msg.subarray(4, 8)].join('.'),
      port: msg.readUInt16BE(8),
      data: msg.subarray(10),
    };
  }
  assert.equal(atyp, 0x04, 'the relay names senders by IP address');
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(msg.readUInt16BE(4 + i * 2).toString(16));
  return {
    rsv,
    frag,
    atyp,
    host: groups.join(':'),
    port: msg.readUInt16BE(20),
    data: msg.subarray(22),
  };
}

export type Reply = ReturnType<typeof parseReply>;

/** Reads one full reply (IPv4 or IPv6 BND). */
export async function readReply(reader: Reader, timeoutMs = 5000): Promise<Reply> {
  const head = await reader.read(4, timeoutMs);
  const rest = await reader.read(head[3] === 0x04 ? 18 : 6, timeoutMs);
  return parseReply(Buffer.concat([head, rest]));
}

/** Connects, greets (no auth), sends `req`, and returns the reader after the first reply. */
export async function command(
  port: number,
  req: Buffer,
  host = '127.0.0.1',
): Promise<{ reader: Reader; socket: net.Socket; reply: Reply }> {
  const socket = await connectTo(port, host);
  const reader = new Reader(socket);
  socket.write(GREETING_NOAUTH);
  assert.deepEqual(await reader.read(2), hex('05 00'));
  socket.write(req);
  return { reader, socket, reply: await readReply(reader) };
}

/** Full form of an IPv6 address as parseReply prints it (`0:0:0:0:0:0:0:1`). */
export function longIPv6(host: string): string {
  const b = ipv6Bytes(host);
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(i * 2).toString(16));
  return groups.join(':');
}
