/**
 * BIND (RFC 1928 §4 "BIND"; SOCKS4 uses the same two-reply exchange): listen for one connection
 * from the application server the client names, then relay exactly as CONNECT does.
 *
 * 1. DST.ADDR is checked by the access rules as a CONNECT destination is (a name is resolved,
 *    and only its allowed addresses may connect later). Then where to listen: on the local address
 *    this host uses toward DST.ADDR (the configured `outbound` source address of that family, else
 *    a routing probe, see src/dial/local-address.ts), in DST.ADDR's family — the peer is going to
 *    connect to the address we report, so it must be the one on the route toward the peer. For an
 *    unspecified DST.ADDR (`0.0.0.0`/`::`: "any peer") there is no route to ask about; the address
 *    the client reached us on is used when it has the family, else the family's wildcard.
 * 2. First reply: that socket's real address and port, or `externalAddress` behind NAT.
 * 3. Each connection is checked: when DST.ADDR is a specific address (or a name, resolved), a
 *    connection from any other IP is refused; any peer is also checked by the rules
 *    (`checkAddress`). A refused peer is closed with a reset, counted in the session record
 *    (`bindRefused`), published on `ferry:bind:refused`, and the wait goes on. DST.PORT is not
 *    checked: clients send the application server's control port (FTP: 21) while its data
 *    connection comes from another (20, or ephemeral in passive-less setups).
 * 4. Second reply: the peer's address and port; then `conn.startRelay`.
 * 5. `bindTimeout` without a good peer: a full-length `06` and close. The client closing (or
 *    half-closing: a FIN while nothing can be relayed yet means it has given up) closes the
 *    listener at once; so does the server's drain.
 *
 * Dialect-agnostic: only `ctx.succeed/fail/takePending` and `conn` are used, so SOCKS4 BIND runs
 * this too.
 */
import net from 'node:net';
import { Reply } from '../../protocol/constants.js';
import { formatHostPort, type SocksAddress } from '../../protocol/address.js';
import { SocksDialError } from '../../errors.js';
import { localAddressToward } from '../../dial/local-address.js';
import { resolveAllowed } from '../../dial/destination.js';
import type { SessionPolicy } from '../../rules/index.js';
import { channels, publish } from '../../observability/channels.js';
import type { CommandContext } from './context.js';
import type { Connection } from '../connection.js';
import { canonicalIp, ipFamily, isUnspecified } from '../../dial/ip-text.js';
import { advertisedAddress } from './addresses.js';

export const bindErrorCodes = {
  timeout: 'ERR_SOCKS_BIND_TIMEOUT',
} as const;

interface BindPlan {
  readonly family: 4 | 6;
  /** Where to listen. */
  readonly host: string;
  /** Canonical peer addresses allowed; undefined = any (each still checked by the rules). */
  readonly expected: ReadonlySet<string> | undefined;
  /** The access policy for this session's peers. */
  readonly policy: SessionPolicy;
}

const ignore = (): void => undefined;

export async function runBind(ctx: CommandContext): Promise<void> {
  const { conn } = ctx;
  // A function, not the property: TypeScript would keep an earlier narrowing across the awaits.
  const gone = (): boolean => conn.closing;
  let listener: net.Server;
  let plan: BindPlan;
  try {
    plan = await planBind(conn, ctx.destination);
    if (gone()) return;
    listener = await listen(plan);
  } catch (err) {
    ctx.fail(err);
    return;
  }
  if (gone()) {
    listener.close();
    return;
  }
  const bound = listener.address() as net.AddressInfo;
  ctx.succeed({ address: advertisedAddress(conn.server.options, bound.address), port: bound.port });
  new BindWait(ctx, listener, plan);
}

/**
 * Where to listen and whom to accept. A named peer is checked by the access rules like a CONNECT
 * destination (a name is resolved; only its allowed addresses may connect); "any peer" defers the
 * check to each connection.
 */
async function planBind(conn: Connection, destination: SocksAddress): Promise<BindPlan> {
  const options = conn.server.options;
  const policy = conn.policy('bind');
  if (isUnspecified(destination.host)) {
    const family = destination.type === 'ipv6' ? 6 : 4;
    const local = canonicalIp(conn.socket.localAddress ?? '');
    const sameFamily = local !== '' && ipFamily(local) === family;
    return {
      family,
      host: sameFamily ? local : family === 6 ? '::' : '0.0.0.0',
      expected: undefined,
      policy,
    };
  }
  const checked = await resolveAllowed(
    policy,
    options.resolver,
    destination.host,
    destination.port,
    { signal: conn.signal },
  );
  conn.record.rule = checked.verdict.rule.name;
  const first = checked.addresses[0];
  if (first === undefined) {
    throw Object.assign(new Error(`no address for ${destination.host}`), { code: 'ENOTFOUND' });
  }
  // A configured source address is, by definition, the one the server uses toward peers.
  const outbound = first.family === 6 ? options.outbound.ipv6 : options.outbound.ipv4;
  return {
    family: first.family,
    host: outbound ?? (await localAddressToward(first.address, first.family, destination.port)),
    expected: new Set(checked.addresses.map((a) => canonicalIp(a.address))),
    policy,
  };
}

