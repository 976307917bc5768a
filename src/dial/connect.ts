/**
 * Outgoing TCP connections for CONNECT: Happy Eyeballs (RFC 8305, Node's autoSelectFamily), a
 * connect timeout that maps to reply 06, and an AbortSignal that tears the attempt down when the
 * client goes away.
 */
import net from 'node:net';
import { Reply } from '../protocol/constants.js';
import { SocksDialError } from '../errors.js';
import { channels, publish } from '../observability/channels.js';
import type { SessionRecord } from '../server/session-record.js';
import type { AbortLike } from './abort-like.js';

export interface DialOptions {
  /** Milliseconds before the attempt fails with ERR_SOCKS_CONNECT_TIMEOUT (reply 06). */
  readonly timeout: number;
  /** Tears the attempt down (an AbortSignal, or anything {@link AbortLike}). */
  readonly signal?: AbortLike | undefined;
  /** Source address for the outgoing socket. */
  readonly localAddress?: string | undefined;
  /** A `net.connect` lookup (e.g. one that hands over pre-resolved, checked addresses). */
  readonly lookup?: net.LookupFunction | undefined;
  /** The session this dial is for; only named in the `ferry:dial:start` event. */
  readonly session?: Readonly<SessionRecord> | undefined;
  /** Read into a caller's buffer instead of 'data' events (`net.connect`'s `onread`). */
  readonly onread?: net.OnReadOpts | undefined;
}

export const dialErrorCodes = {
  timeout: 'ERR_SOCKS_CONNECT_TIMEOUT',
  aborted: 'ERR_SOCKS_ABORTED',
} as const;

/**
 * Connects to host:port. Resolves with a connected, paused socket (allowHalfOpen, no Nagle).
 * Rejects with the socket's own error (errno `code`, or an AggregateError from Happy Eyeballs) or
 * a SocksDialError for timeout/abort; pass it to `replyForError`.
 */
export function dialTcp(host: string, port: number, options: DialOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted === true) {
      reject(new SocksDialError(dialErrorCodes.aborted, 'connect aborted', Reply.GeneralFailure));
      return;
    }
    publish(channels.dialStart, () => ({ session: options.session, host, port }));
    const socket = net.connect({
      host,
      port,
      allowHalfOpen: true,
      noDelay: true,
      autoSelectFamily: true,
      ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
      ...(options.lookup !== undefined ? { lookup: options.lookup } : {}),
      ...(options.onread !== undefined ? { onread: options.onread } : {}),
    });
    socket.pause();
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error): void => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onConnect = (): void => {
      cleanup();
      resolve(socket);
    };
    const onError = (err: Error): void => {
      fail(err);
    };
    const onAbort = (): void => {
      fail(new SocksDialError(dialErrorCodes.aborted, 'connect aborted', Reply.GeneralFailure));
    };
    const timer = setTimeout(() => {
      fail(
        new SocksDialError(
          dialErrorCodes.timeout,
          `connect to ${net.isIPv6(host) ? `[${host}]` : host}:${port} timed out after ${options.timeout} ms`,
          Reply.TtlExpired,
        ),
      );
    }, options.timeout);
    socket.once('connect', onConnect);
    socket.once('error', onError);
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
