/** `ferry serve`: flags → server options → the library, with logs and signal handling. */
import { Command, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { createServer, isLoopbackHost } from '../server/server.js';
import { serverDefaults } from '../server/options.js';
import { UserDatabase } from '../auth/users.js';
import { createLogger, logLevels, wireServerLogs } from './log.js';
import {
  collect,
  parseDuration,
  parseListenAddress,
  parsePositiveInt,
  parseProtocols,
} from './parse.js';
import { CliError } from './errors.js';

interface ServeFlags {
  listen?: { host: string; port: number }[];
  users?: string;
  handshakeTimeout?: number;
  connectTimeout?: number;
  idleTimeout?: number;
  maxConnections?: number;
  drainTimeout?: number;
  logLevel: LevelWithSilent;
  insecureOpenProxy?: boolean;
  protocols?: ('socks5' | 'socks4' | 'http')[];
  httpMaxHeaderSize?: number;
}

const ms = (n: number): string =>
  n % 3_600_000 === 0 ? `${n / 3_600_000}h` : n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`;

export function serveCommand(): Command {
  return new Command('serve')
    .description(
      'run the proxy server (SOCKS5, SOCKS4/4a and HTTP on one port, 127.0.0.1:1080 by default)',
    )
    .option(
      '--listen <host:port>',
      'address to listen on; repeatable; [::1]:1080 for IPv6 (default: 127.0.0.1:1080)',
      collect(parseListenAddress),
    )
    .option(
      '--users <file>',
      'users file (name:scrypt-hash per line); requires username/password (RFC 1929)',
    )
    .option(
      '--handshake-timeout <duration>',
      `deadline from accept to reply (default: ${ms(serverDefaults.handshakeTimeout)})`,
      parseDuration,
    )
    .option(
      '--connect-timeout <duration>',
      `outgoing connect timeout (default: ${ms(serverDefaults.connectTimeout)})`,
      parseDuration,
    )
    .option(
      '--idle-timeout <duration>',
      `close tunnels idle this long; 0 = never (default: ${ms(serverDefaults.idleTimeout)})`,
      parseDuration,
    )
    .option(
      '--max-connections <n>',
      `concurrent client connections (default: ${serverDefaults.maxConnections})`,
      parsePositiveInt,
    )
    .option(
      '--drain-timeout <duration>',
      `on SIGTERM/SIGINT, time for sessions to finish (default: ${ms(serverDefaults.drainTimeout)})`,
      parseDuration,
    )
    .option(
      '--protocols <list>',
      'dialects to answer, comma-separated: socks5,socks4,http (default: all)',
      parseProtocols,
    )
    .option(
      '--http-max-header-size <bytes>',
      `HTTP request head cap; beyond it 431 (default: ${serverDefaults.httpMaxHeaderSize})`,
      parsePositiveInt,
    )
    .addOption(new Option('--log-level <level>', 'log level').choices(logLevels).default('info'))
    .option(
      '--insecure-open-proxy',
      'allow listening beyond loopback WITHOUT authentication (an open proxy: anyone who can reach it can use it)',
    )
    .action(async (flags: ServeFlags) => {
      await serve(flags);
    });
}

async function serve(flags: ServeFlags): Promise<void> {
  const users =
    flags.users === undefined
      ? undefined
      : await UserDatabase.load(flags.users).catch((err: unknown) => {
          throw new CliError(`${err instanceof Error ? err.message : String(err)}.`, 2);
        });
  const log = createLogger(flags.logLevel);
  const server = createServer({
    users,
    handshakeTimeout: flags.handshakeTimeout,
    connectTimeout: flags.connectTimeout,
    idleTimeout: flags.idleTimeout,
    maxConnections: flags.maxConnections,
    drainTimeout: flags.drainTimeout,
    insecureOpenProxy: flags.insecureOpenProxy,
    protocols: flags.protocols,
    httpMaxHeaderSize: flags.httpMaxHeaderSize,
  });
  const listen = flags.listen ?? [{ host: '127.0.0.1', port: 1080 }];
  wireServerLogs(log);
  try {
    await server.listen(listen);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_SOCKS_INVALID_OPTION') {
      throw new CliError(
        `${e.message.replace('insecureOpenProxy', '--insecure-open-proxy').replace('configure users', 'pass --users FILE')}.`,
        2,
      );
    }
    throw new CliError(`cannot listen: ${e.message}.`, 1);
  }
  if (users === undefined && listen.some((a) => !isLoopbackHost(a.host))) {
    log.warn(
      { event: 'open-proxy' },
      'WARNING: listening beyond loopback with no authentication: this is an open proxy',
    );
  }
  let signals = 0;
  const stop = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      log.warn({ event: 'forced-exit', signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ event: 'signal', signal }, 'shutting down');
    void server.close().then(() => {
      log.flush();
      process.exit(0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
