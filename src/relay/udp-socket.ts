/**
 * The one UDP socket of a UDP ASSOCIATE: it receives the client's datagrams and sends them on, and
 * receives the replies and sends them back — so it must be able to talk to the client and to any
 * destination at once.
 *
 * - It is bound to the wildcard address. A socket bound to the address the client reached us on
 *   could not reach most destinations (bound to 127.0.0.1 it cannot leave the host; bound to an
 *   internal interface its datagrams leave with a source the internet cannot answer). The kernel
 *   picks the source per destination; the relay's filters (src/relay/udp.ts) decide who is heard.
 * - It is dual-stack (`::` with IPV6_V6ONLY off) so one socket serves an IPv4 or IPv6 client and
 *   reaches IPv4 and IPv6 destinations. A host without IPv6 gets an IPv4-only socket, and IPv6
 *   destinations are then dropped and counted.
 * - With a port range, ports are tried from a random point in the range, each at most once.
 */
import dgram from 'node:dgram';
import { Reply } from '../protocol/constants.js';
import { SocksDialError } from '../errors.js';

export interface AssociationSocket {
  readonly socket: dgram.Socket;
  /** True for a dual-stack IPv6 socket (IPv4 peers appear as `::ffff:a.b.c.d`). */
  readonly dual: boolean;
  readonly port: number;
}

export const udpSocketErrorCodes = {
  portsExhausted: 'ERR_SOCKS_UDP_PORTS_EXHAUSTED',
} as const;

/** Errors that mean "this host has no IPv6": fall back to an IPv4-only socket. */
const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EPROTONOSUPPORT', 'EINVAL']);
/** Errors that mean "this port is taken": try the next one in the range. */
const PORT_TAKEN = new Set(['EADDRINUSE', 'EACCES']);

function bindOne(type: 'udp4' | 'udp6', port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type, ipv6Only: false, reuseAddr: false });
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ port, address: type === 'udp6' ? '::' : '0.0.0.0', exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? '';
}

async function bindFamily(
  type: 'udp4' | 'udp6',
  range: { from: number; to: number } | undefined,
): Promise<dgram.Socket> {
  if (range === undefined) return bindOne(type, 0);
  const size = range.to - range.from + 1;
  const start = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    try {
      return await bindOne(type, range.from + ((start + i) % size));
    } catch (err) {
      if (!PORT_TAKEN.has(code(err))) throw err;
    }
  }
  throw new SocksDialError(
    udpSocketErrorCodes.portsExhausted,
    `no free UDP port in ${range.from}-${range.to}`,
    Reply.GeneralFailure,
  );
}

/**
 * Opens an association socket: dual-stack when the host has IPv6, else IPv4 only; its port from
 * `range` when given. Rejects with SocksDialError ERR_SOCKS_UDP_PORTS_EXHAUSTED (reply 01) when
 * every port of the range is taken, or with the socket error.
 */
export async function openAssociationSocket(range?: {
  from: number;
  to: number;
}): Promise<AssociationSocket> {
  let socket: dgram.Socket;
  let dual = true;
  try {
    socket = await bindFamily('udp6', range);
  } catch (err) {
    if (!NO_IPV6.has(code(err))) throw err;
    socket = await bindFamily('udp4', range);
    dual = false;
  }
  return { socket, dual, port: socket.address().port };
}
