/**
 * Many datagrams per system call for the UDP relay (issue 7): Linux's recvmmsg(2) and
 * sendmmsg(2), called through koffi on the association socket's own descriptor.
 *
 * Node's dgram costs ~5 µs of CPU per datagram beyond the kernel's work — an address string
 * and an object per receive, a lookup deferred to the next tick, a request object and a
 * callback per send — and reads and writes one datagram per system call. When the relay is
 * busy, datagrams queue on the socket; the relay then takes the first one from dgram as usual,
 * and the rest of the queue here: one recvmmsg for up to {@link RECEIVE_BATCH}, handled in
 * place, their onward datagrams queued and sent with one sendmmsg.
 *
 * Memory: one native arena per process (~2 MiB), used only synchronously — a batch is received,
 * handled and flushed within one event-loop callback — so every association shares it.
 * Received data is a view of the arena and is sent from there without a copy; the SOCKS header
 * the relay puts in front of a reply is copied into a small slot beside it.
 *
 * Available on 64-bit Linux with the optional dependency koffi (the struct layouts below are
 * LP64's); {@link datagramBatch} returns undefined elsewhere, or when FERRY_UDP_BATCH=0, and
 * the relay then uses dgram alone. Sending never loses a datagram to this path: what sendmmsg
 * cannot take now (EAGAIN, ENOBUFS) is copied and handed to dgram, which queues it.
 */
import type dgram from 'node:dgram';
import { createRequire } from 'node:module';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../protocol/address.js';
import { prepareKoffi } from '../native/koffi.js';

/** Datagrams one recvmmsg call takes at most. */
export const RECEIVE_BATCH = 32;
/**
 * Datagrams the batch takes per event-loop turn, over every association: a flood then holds
 * the loop ~1 ms per turn, not the tens of ms that libuv's own read loop (32 callbacks per
 * readiness), each draining the socket, would add up to. Beyond it, dgram reads one at a time.
 */
export const TURN_BUDGET = 256;
/** Datagrams one flush sends at most (a received batch plus what handling it produced). */
export const SEND_BATCH = 64;
/** Receive buffer per datagram: any UDP payload fits (65 535 − 8). */
const SLOT = 65_536;
/** struct mmsghdr, struct iovec (LP64). */
const MMSGHDR = 64;
const IOVEC = 16;
/** Room for a sockaddr_in6 (28 octets). */
const NAME = 32;
/** Room for a copied part (a SOCKS UDP header is at most 22 octets with an IP address). */
const SMALL = 64;
const AF_INET = 2;
const AF_INET6 = 10;
const MSG_DONTWAIT = 0x40;
const EINTR = 4;
const EAGAIN = 11;
const ENOBUFS = 105;

/** What {@link DatagramBatch.flush} says about each queued datagram. */
export type SentReport = (up: boolean, bytes: number, ok: boolean) => void;
/** Sends a datagram the batch could not (a copy): dgram's socket.send. */
export type SendFallback = (
  data: Buffer,
  port: number,
  address: string,
  up: boolean,
  bytes: number,
) => void;

interface Queued {
  up: boolean;
  bytes: number;
  port: number;
  address: string;
  parts: Uint8Array[];
}

export interface DatagramBatch {
  /**
   * Reads what `fd` has queued (at most {@link RECEIVE_BATCH}, and nothing once this turn's
   * {@link TURN_BUDGET} is spent) without waiting and calls `each`
   * for every datagram: its data (a view valid until the next receive; queue it or copy it), the
   * sender's canonical IP text (IPv4-mapped unmapped) and port. Returns how many were read.
   */
  receive(fd: number, each: (data: Buffer, ip: string, port: number) => void): number;
  /**
   * Queues one datagram for {@link flush}: to `name` (a socket address from {@link socketName}),
   * made of `parts` — views of received data, or parts of at most 64 octets (copied). Returns
   * false when it cannot (a part from elsewhere, or the batch is full): send it another way.
   * `port` and `address` are for the fallback; `up` and `bytes` are handed back to the report.
   */
  queue(
    name: Uint8Array,
    parts: readonly Uint8Array[],
    port: number,
    address: string,
    up: boolean,
    bytes: number,
  ): boolean;
  /** Sends everything queued, reporting each datagram; what cannot go now goes to `fallback`. */
  flush(fd: number, report: SentReport, fallback: SendFallback): void;
  /** Forgets what is queued (the socket closed before the flush). */
  discard(): void;
}

/** The subset of koffi used here. */
export interface Koffi {
  load(path: string): { func(signature: string): (...args: unknown[]) => number };
  alloc(type: string, count: number): unknown;
  address(pointer: unknown): bigint;
  view(pointer: unknown, length: number): ArrayBuffer;
  errno(): number;
}

