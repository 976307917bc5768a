/**
 * The datagram relay of one UDP ASSOCIATE (RFC 1928 §7), over one socket (src/relay/udp-socket.ts).
 *
 * Who is heard:
 * - The client: datagrams from the control connection's client IP, and from the port it declared
 *   in its request; with an all-zero request the first well-formed datagram's port is locked in.
 * - Remote hosts: only those the client has sent to (address and port), like a NAT with
 *   address-and-port-dependent filtering (RFC 4787 §5). Anything else is dropped as `source` —
 *   so a host that merely learns the relay's port can neither inject replies nor pose as the client.
 *
 * Client → remote: decode the header (malformed → dropped as `malformed`, never fatal), reassemble
 * fragments (src/protocol/udp-reassembly.ts) or drop them as `fragment` when reassembly is off,
 * check the destination against the access rules (`denied`; names before and after DNS, as for
 * CONNECT), resolve a domain (cached, bounded queue while resolving), send DATA.
 * Remote → client: prefix the header naming the sender (its IP and port), send to the client.
 *
 * Protected associations (GSS-API integrity or confidentiality agreed on the control connection):
 * every datagram both ways is one RFC 1961 MTYP 03 message whose token is the whole §7 datagram,
 * header and data, wrapped — RFC 1928 §7: "If the selected authentication method provides
 * encapsulation for the purposes of authenticity, integrity, and/or confidentiality, the datagram
 * MUST be encapsulated using the appropriate encapsulation. Each UDP datagram carries a UDP
 * request header with it" (the header is part of the datagram that is encapsulated); RFC 1961 §5:
 * "For TCP and UDP clients and servers, the GSS-API functions for encapsulation and
 * de-encapsulation shall be used". A datagram from the client that does not unwrap (tampered,
 * replayed, not a message, unencrypted at confidentiality) is dropped as `protection` — never
 * fatal: UDP has no stream to end, and anyone can send a datagram to the relay's port.
 *
 * The socket's I/O is src/relay/udp-io.ts: one datagram at a time through dgram, or many per
 * system call when the socket is busy (src/relay/udp-batch.ts, Linux); the decisions here are the
 * same either way. Protected associations always use dgram.
 *
 * Bounded under a flood: nothing queues per datagram without a cap — sends are refused as
 * `overload` while the socket's send queue holds more than {@link MAX_SEND_QUEUE_BYTES}, names and
 * fragments have their own caps, and the peer table keeps the newest {@link MAX_PEERS}.
 */
import type dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { decodeUdpDatagram, encodeUdpHeader } from '../protocol/udp.js';
import { socksAddress, type SocksAddress } from '../protocol/address.js';
import {
  FragmentReassembler,
  type AbandonedSequence,
  type ByteBudget,
} from '../protocol/udp-reassembly.js';
import { unmapIPv4 } from '../dial/ip-text.js';
import type { IpAddress, NameCheck, SessionPolicy } from '../rules/index.js';
import { NameCache, type NameResolver, type PendingDatagram } from './udp-names.js';
import type { DatagramBatch } from './udp-batch.js';
import { DatagramIo } from './udp-io.js';

/** Octets the socket may have queued for sending before new datagrams are dropped. */
export const MAX_SEND_QUEUE_BYTES = 1024 * 1024;
/** Remote endpoints remembered per association (for reply filtering and their headers). */
export const MAX_PEERS = 1024;
/** Largest UDP payload: 65 535 − 8 (UDP) − 20 (IPv4 header); IPv6 has no header in the limit. */
const MAX_PAYLOAD = { 4: 65_507, 6: 65_527 } as const;

export interface UdpCounters {
  datagramsUp: number;
  bytesUp: number;
  datagramsDown: number;
  bytesDown: number;
  dropped: Record<string, number>;
}

/**
 * Per-datagram protection (src/gssapi/encapsulation.ts's Encapsulation fits): one framed message
 * per datagram. Kept as an interface so the relay needs no GSS-API import.
 */
export interface DatagramProtection {
  /** The most octets one message carries (a larger datagram cannot be sent protected). */
  readonly maxChunk: number;
  /** The whole datagram as one framed message; throws when the library cannot wrap it. */
  wrapDatagram(datagram: Uint8Array): Uint8Array;
  /** The datagram inside one framed message; throws when it fails its check. */
  unwrapDatagram(payload: Uint8Array): Uint8Array;
}

