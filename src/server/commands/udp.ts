/**
 * UDP ASSOCIATE (RFC 1928 §7): open the association's UDP socket, tell the client where to send,
 * relay datagrams (src/relay/udp.ts) for as long as the TCP connection lives.
 *
 * - The reply names the address the client reached us on (it can reach it) with the socket's
 *   port — or `externalAddress` for that family behind NAT.
 * - Access rules: an association no rule could allow is refused up front (02); otherwise each
 *   datagram's destination is checked in the relay and a denied one is dropped (`denied`).
 * - DST.ADDR/DST.PORT name where the client will send from. Only the port is used (when not 0):
 *   the client IP is the control connection's, as §7 requires ("MUST drop any datagrams arriving
 *   from any source IP address other than the one recorded for the particular association"); a
 *   client behind NAT cannot know the address we see, so its DST.ADDR is not trusted either way.
 * - The association ends when the TCP connection does (its FIN, its close, a reset, the server's
 *   drain): the UDP socket is closed at once. After `udpIdleTimeout` with no datagram relayed
 *   either way it ends too, and the TCP connection is closed. The session's access record carries
 *   the UDP counters (`record.udp`).
 * - GSS-API integrity/confidentiality on the control connection protects the datagrams too:
 *   each is wrapped whole (src/relay/udp.ts says how, with the RFC text); the control connection
 *   is read through the encapsulation layer, so a tampered message on it still ends the session.
 */
import { Reply } from '../../protocol/constants.js';
import { formatHostPort } from '../../protocol/address.js';
import { ByteLimit } from '../../protocol/udp-reassembly.js';
import { SocksDialError } from '../../errors.js';
import { canonicalIp } from '../../dial/ip-text.js';
import { openAssociationSocket, type AssociationSocket } from '../../relay/udp-socket.js';
import { datagramBatch } from '../../relay/udp-batch.js';
import { UdpRelay } from '../../relay/udp.js';
import { channels, publish } from '../../observability/channels.js';
import type { UdpStats } from '../session-record.js';
import type { ServerContext } from '../connection.js';
import type { CommandContext } from './context.js';
import { advertisedAddress } from './addresses.js';
import { NotAllowedError } from '../../rules/index.js';

export const udpErrorCodes = {
  family: 'ERR_SOCKS_UDP_FAMILY',
} as const;

/**
 * One reassembly budget per server: `udpReassemblyMemory` bounds all its associations together.
 * Kept beside the server (not in it) so that the server object needs no UDP knowledge; the limit
 * follows a reload.
 */
const budgets = new WeakMap<ServerContext, ByteLimit>();

function budgetFor(server: ServerContext): ByteLimit {
  let budget = budgets.get(server);
  if (budget === undefined) {
    budget = new ByteLimit(server.options.udpReassemblyMemory);
    budgets.set(server, budget);
  }
  budget.limit = server.options.udpReassemblyMemory;
  return budget;
}

const discard = (): void => undefined;

export async function runUdpAssociate(ctx: CommandContext): Promise<void> {
  const { conn, destination } = ctx;
  const options = conn.server.options;
  // The session's client: the socket's peer, or the real client a trusted PROXY header named (a
  // load balancer relays the TCP connection; the datagrams come from the client itself).
  const clientAddress = canonicalIp(conn.record.clientAddress);
  const localAddress = canonicalIp(conn.socket.localAddress ?? '');
  // Rules that allow no destination at all for this client/user refuse the association up front;
  // otherwise every datagram's destination is checked in the relay.
  const policy = conn.policy('udp');
  if (policy.fixed?.action === 'deny') {
    ctx.fail(new NotAllowedError(policy.fixed.rule, 'UDP ASSOCIATE'));
    return;
  }
  if (policy.fixed !== undefined) conn.record.rule = policy.fixed.rule.name;
  let opened: AssociationSocket;
  try {
    opened = await openAssociationSocket(options.udpPorts);
  } catch (err) {
    ctx.fail(err);
    return;
  }
  if (conn.closing) {
    opened.socket.close();
    return;
  }
  if (!opened.dual && clientAddress.includes(':')) {
    opened.socket.close();
    ctx.fail(
      new SocksDialError(
        udpErrorCodes.family,
        'this host cannot open an IPv6 UDP socket',
        Reply.AddressTypeNotSupported,
      ),
    );
    return;
  }
  const stats: UdpStats = {
    datagramsUp: 0,
    bytesUp: 0,
    datagramsDown: 0,
    bytesDown: 0,
    dropped: {},
  };
  conn.record.udp = stats;
  conn.record.remote = formatHostPort(localAddress, opened.port);
  ctx.succeed({ address: advertisedAddress(options, localAddress), port: opened.port });

  const relay = new UdpRelay(opened.socket, {
    clientAddress,
    clientPort: destination.port === 0 ? undefined : destination.port,
    dual: opened.dual,
    idleTimeout: options.udpIdleTimeout,
    reassembly: options.udpReassembly
      ? {
          timeout: options.udpReassemblyTimeout,
          maxDatagramSize: options.udpMaxDatagramSize,
          budget: budgetFor(conn.server),
        }
      : undefined,
    resolver: options.resolver,
    policy,
    protection: conn.protection,
    batch: datagramBatch(),
    counters: stats,
    onDrop: (reason, count, from) => {
      publish(channels.udpDropped, () => ({ session: conn.record, reason, count, from }));
    },
    onIdle: () => {
      conn.closeWith(undefined, 'udp-idle-timeout');
    },
  });
  // Every way the connection ends (close, reset, closeWith, drain) aborts its signal.
  conn.signal.addEventListener('abort', () => relay.close(), { once: true });

  // The control connection carries nothing more; whatever the client sends on it is read and
  // discarded (so it cannot stall), and its FIN ends the association. Read through conn.stream:
  // on a protected session that is the encapsulation layer, which checks every message.
  const pending = ctx.takePending();
  const stream = conn.stream;
  stream.on('data', discard);
  stream.once('end', () => {
    conn.closeWith(undefined, 'client-closed');
  });
  if (pending.ended || stream.readableEnded) conn.closeWith(undefined, 'client-closed');
  else stream.resume();
}
