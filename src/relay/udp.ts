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
import { canonicalIp, unmapIPv4 } from '../dial/ip-text.js';
import type { IpAddress, NameCheck, SessionPolicy } from '../rules/index.js';
import { NameCache, type NameResolver, type PendingDatagram } from './udp-names.js';

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
  /** Updated live (the session record's `udp`). */
  readonly counters: UdpCounters;
  /** A drop decision: `count` datagrams for `reason`; `from` is the source when known. */
  readonly onDrop?: ((reason: string, count: number, from: string | undefined) => void) | undefined;
  /** The idle timeout fired; the relay is already closed. */
  readonly onIdle: () => void;
}

interface Peer {
  readonly header: Uint8Array;
}

const peerKey = (ip: string, port: number): string => `${ip} ${port}`;

export class UdpRelay {
  readonly #socket: dgram.Socket;
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

  constructor(socket: dgram.Socket, options: UdpRelayOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#clientFamily = options.clientAddress.includes(':') ? 6 : 4;
    this.#clientPort = options.clientPort;
    this.#clientTarget = this.#target(options.clientAddress, this.#clientFamily);
    this.#reassembler =
      options.reassembly === undefined ? undefined : new FragmentReassembler(options.reassembly);
    this.#names = new NameCache({ resolver: options.resolver, onResolved: this.#onResolved });
    socket.on('message', this.#onMessage);
    socket.on('error', () => undefined);
    if (options.idleTimeout > 0) this.#armIdle(options.idleTimeout);
  }

  /** Closes the socket and forgets queued fragments and datagrams. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#fragmentTimer);
    this.#socket.off('message', this.#onMessage);
    this.#socket.close();
    const abandoned = this.#reassembler?.clear();
    if (abandoned !== undefined) this.#dropSequence(abandoned);
    const waiting = this.#names.close();
    if (waiting > 0) this.#drop('closed', waiting, undefined);
  }

  readonly #onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (this.#closed) return;
    let ip = unmapIPv4(rinfo.address);
    if (ip.includes(':')) ip = canonicalIp(ip);
    const port = rinfo.port;
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
    let datagram;
    try {
      datagram = decodeUdpDatagram(msg);
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
      datagram.data,
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
      else if (!this.#names.wait(check.name, { port, data }))
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
    if (this.#socket.getSendQueueSize() > MAX_SEND_QUEUE_BYTES) {
      this.#drop('overload', 1, undefined);
      return;
    }
    this.#remember(ip, port);
    this.#lastActivity = performance.now();
    this.#socket.send(data, port, this.#target(ip, family), (err) => {
      if (err !== null) {
        this.#drop('send-error', 1, undefined);
        return;
      }
      const c = this.#options.counters;
      c.datagramsUp++;
      c.bytesUp += data.length;
    });
  }

  #toClient(peer: Peer, data: Buffer): void {
    const port = this.#clientPort;
    if (port === undefined) return;
    if (peer.header.length + data.length > MAX_PAYLOAD[this.#clientFamily]) {
      this.#drop('too-large', 1, undefined);
      return;
    }
    if (this.#socket.getSendQueueSize() > MAX_SEND_QUEUE_BYTES) {
      this.#drop('overload', 1, undefined);
      return;
    }
    this.#lastActivity = performance.now();
    this.#socket.send([peer.header, data], port, this.#clientTarget, (err) => {
      if (err !== null) {
        this.#drop('send-error', 1, undefined);
        return;
      }
      const c = this.#options.counters;
      c.datagramsDown++;
      c.bytesDown += data.length;
    });
  }

  /** Records a destination the client sent to: its replies are let through, named by this header. */
  #remember(ip: string, port: number): void {
    const key = peerKey(ip, port);
    if (this.#peers.has(key)) return;
    this.#peers.set(key, { header: encodeUdpHeader(socksAddress(ip, port)) });
    if (this.#peers.size > MAX_PEERS) {
      const oldest = this.#peers.keys().next();
      if (oldest.done !== true) this.#peers.delete(oldest.value);
    }
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