class MmsgBatch implements DatagramBatch {
  readonly #recvmmsg: (...args: unknown[]) => number;
  readonly #sendmmsg: (...args: unknown[]) => number;
  readonly #errno: () => number;
  readonly #bytes: Buffer;
  readonly #view: DataView;
  readonly #base: bigint;
  readonly #arena: ArrayBuffer;
  // Offsets in the arena.
  readonly #recvData = 0;
  readonly #recvHdr = RECEIVE_BATCH * SLOT;
  readonly #recvIov = this.#recvHdr + RECEIVE_BATCH * MMSGHDR;
  readonly #recvName = this.#recvIov + RECEIVE_BATCH * IOVEC;
  readonly #sendHdr = this.#recvName + RECEIVE_BATCH * NAME;
  readonly #sendIov = this.#sendHdr + SEND_BATCH * MMSGHDR;
  readonly #sendName = this.#sendIov + SEND_BATCH * 2 * IOVEC;
  readonly #sendSmall = this.#sendName + SEND_BATCH * NAME;
  readonly #size = this.#sendSmall + SEND_BATCH * 2 * SMALL;
  readonly #queued: Queued[] = [];
  #left = TURN_BUDGET;
  #refillScheduled = false;
  readonly #refill = (): void => {
    this.#left = TURN_BUDGET;
    this.#refillScheduled = false;
  };

  constructor(koffi: Koffi) {
    const libc = koffi.load('libc.so.6');
    this.#recvmmsg = libc.func('int recvmmsg(int, void *, unsigned int, int, void *)');
    this.#sendmmsg = libc.func('int sendmmsg(int, void *, unsigned int, int)');
    this.#errno = () => koffi.errno();
    // Never freed: one per process, for the life of the process.
    const pointer = koffi.alloc('uint8', this.#size);
    this.#base = koffi.address(pointer);
    this.#arena = koffi.view(pointer, this.#size);
    this.#bytes = Buffer.from(this.#arena);
    this.#view = new DataView(this.#arena);
    this.#bytes.fill(0, this.#recvHdr);
    for (let i = 0; i < RECEIVE_BATCH; i++) {
      const hdr = this.#recvHdr + i * MMSGHDR;
      const iov = this.#recvIov + i * IOVEC;
      this.#pointer(hdr, this.#recvName + i * NAME); // msg_name
      this.#view.setUint32(hdr + 8, NAME, true); // msg_namelen
      this.#pointer(hdr + 16, iov); // msg_iov
      this.#view.setBigUint64(hdr + 24, 1n, true); // msg_iovlen
      this.#pointer(iov, this.#recvData + i * SLOT); // iov_base
      this.#view.setBigUint64(iov + 8, BigInt(SLOT), true); // iov_len
    }
    for (let i = 0; i < SEND_BATCH; i++) {
      const hdr = this.#sendHdr + i * MMSGHDR;
      this.#pointer(hdr, this.#sendName + i * NAME);
      this.#pointer(hdr + 16, this.#sendIov + i * 2 * IOVEC);
    }
  }

  #pointer(at: number, offset: number): void {
    this.#view.setBigUint64(at, this.#base + BigInt(offset), true);
  }

  receive(fd: number, each: (data: Buffer, ip: string, port: number) => void): number {
    if (this.#left <= 0) return 0;
    if (!this.#refillScheduled) {
      this.#refillScheduled = true;
      setImmediate(this.#refill).unref(); // after this turn's I/O callbacks
    }
    const n = this.#recvmmsg(
      fd,
      this.#base + BigInt(this.#recvHdr),
      Math.min(RECEIVE_BATCH, this.#left),
      MSG_DONTWAIT,
      null,
    );
    if (n <= 0) return 0; // EAGAIN: nothing queued; any other error is dgram's to see
    this.#left -= n;
    const view = this.#view;
    for (let i = 0; i < n; i++) {
      const hdr = this.#recvHdr + i * MMSGHDR;
      const length = view.getUint32(hdr + 56, true); // msg_len
      view.setUint32(hdr + 8, NAME, true); // the kernel wrote the name's length: reset it
      const name = this.#recvName + i * NAME;
      const family = view.getUint16(name, true);
      const port = view.getUint16(name + 2, false);
      let ip: string;
      if (family === AF_INET) ip = formatIPv4(this.#bytes, name + 4);
      else if (family === AF_INET6) ip = ipv6Text(this.#bytes, name + 8);
      else continue; // not from an IP socket: nothing we could answer
      const start = this.#recvData + i * SLOT;
      each(this.#bytes.subarray(start, start + length), ip, port);
    }
    return n;
  }

  queue(
    name: Uint8Array,
    parts: readonly Uint8Array[],
    port: number,
    address: string,
    up: boolean,
    bytes: number,
  ): boolean {
    const i = this.#queued.length;
    if (i === SEND_BATCH || parts.length > 2) return false;
    for (const part of parts) {
      if (part.buffer !== this.#arena && part.length > SMALL) return false;
    }
    const hdr = this.#sendHdr + i * MMSGHDR;
    this.#bytes.set(name, this.#sendName + i * NAME);
    this.#view.setUint32(hdr + 8, name.length, true); // msg_namelen
    this.#view.setBigUint64(hdr + 24, BigInt(parts.length), true); // msg_iovlen
    for (const [p, part] of parts.entries()) {
      const iov = this.#sendIov + (i * 2 + p) * IOVEC;
      let offset = part.byteOffset;
      if (part.buffer !== this.#arena) {
        offset = this.#sendSmall + (i * 2 + p) * SMALL;
        this.#bytes.set(part, offset);
      }
      this.#pointer(iov, offset);
      this.#view.setBigUint64(iov + 8, BigInt(part.length), true);
    }
    this.#queued.push({ up, bytes, port, address, parts: parts as Uint8Array[] });
    return true;
  }

  flush(fd: number, report: SentReport, fallback: SendFallback): void {
    const queued = this.#queued;
    let i = 0;
    while (i < queued.length) {
      const sent = this.#sendmmsg(
        fd,
        this.#base + BigInt(this.#sendHdr + i * MMSGHDR),
        queued.length - i,
        0,
      );
      if (sent > 0) {
        for (const q of queued.slice(i, i + sent)) report(q.up, q.bytes, true);
        i += sent;
        continue;
      }
      const errno = this.#errno();
      if (errno === EINTR) continue; // a signal came first: nothing was sent, try again
      if (errno === EAGAIN || errno === ENOBUFS) {
        // The socket's buffer is full: dgram queues the rest (copies: the arena is reused).
        for (const q of queued.slice(i)) {
          fallback(Buffer.concat(q.parts), q.port, q.address, q.up, q.bytes);
        }
        break;
      }
      // This datagram cannot be sent (no route, refused by a firewall...): the next may be.
      const failed = queued[i];
      if (failed !== undefined) report(failed.up, failed.bytes, false);
      i++;
    }
    queued.length = 0;
  }

  discard(): void {
    this.#queued.length = 0;
  }
}

/** IPv6 text as canonicalIp() writes it: IPv4-mapped unmapped, else RFC 5952. */
function ipv6Text(bytes: Uint8Array, offset: number): string {
  for (let k = 0; k < 10; k++) {
    if (bytes[offset + k] !== 0) return formatIPv6(bytes, offset);
  }
  return bytes[offset + 10] === 0xff && bytes[offset + 11] === 0xff
    ? formatIPv4(bytes, offset + 12)
    : formatIPv6(bytes, offset);
}

/**
 * The socket address `ip`:`port` as the socket's sendmmsg takes it: a sockaddr_in6 on a
 * dual-stack socket (IPv4 written IPv4-mapped), a sockaddr_in on an IPv4 one. Undefined for
 * text that is not an IP address of a family the socket can reach.
 */
export function socketName(ip: string, port: number, dual: boolean): Uint8Array | undefined {
  const v4 = parseIPv4(ip);
  if (!dual) {
    if (v4 === undefined) return undefined;
    const name = new Uint8Array(16);
    const view = new DataView(name.buffer);
    view.setUint16(0, AF_INET, true);
    view.setUint16(2, port, false);
    name.set(v4, 4);
    return name;
  }
  let address: Uint8Array | undefined;
  if (v4 !== undefined) {
    address = new Uint8Array(16);
    address[10] = 0xff;
    address[11] = 0xff;
    address.set(v4, 12);
  } else {
    address = parseIPv6(ip);
  }
  if (address === undefined) return undefined;
  const name = new Uint8Array(28);
  const view = new DataView(name.buffer);
  view.setUint16(0, AF_INET6, true);
  view.setUint16(2, port, false);
  name.set(address, 8);
  return name;
}

/** The descriptor of a bound dgram socket, or undefined when this Node does not show it. */
export function socketFd(socket: dgram.Socket): number | undefined {
  // dgram keeps its handle under a private symbol; UDPWrap has an `fd` getter on Unix.
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  if (state === undefined) return undefined;
  const handle = (socket as unknown as Record<symbol, { handle?: { fd?: unknown } } | undefined>)[
    state
  ]?.handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}

/**
 * A batch over this koffi (its own arena and budget). For tests that stand in for a system
 * call; everything else shares {@link datagramBatch}'s.
 */
export function createDatagramBatch(koffi: Koffi): DatagramBatch {
  return new MmsgBatch(koffi);
}

let shared: DatagramBatch | null | undefined;

/**
 * The process's batch, created on first use; undefined where it cannot work (not 64-bit Linux,
 * no koffi, libc without recvmmsg) or when FERRY_UDP_BATCH=0.
 */
export function datagramBatch(): DatagramBatch | undefined {
  if (shared !== undefined) return shared ?? undefined;
  shared = null;
  if (
    process.env.FERRY_UDP_BATCH === '0' ||
    process.platform !== 'linux' ||
    (process.arch !== 'x64' && process.arch !== 'arm64')
  )
    return undefined;
  try {
    // koffi is an optional CommonJS dependency: loaded only here, synchronously, once.
    const koffi = createRequire(import.meta.url)('koffi') as Koffi;
    prepareKoffi(koffi);
    shared = createDatagramBatch(koffi);
  } catch {
    shared = null;
  }
  return shared ?? undefined;
}
