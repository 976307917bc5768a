/**
 * CONNECT (RFC 1928 §4): dial the destination, answer with the outgoing socket's own address,
 * then relay. A failure becomes the reply its error maps to (src/errors.ts).
 */
import { dialTcp } from '../../dial/connect.js';
import { formatHostPort } from '../../protocol/address.js';
import type { CommandContext } from './context.js';

export async function runConnect(ctx: CommandContext): Promise<void> {
  const { conn, destination } = ctx;
  let upstream;
  const started = Date.now();
  try {
    upstream = await dialTcp(destination.host, destination.port, {
      timeout: conn.server.options.connectTimeout,
      signal: conn.signal,
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
  conn.record.remote = formatHostPort(upstream.remoteAddress ?? '', upstream.remotePort ?? 0);
  ctx.succeed({ address: upstream.localAddress ?? '0.0.0.0', port: upstream.localPort ?? 0 });
  conn.startRelay(upstream, ctx.takePending());
}
