/**
 * Turns the library's diagnostics_channel events into pino JSON lines: a startup line naming every
 * listening address, and one access line per session when it ends. Passwords never reach here.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import {
  channelNames,
  type ClosedEvent,
  type ClosingEvent,
  type ConnectionRejectedEvent,
  type AuthThrottledEvent,
  type HttpRequestEvent,
  type ListeningEvent,
  type BindRefusedEvent,
  type SessionEvent,
} from '../observability/channels.js';

export const logLevels: readonly LevelWithSilent[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];

/**
 * A logger writing JSON lines to stdout or a file. Synchronous writes keep lines in order and
 * lose none at exit (one line per session is cheap). `reopen()` reopens the file (log rotation).
 */
export function createLogger(
  level: LevelWithSilent,
  file?: string,
): { log: Logger; reopen: () => void } {
  const destination = pino.destination({ dest: file ?? 1, sync: true, mkdir: file !== undefined });
  const log = pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    destination,
  );
  return {
    log,
    reopen: () => {
      if (file !== undefined) destination.reopen();
    },
  };
}

/** Subscribes the logger to the server's channels; returns a function that unsubscribes. */
export function wireServerLogs(log: Logger): () => void {
  const subs: [string, (message: unknown) => void][] = [
    [
      channelNames.serverListening,
      (m) => {
        const e = m as ListeningEvent;
        log.info(
          {
            event: 'listening',
            addresses: e.addresses.map((a) =>
              a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`,
            ),
          },
          'ferry is listening',
        );
      },
    ],
    [
      channelNames.serverClosing,
      (m) => {
        const e = m as ClosingEvent;
        log.info(
          { event: 'draining', active: e.active, drainTimeoutMs: e.drainTimeout },
          'stopped accepting; draining sessions',
        );
      },
    ],
    [
      channelNames.serverClosed,
      (m) => {
        const e = m as ClosedEvent;
        log.info({ event: 'closed', forced: e.forced }, 'ferry stopped');
      },
    ],
    [
      channelNames.connectionRejected,
      (m) => {
        const e = m as ConnectionRejectedEvent;
        log.warn(
          { event: 'rejected', reason: e.reason, client: e.remoteAddress },
          'connection rejected',
        );
      },
    ],
    [
      channelNames.authThrottled,
      (m) => {
        const e = m as AuthThrottledEvent;
        log.warn(
          {
            event: 'auth-throttled',
            client: e.clientAddress,
            failures: e.failures,
            windowMs: e.window,
          },
          'too many failed logins from this address: further attempts fail at once until the window ends',
        );
      },
    ],
    [
      channelNames.sessionEnd,
      (m) => {
        // One per session: at a level above info, skip building a line pino would drop.
        if (!log.isLevelEnabled('info')) return;
        const s = (m as SessionEvent).session;
        log.info(
          {
            event: 'access',
            id: s.id,
            dialect: s.dialect,
            client: s.clientAddress.includes(':')
              ? `[${s.clientAddress}]:${s.clientPort}`
              : `${s.clientAddress}:${s.clientPort}`,
            method: s.method,
            ...(s.protection === undefined ? {} : { protection: s.protection }),
            user: s.user,
            userId: s.userId,
            command: s.command,
            destination: s.destination,
            remote: s.remote,
            rule: s.rule,
            reply: s.reply,
            httpMethod: s.httpMethod,
            httpStatus: s.httpStatus,
            httpRequests: s.dialect === 'http' ? s.httpRequests : undefined,
            bytesUp: s.bytesUp,
            bytesDown: s.bytesDown,
            durationMs: s.duration,
            end: s.endReason,
            error: s.error,
            // BIND: peers refused for coming from another address than the one named.
            ...(s.bindRefused !== undefined ? { bindRefused: s.bindRefused } : {}),
            // UDP ASSOCIATE: the association's datagrams and DATA octets each way, drops by reason.
            ...(s.udp !== undefined
              ? {
                  datagramsUp: s.udp.datagramsUp,
                  datagramsDown: s.udp.datagramsDown,
                  udpBytesUp: s.udp.bytesUp,
                  udpBytesDown: s.udp.bytesDown,
                  dropped: s.udp.dropped,
                }
              : {}),
          },
          'session',
        );
      },
    ],
    [
      channelNames.bindRefused,
      (m) => {
        const e = m as BindRefusedEvent;
        log.warn(
          {
            event: 'bind-refused',
            id: e.session.id,
            peer: e.peerAddress.includes(':')
              ? `[${e.peerAddress}]:${e.peerPort}`
              : `${e.peerAddress}:${e.peerPort}`,
            expected: e.expected,
          },
          'BIND: refused a connection from an unexpected peer',
        );
      },
    ],
    [
      channelNames.httpRequest,
      (m) => {
        const e = m as HttpRequestEvent;
        log.info(
          {
            event: 'http-request',
            id: e.session.id,
            user: e.session.user,
            method: e.method,
            destination: e.destination,
            status: e.status,
            bytesUp: e.bytesUp,
            bytesDown: e.bytesDown,
            durationMs: e.durationMs,
            error: e.error,
          },
          'http request',
        );
      },
    ],
  ];
  for (const [name, fn] of subs) diagnosticsChannel.subscribe(name, fn);
  return () => {
    for (const [name, fn] of subs) diagnosticsChannel.unsubscribe(name, fn);
  };
}
