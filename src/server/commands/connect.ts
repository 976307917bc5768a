/**
 * CONNECT (RFC 1928 §4): check the destination against the rules (on the resolved addresses),
 * dial exactly the checked addresses, answer with the outgoing socket's own address, then relay.
 * A failure becomes the reply its error maps to (src/errors.ts).
 */
import type { Socket } from 'node:net';
import { dialTcp } from '../../dial/connect.js';
import { resolveAllowed, type CheckedDestination } from '../../dial/destination.js';
import { lookupFor } from '../../dial/lookup.js';
import { UpstreamReader } from '../../relay/upstream-reader.js';
import { formatHostPort } from '../../protocol/address.js';
import type { OutboundAddresses } from '../options.js';
import type { CommandContext } from './context.js';

export async function runConnect(ctx: CommandContext): Promise<void> {
  const { conn, destination } = ctx;
  const options = conn.server.options;
  let upstream: Socket;
  let checked: CheckedDestination;
  const reader = new UpstreamReader();
  const started = Date.now();
  try {
    checked = await resolveAllowed(
      conn.policy('connect'),
      options.resolver,
      destination.host,
      destination.port,
      {
        signal: conn.closingSignal,
      },
    );
    conn.record.rule = checked.verdict.rule.name;
    upstream = await dialTcp(checked.host, checked.port, {
      timeout: options.connectTimeout,
      signal: conn.closingSignal,
      session: conn.record,
      onread: reader.onread,
      ...sourceFor(checked, options.outbound),
    });
  } catch (err) {
    conn.record.connectMs = Date.now() - started;
    ctx.fail(err);
    return;
  }
  conn.record.connectMs = Date.now() - started;
  if (conn.closing) {
    upstream.destroy();
    return;
  }
  // One checked address (an IP literal, or a name with one allowed address) is where the socket
  // went: no getpeername() needed. Among several, Happy Eyeballs picked one: ask the socket.
  const only = checked.addresses.length === 1 ? checked.addresses[0] : undefined;
  conn.record.remote =
    only !== undefined
      ? formatHostPort(only.address, checked.port)
      : formatHostPort(upstream.remoteAddress ?? '', upstream.remotePort ?? 0);
  ctx.succeed({ address: upstream.localAddress ?? '0.0.0.0', port: upstream.localPort ?? 0 });
  conn.startRelay(upstream, ctx.takePending(), reader);
}

/**
 * With a configured source address Node cannot run Happy Eyeballs across families (a socket is
 * bound to one family): connect to the first checked address's family only, from its address.
 */
export function sourceFor(
  checked: CheckedDestination,
  outbound: OutboundAddresses,
): { lookup?: CheckedDestination['lookup']; localAddress?: string } {
  const first = checked.addresses[0];
  const local =
    first === undefined ? undefined : first.family === 4 ? outbound.ipv4 : outbound.ipv6;
  if (local === undefined || first === undefined) return { lookup: checked.lookup };
  const sameFamily = checked.addresses.filter((a) => a.family === first.family);
  return { lookup: lookupFor(sameFamily), localAddress: local };
}
