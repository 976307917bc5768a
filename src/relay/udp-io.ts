/**
 * The I/O side of a UDP relay (src/relay/udp.ts): datagrams in and out of the association
 * socket — one at a time through dgram, or, when the socket is busy, many per system call
 * through the batch (src/relay/udp-batch.ts). The relay's decisions are the same either way.
 *
 * The first datagram of a burst comes through dgram's 'message'; the rest of the socket's queue
 * is then read in batches, and what handling them produces is queued and sent in batches, until
 * the queue is empty or the turn's budget is spent. A datagram read in a batch is a view of the
 * batch's memory ("borrowed"): what the relay keeps past it must be a copy ({@link kept}).
 */
import type dgram from 'node:dgram';
import { canonicalIp, unmapIPv4 } from '../dial/ip-text.js';
import {
  RECEIVE_BATCH,
  socketFd,
  socketName,
  type DatagramBatch,
  type SentReport,
} from './udp-batch.js';

export interface DatagramIoOptions {
  /** The socket is dual-stack (IPv4 peers written IPv4-mapped). */
  readonly dual: boolean;
  /** Batched I/O, or undefined for dgram alone. */
  readonly batch: DatagramBatch | undefined;
  /** Every datagram received: its data, the sender's canonical IP text and port. */
  readonly onDatagram: (data: Buffer, ip: string, port: number) => void;
  /** Every datagram handed over for sending: sent (`ok`) or not. */
  readonly onSent: SentReport;
}

export class DatagramIo {
  readonly #socket: dgram.Socket;
  readonly #options: DatagramIoOptions;
  readonly #batch: DatagramBatch | undefined;
  readonly #fd: number;
  /** Inside a batch: sends are queued for one sendmmsg. */
  #batching = false;
  /** The datagram being handled is a view of the batch's memory. */
  #borrowed = false;
  #closed = false;

  constructor(socket: dgram.Socket, options: DatagramIoOptions) {
    this.#socket = socket;
    this.#options = options;
    const fd = options.batch === undefined ? undefined : socketFd(socket);
    this.#batch = fd === undefined ? undefined : options.batch;
    this.#fd = fd ?? -1;
    socket.on('message', this.#onMessage);
    socket.on('error', () => undefined);
  }

  /** Stops receiving and closes the socket. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.off('message', this.#onMessage);
    this.#socket.close();
  }

  /** Octets dgram holds, not yet taken by the kernel. */
  get sendQueueSize(): number {
    return this.#socket.getSendQueueSize();
  }

  /** The socket address of `ip`:`port` for batched sends; undefined without batching. */
  nameOf(ip: string, port: number): Uint8Array | undefined {
    return this.#batch === undefined ? undefined : socketName(ip, port, this.#options.dual);
  }

  /** Data as the relay may keep it past the datagram being handled: a copy when borrowed. */
  kept(data: Uint8Array): Uint8Array {
    return this.#borrowed ? Uint8Array.prototype.slice.call(data) : data;
  }

  /**
   * Sends one datagram made of `parts` to `address`:`port` (as dgram writes it) — queued for the
   * batch's sendmmsg when inside a batch and `name` ({@link nameOf}) is known, else through
   * dgram, with a copy of borrowed data, since dgram may hold on to it. `up` and `bytes` are
   * handed back to `onSent`.
   */
  send(
    parts: Uint8Array[],
    port: number,
    address: string,
    name: Uint8Array | undefined,
    up: boolean,
    bytes: number,
  ): void {
    if (
      this.#batching &&
      name !== undefined &&
      this.#batch?.queue(name, parts, port, address, up, bytes) === true
    )
      return;
    this.#viaDgram(this.#borrowed ? Buffer.concat(parts) : parts, port, address, up, bytes);
  }

  /** One datagram through dgram (also what the batch could not send now, as a copy). */
  readonly #viaDgram = (
    data: Buffer | Uint8Array[],
    port: number,
    address: string,
    up: boolean,
    bytes: number,
  ): void => {
    this.#socket.send(data, port, address, (err) => {
      this.#options.onSent(up, bytes, err === null);
    });
  };

  readonly #onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (this.#closed) return;
    let ip = unmapIPv4(rinfo.address);
    if (ip.includes(':')) ip = canonicalIp(ip);
    this.#options.onDatagram(msg, ip, rinfo.port);
    const batch = this.#batch;
    if (batch === undefined || this.#isClosed()) return;
    this.#batching = true;
    this.#borrowed = true;
    try {
      // Until the queue is empty or the turn's budget spent (a short batch either way). A
      // datagram's handling may close the relay: check after each batch.
      for (;;) {
        const n = batch.receive(this.#fd, this.#options.onDatagram);
        if (this.#isClosed()) break;
        batch.flush(this.#fd, this.#options.onSent, this.#viaDgram);
        if (n < RECEIVE_BATCH) break;
      }
    } finally {
      this.#batching = false;
      this.#borrowed = false;
      batch.discard();
    }
  };

  #isClosed(): boolean {
    return this.#closed;
  }
}
