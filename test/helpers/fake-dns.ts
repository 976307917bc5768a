// A tiny authoritative DNS responder on 127.0.0.1:0 for resolver tests (RFC 1035 §4). It answers
// A and AAAA from a table with chosen TTLs, can answer NXDOMAIN / SERVFAIL, drop queries, or hold
// them until released, and records every question it was asked.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { isIPv4 } from 'node:net';

export const QTYPE_A = 1;
export const QTYPE_AAAA = 28;
const CLASS_IN = 1;
const RCODE_NOERROR = 0;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;

export interface Record {
  address: string;
  ttl: number;
}

export interface ZoneEntry {
  A?: Record[];
  AAAA?: Record[];
  /** Answer this rcode instead (e.g. SERVFAIL for one type only with `servfail: ['AAAA']`). */
  servfail?: ('A' | 'AAAA')[];
  /** Never answer. */
  drop?: boolean;
}

export interface Question {
  name: string;
  type: 'A' | 'AAAA' | number;
}

/** Hex-group IPv6 text only (no dotted quad) — all the zone table uses. */
function ipv6Bytes(text: string): Buffer {
  const [head = '', tail = ''] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const words = text.includes('::')
    ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
    : h;
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(parseInt(w, 16), i * 2));
  return out;
}

export class FakeDns {
  readonly zone = new Map<string, ZoneEntry>();
  readonly questions: Question[] = [];
  #held: (() => void)[] = [];
  #holding = false;
  #socket: Socket;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('message', (msg, rinfo) => {
      this.#onQuery(msg, rinfo);
    });
  }

  static async start(): Promise<FakeDns> {
    const socket = createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    return new FakeDns(socket);
  }

  get server(): string {
    return `127.0.0.1:${this.#socket.address().port}`;
  }

  /** Questions asked for one name (and type). */
  asked(name: string, type?: 'A' | 'AAAA'): number {
    return this.questions.filter((q) => q.name === name && (type === undefined || q.type === type))
      .length;
  }

  /** Hold every answer until {@link release}. */
  hold(): void {
    this.#holding = true;
  }

  release(): void {
    this.#holding = false;
    for (const send of this.#held.splice(0)) send();
  }

  async close(): Promise<void> {
    this.#socket.close();
    await once(this.#socket, 'close');
  }

  #onQuery(msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length < 12) return;
    // Header (RFC 1035 §4.1.1): ID(2) FLAGS(2) QDCOUNT(2) ANCOUNT(2) NSCOUNT(2) ARCOUNT(2).
    const id = msg.readUInt16BE(0);
    const rd = msg.readUInt16BE(2) & 0x0100;
    // Question (§4.1.2): QNAME as length-prefixed labels ending in 0, QTYPE(2), QCLASS(2).
    const labels: string[] = [];
    let off = 12;
    while (off < msg.length && msg[off] !== 0) {
      const len = msg[off]!;
      labels.push(msg.subarray(off + 1, off + 1 + len).toString('ascii'));
      off += 1 + len;
    }
    const questionEnd = off + 1 + 4;
    const qtype = msg.readUInt16BE(off + 1);
    const name = labels.join('.').toLowerCase();
    const type = qtype === QTYPE_A ? 'A' : qtype === QTYPE_AAAA ? 'AAAA' : qtype;
    this.questions.push({ name, type });
    const entry = this.zone.get(name);
    if (entry?.drop === true) return;
    let rcode = RCODE_NOERROR;
    let records: Record[] = [];
    if (entry === undefined) rcode = RCODE_NXDOMAIN;
    else if (typeof type === 'string' && entry.servfail?.includes(type) === true)
      rcode = RCODE_SERVFAIL;
    else if (type === 'A') records = entry.A ?? [];
    else if (type === 'AAAA') records = entry.AAAA ?? [];
    const answers = records.map((r) => {
      const rdata =
        qtype === QTYPE_A && isIPv4(r.address)
          ? Buffer.from(r.address.split('.').map(Number))
          : ipv6Bytes(r.address);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // NAME: compression pointer to the question's QNAME at offset 12
      rr.writeUInt16BE(qtype, 2); // TYPE
      rr.writeUInt16BE(CLASS_IN, 4); // CLASS
      rr.writeUInt32BE(r.ttl, 6); // TTL, seconds
      rr.writeUInt16BE(rdata.length, 10); // RDLENGTH
      return Buffer.concat([rr, rdata]);
    });
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    header.writeUInt16BE(0x8000 | 0x0400 | rd | 0x0080 | rcode, 2); // QR, AA, RD copied, RA, RCODE
    header.writeUInt16BE(1, 4); // QDCOUNT
    header.writeUInt16BE(answers.length, 6); // ANCOUNT
    // NSCOUNT and ARCOUNT stay 0: the client's EDNS OPT record is not echoed.
    const reply = Buffer.concat([header, msg.subarray(12, questionEnd), ...answers]);
    const send = (): void => {
      this.#socket.send(reply, rinfo.port, rinfo.address);
    };
    if (this.#holding) this.#held.push(send);
    else send();
  }
}