export interface UdpRelayOptions {
  /** The control connection's client IP, canonical (IPv4 unmapped). */
  readonly clientAddress: string;
  /** The port the client declared (DST.PORT); undefined: lock in the first datagram's. */
  readonly clientPort: number | undefined;
  /** The socket is dual-stack: IPv4 addresses must be written `::ffff:a.b.c.d`. */
  readonly dual: boolean;
  /** End after this many ms with nothing relayed either way; 0 = never. */
  readonly idleTimeout: number;
  /** Fragment reassembly settings; undefined drops every fragment (RFC 1928 §7). */
  readonly reassembly:
    | { readonly timeout: number; readonly maxDatagramSize: number; readonly budget: ByteBudget }
    | undefined;
  readonly resolver: NameResolver;
  /** The access rules for this association: every datagram's destination is checked. */
  readonly policy: SessionPolicy;
  /**
   * The control connection's protection: every datagram both ways is wrapped whole. Undefined
   * (no protection, or `clear`): datagrams go as they are, with nothing in between.
   */
  readonly protection?: DatagramProtection | undefined;
  /**
   * Batched I/O (src/relay/udp-batch.ts's datagramBatch()); undefined: dgram alone. Not used
   * with protection.
   */
  readonly batch?: DatagramBatch | undefined;
  /** Updated live (the session record's `udp`). */
  readonly counters: UdpCounters;
  /** A drop decision: `count` datagrams for `reason`; `from` is the source when known. */
  readonly onDrop?: ((reason: string, count: number, from: string | undefined) => void) | undefined;
  /** The idle timeout fired; the relay is already closed. */
  readonly onIdle: () => void;
}

interface Peer {
  readonly header: Uint8Array;
  /** The peer's socket address for sendmmsg (batched I/O only). */
  readonly name: Uint8Array | undefined;
}

const peerKey = (ip: string, port: number): string => `${ip} ${port}`;

export class UdpRelay {
  readonly #io: DatagramIo;
  readonly #options: UdpRelayOptions;
  readonly #reassembler: FragmentReassembler | undefined;
  readonly #names: NameCache;
  readonly #peers = new Map<string, Peer>();
  readonly #clientFamily: 4 | 6;
  #clientPort: number | undefined;
  #clientTarget: string;
  #lastActivity = performance.now();
  #idleTimer: NodeJS.Timeout | undefined;
  #fragmentTimer: NodeJS.Timeout | undefined;
  #fragmentDeadline: number | undefined;
  #closed = false;
  /** The client's socket address for batched sends, once its port is known. */
  #clientName: Uint8Array | undefined;