function listen(plan: BindPlan): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // ipv6Only keeps a `::` listener to DST.ADDR's family; it is moot for a specific address.
    server.listen(
      { host: plan.host, port: 0, ipv6Only: plan.family === 6, exclusive: true },
      () => {
        server.off('error', reject);
        server.on('error', ignore);
        resolve(server);
      },
    );
  });
}

/** The wait between the two replies: one good peer, the timeout, or the client giving up. */
class BindWait {
  readonly #ctx: CommandContext;
  readonly #conn: Connection;
  readonly #listener: net.Server;
  readonly #plan: BindPlan;
  readonly #timer: NodeJS.Timeout;
  #done = false;

  constructor(ctx: CommandContext, listener: net.Server, plan: BindPlan) {
    this.#ctx = ctx;
    this.#conn = ctx.conn;
    this.#listener = listener;
    this.#plan = plan;
    listener.on('connection', this.#onPeer);
    this.#timer = setTimeout(this.#onTimeout, this.#conn.server.options.bindTimeout);
    this.#conn.signal.addEventListener('abort', this.#onAbort);
    // A paused socket still emits 'end' once its buffer is empty; if the FIN already went by
    // (during the handshake), readableEnded says so.
    this.#conn.socket.on('end', this.#onClientEnd);
    if (this.#conn.socket.readableEnded) this.#onClientEnd();
    else if (this.#conn.closing) this.#onAbort();
  }

  readonly #onPeer = (peer: net.Socket): void => {
    peer.on('error', ignore);
    const address = peer.remoteAddress;
    const port = peer.remotePort;
    if (this.#done || address === undefined || port === undefined) {
      peer.destroy();
      return;
    }
    const ip = canonicalIp(address);
    if (this.#plan.expected !== undefined && !this.#plan.expected.has(ip)) {
      this.#refuse(peer, ip, port, 'address');
      return;
    }
    if (this.#plan.policy.checkAddress(ip, port).action === 'deny') {
      this.#refuse(peer, ip, port, 'rule');
      return;
    }
    this.#finish();
    const conn = this.#conn;
    if (conn.closing) {
      peer.destroy();
      return;
    }
    peer.off('error', ignore);
    peer.setNoDelay(true);
    conn.record.remote = formatHostPort(ip, port);
    this.#ctx.succeed({ address: ip, port });
    conn.startRelay(peer, this.#ctx.takePending());
  };

  #refuse(peer: net.Socket, ip: string, port: number, reason: 'address' | 'rule'): void {
    const conn = this.#conn;
    conn.record.bindRefused = (conn.record.bindRefused ?? 0) + 1;
    publish(channels.bindRefused, () => ({
      session: conn.record,
      peerAddress: ip,
      peerPort: port,
      reason,
      expected: [...(this.#plan.expected ?? [])],
    }));
    // A reset tells the intruder plainly that nobody is listening for it.
    peer.resetAndDestroy();
  }

  readonly #onTimeout = (): void => {
    if (this.#done) return;
    this.#finish();
    this.#conn.record.endReason ??= 'bind-timeout';
    this.#ctx.fail(
      new SocksDialError(
        bindErrorCodes.timeout,
        `no connection from the peer within ${this.#conn.server.options.bindTimeout} ms`,
        Reply.TtlExpired,
      ),
    );
  };

  readonly #onClientEnd = (): void => {
    if (this.#done) return;
    this.#finish();
    this.#conn.closeWith(undefined, 'client-closed');
  };

  readonly #onAbort = (): void => {
    this.#finish();
  };

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#timer);
    this.#listener.off('connection', this.#onPeer);
    // Connections accepted in the same tick as the good one (or as the close) are not kept.
    this.#listener.on('connection', (late: net.Socket) => late.destroy());
    this.#listener.close();
    this.#conn.signal.removeEventListener('abort', this.#onAbort);
    this.#conn.socket.off('end', this.#onClientEnd);
  }
}
