/**
 * `associate()`: RFC 1928 §4 UDP ASSOCIATE and §7 — a UDP socket-like object whose datagrams go
 * through the proxy's relay. It owns the TCP control connection ("a UDP association terminates
 * when the TCP connection that the UDP ASSOCIATE request arrived on terminates") and closes it
 * together with its own dgram socket.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { lookup } from 'node:dns/promises';
import { socksAddress, type SocksAddress } from '../protocol/address.js';
import { Command, Limits } from '../protocol/constants.js';
import {
  decodeUdpDatagram,
  encodeUdpHeader,
  FRAG_STANDALONE,
  udpHeaderLength,
} from '../protocol/udp.js';
import { invalidOption, SocksError, SocksUsageError, UsageErrorCode } from '../errors.js';
import { proxyAddressIfUnspecified } from './bind.js';
import { parseProxies, type SocksProxy } from './proxy.js';
import { handOver, openTunnel, type TunnelOptions } from './tunnel.js';
import type { Duplex } from 'node:stream';
import type { Encapsulation } from '../gssapi/encapsulation.js';
import { GssapiSocket } from '../gssapi/stream.js';
import { GSSAPI_HEADER_LENGTH, MAX_GSSAPI_TOKEN_LENGTH } from '../protocol/gssapi.js';

export type AssociateOptions = TunnelOptions;

/** Who sent a datagram (from its §7 header), dgram-style. */
export interface SocksRemoteInfo {
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6' | 'domain';
  /** Octets of data, without the header. */
  readonly size: number;
}

const families = { ipv4: 'IPv4', ipv6: 'IPv6', domain: 'domain' } as const;

/** The largest §7 header: a 255-octet domain name (3 + 1 + 1 + 255 + 2). */
export const MAX_UDP_HEADER_LENGTH = 3 + 1 + 1 + Limits.maxDomainLength + 2;

export interface SocksUdpAssociationEvents {
  message: [data: Buffer, from: SocksRemoteInfo];
  /** Emitted once; `error` is set when the association ended because something failed. */
  close: [error?: Error];
  /** Only emitted when there are listeners; the same error also comes with `close`. */
  error: [error: Error];
}

/** Why a received datagram was dropped (the keys of {@link SocksUdpAssociation.dropped}). */
export type UdpDropReason = 'source' | 'malformed' | 'fragment' | 'protection';

/**
 * A UDP association. Events: `'message' (data, from)`, `'close' (error?)`, `'error' (error)`.
 * Datagrams from any address but the relay's (`source`), with a malformed header (`malformed`),
 * or fragmented (`fragment`: FRAG ≠ 0, ferry does not reassemble, as RFC 1928 §7 allows) are
 * dropped and counted.
 *
 * When the last hop agreed GSS-API integrity or confidentiality, every datagram both ways is
 * wrapped whole — header and data — in one RFC 1961 MTYP 03 message. RFC 1928 §7: "If the
 * selected authentication method provides encapsulation for the purposes of authenticity,
 * integrity, and/or confidentiality, the datagram MUST be encapsulated using the appropriate
 * encapsulation. Each UDP datagram carries a UDP request header with it" — the header belongs to
 * the datagram that is encapsulated (so its DST is protected too; Dante does the same). A
 * datagram that fails its check (tampered, replayed, not a message) is dropped as `protection`,
 * never fatal.
 */
export class SocksUdpAssociation extends EventEmitter<SocksUdpAssociationEvents> {
  /** Where datagrams are sent: the relay address of the reply (0.0.0.0/:: → the proxy's). */
  readonly relay: SocksAddress;
  readonly proxies: readonly SocksProxy[];
  /** The §7 header overhead for the worst case: subtract from the path MTU to size data. */
  readonly maxHeaderLength = MAX_UDP_HEADER_LENGTH;
  /**
   * Octets the method's encapsulation adds to each datagram at most (RFC 1928 §7's
   * "method_dependent"): 0 unprotected; with GSS-API the 4-octet RFC 1961 framing plus the
   * wrap token's overhead. Subtract it, with the header, from the path MTU to size data.
   */
  readonly methodOverhead: number;
  /** Datagrams received and dropped, all reasons together. */
  droppedDatagrams = 0;
  /** Datagrams received and dropped, by reason. */
  readonly dropped: Partial<Record<UdpDropReason, number>> = {};
  readonly #control: Duplex;
  readonly #udp: dgram.Socket;
  readonly #remoteDns: boolean;
  readonly #encapsulation: Encapsulation | undefined;
  #closed = false;

  /** @internal Use {@link associate}. */
  constructor(
    control: Duplex,
    udp: dgram.Socket,
    relay: SocksAddress,
    proxies: readonly SocksProxy[],
    encapsulation?: Encapsulation,
  ) {
    super();
    this.#control = control;
    this.#encapsulation = encapsulation;
    this.methodOverhead =
      encapsulation === undefined
        ? 0
        : GSSAPI_HEADER_LENGTH + MAX_GSSAPI_TOKEN_LENGTH - encapsulation.maxChunk;
    this.#udp = udp;
    this.relay = relay;
    this.proxies = proxies;
    this.#remoteDns = proxies[proxies.length - 1]?.remoteDns ?? false;
    udp.on('message', (msg, rinfo) => {
      this.#onDatagram(msg, rinfo);
    });
    udp.on('error', (err) => {
      this.#close(err);
    });
    // The control connection carries nothing after the reply; read and ignore whatever comes.
    control.on('data', () => undefined);
    control.on('error', (err) => {
      this.#close(err);
    });
    control.on('close', () => {
      this.#close();
    });
  }