  constructor(socket: dgram.Socket, options: UdpRelayOptions) {
    this.#options = options;
    this.#clientFamily = options.clientAddress.includes(':') ? 6 : 4;
    this.#clientPort = options.clientPort;
    this.#clientTarget = this.#target(options.clientAddress, this.#clientFamily);
    this.#reassembler =
      options.reassembly === undefined ? undefined : new FragmentReassembler(options.reassembly);
    this.#names = new NameCache({ resolver: options.resolver, onResolved: this.#onResolved });
    this.#io = new DatagramIo(socket, {
      dual: options.dual,
      batch: options.protection === undefined ? options.batch : undefined,
      onDatagram: this.#dispatch,
      onSent: this.#onSent,
    });
    if (options.idleTimeout > 0) this.#armIdle(options.idleTimeout);
  }

  /** Closes the socket and forgets queued fragments and datagrams. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#fragmentTimer);
    this.#io.close();
    const abandoned = this.#reassembler?.clear();
    if (abandoned !== undefined) this.#dropSequence(abandoned);
    const waiting = this.#names.close();
    if (waiting > 0) this.#drop('closed', waiting, undefined);
  }

  readonly #dispatch = (msg: Buffer, ip: string, port: number): void => {
    if (this.#closed) return;
    if (ip === this.#options.clientAddress) {
      if (this.#clientPort === undefined || port === this.#clientPort) {
        this.#fromClient(msg, ip, port);
        return;
      }
    }
    const peer = this.#peers.get(peerKey(ip, port));
    if (peer === undefined || this.#clientPort === undefined) {
      this.#drop('source', 1, ip, port);
      return;
    }
    this.#toClient(peer, msg);
  };

  #fromClient(msg: Buffer, ip: string, port: number): void {
    let plain: Uint8Array = msg;
    const protection = this.#options.protection;
    if (protection !== undefined) {
      try {
        plain = protection.unwrapDatagram(msg);
      } catch {
        this.#drop('protection', 1, ip, port);
        return;
      }
    }
    let datagram;
    try {
      datagram = decodeUdpDatagram(plain);
    } catch {
      this.#drop('malformed', 1, ip, port);
      return;
    }
    // Lock in only a well-formed datagram's port, so stray junk cannot claim the association.
    this.#clientPort ??= port;
    const reassembler = this.#reassembler;
    if (reassembler === undefined) {
      if (datagram.frag !== 0) this.#drop('fragment', 1, ip, port);
      else this.#route(datagram.address, datagram.data);
      return;
    }
    // The common case: a standalone datagram with no sequence in progress has nothing to
    // reassemble or abandon.
    if (datagram.frag === 0 && reassembler.queuedFragments === 0) {
      this.#route(datagram.address, datagram.data);
      return;
    }
    const now = performance.now();
    const { outcome, abandoned } = reassembler.push(
      datagram.frag,
      datagram.address,
      this.#io.kept(datagram.data),
      now,
    );
    if (abandoned !== undefined) this.#dropSequence(abandoned);
    if (outcome.type === 'complete') this.#route(outcome.address, outcome.data);
    else if (outcome.type === 'dropped') this.#drop(outcome.reason, 1, ip, port);
    this.#armFragmentTimer(now);
  }

  /** Checks the destination against the rules (names before and after DNS), then sends. */
  #route(address: SocksAddress, data: Uint8Array): void {
    const port = address.port;
    if (port === 0) {
      this.#drop('bad-destination', 1, undefined);
      return;
    }
    const policy = this.#options.policy;
    if (address.type !== 'domain') {
      // The codec writes IPv4 dotted and IPv6 per RFC 5952; only IPv4-mapped needs folding.
      const ip = address.type === 'ipv4' ? address.host : unmapIPv4(address.host);
      const family = ip.includes(':') ? 6 : 4;
      if (policy.checkAddress(ip, port).action === 'deny') this.#drop('denied', 1, undefined);
      else this.#send(ip, family, port, data);
      return;
    }
    const check = policy.checkDestination(address.host, port);
    if (check.kind === 'invalid') {
      this.#drop('bad-destination', 1, undefined);
    } else if (check.kind === 'ip') {
      if (check.verdict.action === 'deny') this.#drop('denied', 1, undefined);
      else this.#send(check.ip.address, check.ip.family, port, data);
    } else if (check.verdict?.action === 'deny') {
      this.#drop('denied', 1, undefined); // decided by the name alone: no DNS query
    } else {
      const cached = this.#names.get(check.name);
      if (cached === null) this.#drop('resolve', 1, undefined);
      else if (cached !== undefined) this.#sendToName(check, cached, port, data);
      else if (!this.#names.wait(check.name, { port, data: this.#io.kept(data) }))
        this.#drop('resolve-busy', 1, undefined);
    }
  }

  /** A resolved name: only addresses the rules allow, of a family this socket can reach. */
  #sendToName(
    check: NameCheck,
    addresses: readonly IpAddress[],
    port: number,
    data: Uint8Array,
  ): void {
    const result = check.checkAddresses(addresses);
    if (result.verdict.action === 'deny') {
      this.#drop('denied', 1, undefined);
      return;
    }
    const target = result.allowed.find((a) => a.family === 4 || this.#options.dual);
    if (target === undefined) this.#drop('family', 1, undefined);
    else this.#send(target.address, target.family, port, data);
  }

  readonly #onResolved = (
    name: string,
    answer: readonly IpAddress[] | undefined,
    datagrams: readonly PendingDatagram[],
  ): void => {
    if (this.#closed) return;
    if (answer === undefined) {
      this.#drop('resolve', datagrams.length, undefined);
      return;
    }
    for (const d of datagrams) {
      // The port is part of the rules' decision: check each waiting datagram on its own.
      const check = this.#options.policy.checkDestination(name, d.port);
      if (check.kind === 'name') this.#sendToName(check, answer, d.port, d.data);
      else this.#drop('bad-destination', 1, undefined);
    }
  };

  #send(ip: string, family: 4 | 6, port: number, data: Uint8Array): void {
    if (ip === '0.0.0.0' || ip === '::') {
      this.#drop('bad-destination', 1, undefined);
      return;
    }
    if (family === 6 && !this.#options.dual) {
      this.#drop('family', 1, undefined);
      return;
    }
    if (this.#io.sendQueueSize > MAX_SEND_QUEUE_BYTES) {
      this.#drop('overload', 1, undefined);
      return;
    }
    const peer = this.#remember(ip, port);
    this.#lastActivity = performance.now();
    this.#io.send([data], port, this.#target(ip, family), peer.name, true, data.length);
  }

  #toClient(peer: Peer, data: Buffer): void {
    const port = this.#clientPort;
    if (port === undefined) return;
    const size = peer.header.length + data.length;
    if (size > MAX_PAYLOAD[this.#clientFamily]) {
      this.#drop('too-large', 1, undefined);
      return;
    }
    if (this.#io.sendQueueSize > MAX_SEND_QUEUE_BYTES) {
      this.#drop('overload', 1, undefined);
      return;
    }
    const outgoing = this.#protect(peer.header, data);
    if (outgoing === undefined) return;
    this.#lastActivity = performance.now();
    this.#clientName ??= this.#io.nameOf(this.#options.clientAddress, port);
    this.#io.send(outgoing, port, this.#clientTarget, this.#clientName, false, data.length);
  }

  readonly #onSent = (up: boolean, bytes: number, ok: boolean): void => {
    if (!ok) {
      this.#drop('send-error', 1, undefined);
      return;
    }
    const c = this.#options.counters;
    if (up) {
      c.datagramsUp++;
      c.bytesUp += bytes;
    } else {
      c.datagramsDown++;
      c.bytesDown += bytes;
    }
  };

  /**
   * The datagram as it goes to the client: header and data as they are, or — protected — one
   * wrapped message, which must fit in a message and in a UDP payload (`too-large` otherwise).
   */
  #protect(header: Uint8Array, data: Buffer): Uint8Array[] | undefined {
    const protection = this.#options.protection;
    if (protection === undefined) return [header, data];
    if (header.length + data.length > protection.maxChunk) {
      this.#drop('too-large', 1, undefined);
      return undefined;
    }
    let wrapped: Uint8Array;
    try {
      wrapped = protection.wrapDatagram(Buffer.concat([header, data]));
    } catch {
      this.#drop('protection', 1, undefined);
      return undefined;
    }
    if (wrapped.length > MAX_PAYLOAD[this.#clientFamily]) {
      this.#drop('too-large', 1, undefined);
      return undefined;
    }
    return [wrapped];
  }

  /** Records a destination the client sent to: its replies are let through, named by this header. */
  #remember(ip: string, port: number): Peer {
    const key = peerKey(ip, port);
    const known = this.#peers.get(key);
    if (known !== undefined) return known;
    const peer: Peer = {
      header: encodeUdpHeader(socksAddress(ip, port)),
      name: this.#io.nameOf(ip, port),
    };
    this.#peers.set(key, peer);
    if (this.#peers.size > MAX_PEERS) {
      const oldest = this.#peers.keys().next();
      if (oldest.done !== true) this.#peers.delete(oldest.value);
    }
    return peer;
  }

  /** How this socket must write an address: IPv4 as `::ffff:a.b.c.d` on a dual-stack socket. */
  #target(ip: string, family: 4 | 6): string {
    return family === 4 && this.#options.dual ? `::ffff:${ip}` : ip;
  }

  /** Keeps one timer on the queue's deadline (re-armed only when the deadline changes). */
  #armFragmentTimer(now: number): void {
    const deadline = this.#reassembler?.deadline;
    if (deadline === this.#fragmentDeadline) return;
    clearTimeout(this.#fragmentTimer);
    this.#fragmentTimer = undefined;
    this.#fragmentDeadline = deadline;
    if (deadline === undefined || this.#closed) return;
    this.#fragmentTimer = setTimeout(
      () => {
        const at = performance.now();
        this.#fragmentDeadline = undefined;
        const abandoned = this.#reassembler?.expire(at);
        if (abandoned !== undefined) this.#dropSequence(abandoned);
        this.#armFragmentTimer(at);
      },
      Math.max(0, Math.ceil(deadline - now)),
    );
    this.#fragmentTimer.unref();
  }

  #armIdle(timeout: number): void {
    this.#idleTimer = setTimeout(() => {
      const idle = performance.now() - this.#lastActivity;
      if (idle >= timeout) {
        this.close();
        this.#options.onIdle();
      } else {
        this.#armIdle(Math.ceil(timeout - idle));
      }
    }, timeout);
    this.#idleTimer.unref();
  }

  #dropSequence(abandoned: AbandonedSequence): void {
    if (abandoned.fragments > 0) this.#drop(abandoned.reason, abandoned.fragments, undefined);
  }

  #drop(reason: string, count: number, ip: string | undefined, port?: number): void {
    const dropped = this.#options.counters.dropped;
    dropped[reason] = (dropped[reason] ?? 0) + count;
    this.#options.onDrop?.(
      reason,
      count,
      ip === undefined ? undefined : ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`,
    );
  }
}