  /**
   * The §7 header length for datagrams to `host`: 10 (IPv4), 22 (IPv6), 7 + name length for a
   * name sent to the proxy (socks5h); a name resolved locally (socks5) is counted as IPv6, the
   * larger. RFC 1928 §7 says 20 for IPv6; the header really is 22.
   */
  headerLength(host: string): number {
    const address = socksAddress(host, 0);
    if (address.type === 'domain' && !this.#remoteDns) return 3 + 1 + 16 + 2;
    return udpHeaderLength(address);
  }

  /**
   * Sends `data` to `host:port` through the relay.
   * @throws SocksUsageError after close, or for an unencodable address; SocksGssapiError
   *   (`ERR_SOCKS_GSSAPI_PROTECTION`) on a protected association when header and data do not
   *   fit in one wrapped message (more than gss_wrap_size_limit(65535) octets).
   */
  async send(data: Uint8Array | string, port: number, host: string): Promise<void> {
    if (this.#closed) {
      throw new SocksUsageError(UsageErrorCode.InvalidState, 'the UDP association is closed');
    }
    let address = socksAddress(host, port);
    if (address.type === 'domain' && !this.#remoteDns) {
      address = socksAddress((await lookup(address.host)).address, port);
    }
    const header = encodeUdpHeader(address, FRAG_STANDALONE);
    const payload = typeof data === 'string' ? Buffer.from(data) : data;
    const enc = this.#encapsulation;
    const datagram =
      enc === undefined ? [header, payload] : [enc.wrapDatagram(Buffer.concat([header, payload]))];
    await new Promise<void>((resolve, reject) => {
      this.#udp.send(datagram, this.relay.port, this.relay.host, (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /** The local address of the dgram socket. */
  address(): net.AddressInfo {
    return this.#udp.address();
  }

  /** Ends the association: closes the dgram socket and the control connection. Idempotent. */
  close(): void {
    this.#close();
  }

  #onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    // Only the relay speaks for the association (RFC 1928 §7 asks the same of servers).
    if (rinfo.port !== this.relay.port || normalise(rinfo.address) !== normalise(this.relay.host)) {
      this.#drop('source');
      return;
    }
    let plain: Uint8Array = msg;
    const enc = this.#encapsulation;
    if (enc !== undefined) {
      try {
        plain = enc.unwrapDatagram(msg);
      } catch (err) {
        if (!(err instanceof SocksError)) throw err;
        this.#drop('protection');
        return;
      }
    }
    let datagram;
    try {
      datagram = decodeUdpDatagram(plain);
    } catch (err) {
      if (!(err instanceof SocksError)) throw err;
      this.#drop('malformed');
      return;
    }
    if (datagram.frag !== FRAG_STANDALONE) {
      this.#drop('fragment');
      return;
    }
    const data = Buffer.from(datagram.data.buffer, datagram.data.byteOffset, datagram.data.length);
    this.emit('message', data, {
      address: datagram.address.host,
      port: datagram.address.port,
      family: families[datagram.address.type],
      size: data.length,
    });
  }

  #drop(reason: UdpDropReason): void {
    this.droppedDatagrams++;
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
  }

  #close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#udp.close();
    } catch {
      // already closed
    }
    this.#control.destroy();
    if (error && this.listenerCount('error') > 0) this.emit('error', error);
    this.emit('close', error);
  }
}

function normalise(ip: string): string {
  return ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

/**
 * Opens a UDP association through `proxy` (SOCKS5 only; a chain's last hop relays, and the
 * client must be able to reach that hop's relay address directly).
 * @throws the errors of connect(); SocksUsageError for a SOCKS4 proxy.
 */
export async function associate(options: AssociateOptions): Promise<SocksUdpAssociation> {
  const { proxy: _proxy, ...rest } = options;
  const proxies = parseProxies(options);
  if (proxies[proxies.length - 1]?.version !== 5) {
    throw invalidOption('proxy', 'UDP ASSOCIATE needs a SOCKS5 proxy (SOCKS4 has no UDP)');
  }
  let udp: dgram.Socket | undefined;
  // RFC 1928 §4: DST is where we will send from, or all zeros when we do not know yet. We do not
  // (the dgram socket's family depends on the relay address in the reply), so: zeros.
  const tunnel = await openTunnel({ ...rest, proxies }, Command.UdpAssociate, {
    host: '0.0.0.0',
    port: 0,
  });
  try {
    let relay = proxyAddressIfUnspecified(tunnel, tunnel.bound);
    if (relay.type === 'domain') {
      relay = socksAddress((await lookup(relay.host)).address, relay.port);
    }
    const family = relay.type === 'ipv6' ? 'udp6' : 'udp4';
    const socket = dgram.createSocket(family);
    udp = socket;
    const local = tunnel.socket.localAddress;
    const sameFamily = local !== undefined && net.isIP(local) === (family === 'udp6' ? 6 : 4);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      // Send from the address the control connection uses: the relay checks the source IP.
      socket.bind(0, sameFamily && tunnel.proxies.length === 1 ? local : undefined, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const protection = tunnel.handshake.protection;
    return new SocksUdpAssociation(
      handOver(tunnel),
      socket,
      relay,
      tunnel.proxies,
      protection instanceof GssapiSocket ? protection.encapsulation : undefined,
    );
  } catch (err) {
    udp?.close();
    tunnel.socket.destroy();
    throw err;
  }
}
