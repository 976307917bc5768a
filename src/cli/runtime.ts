/**
 * The running server process: configuration (file + flags), logs, admin endpoint, and the
 * signals — SIGINT/SIGTERM drain and exit, SIGHUP reload (config and users file, validated, swapped
 * atomically; a bad one is refused and the old one keeps running) and log reopening.
 */
import { watch } from 'node:fs';
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry } from 'prom-client';
import { reportListening, runPrimary } from './cluster.js';
import { basename, dirname } from 'node:path';
import { createServer, isLoopbackHost, type FerryServer } from '../server/server.js';
import { UserDatabase } from '../auth/users.js';
import { loadConfig, mergeConfig, serverOptionsFrom } from '../config/load.js';
import type { FerryConfig } from '../config/schema.js';
import { createMetrics } from '../observability/metrics.js';
import { startAdmin, type AdminServer } from '../observability/admin.js';
import { createLogger, wireServerLogs } from './log.js';
import { CliError } from './errors.js';

const DEFAULT_LISTEN = [{ host: '127.0.0.1', port: 1080 }];

interface Loaded {
  readonly config: FerryConfig;
  readonly users: UserDatabase | undefined;
}

/** Reads the config file (if any) under the flags, and the users file it names. */
/** What the command line says beyond the config file's keys. */
export interface CommandLine {
  readonly configPath: string | undefined;
  /** Config keys given as flags; they override the file. */
  readonly flags: FerryConfig;
  /** `--proxy-protocol`: every listener expects a PROXY header from `trustedProxies`. */
  readonly proxyProtocol: boolean;
}

async function load(cli: CommandLine): Promise<Loaded> {
  const file = cli.configPath === undefined ? {} : await loadConfig(cli.configPath);
  let config = mergeConfig(file, cli.flags);
  if (cli.proxyProtocol) {
    config = {
      ...config,
      listen: (config.listen ?? DEFAULT_LISTEN).map((a) => ({ ...a, proxyProtocol: true })),
    };
  }
  const users = config.users === undefined ? undefined : await UserDatabase.load(config.users);
  return { config, users };
}

const sameListen = (a: FerryConfig['listen'], b: FerryConfig['listen']): boolean =>
  JSON.stringify(a ?? DEFAULT_LISTEN) === JSON.stringify(b ?? DEFAULT_LISTEN);

/** One line, ending with a period: library messages may span lines (GSS-API minor status). */
function sentence(message: string): string {
  const line = message.split('\n', 1)[0] ?? message;
  return /[.!?]$/.test(line) ? line : `${line}.`;
}

export async function runServer(cli: CommandLine): Promise<void> {
  const { configPath } = cli;
  let loaded: Loaded;
  try {
    loaded = await load(cli);
  } catch (err) {
    throw new CliError(
      `${(err as Error).message}${(err as Error).message.endsWith('.') ? '' : '.'}`,
      2,
    );
  }
  const { log, reopen } = createLogger(loaded.config.log?.level ?? 'info', loaded.config.log?.file);
  let server: FerryServer;
  try {
    const options = serverOptionsFrom(loaded.config, loaded.users);
    server = createServer(options);
    // GSS-API: load the library and read the keytab now, so that a machine without them (or a
    // bad keytab) fails in one line before anything listens or forks.
    await server.prepare(options);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const what = e.code === 'ERR_SOCKS_GSSAPI' ? 'cannot acquire the GSS-API credential: ' : '';
    throw new CliError(sentence(`${what}${e.message}`), 2);
  }
  const workers =
    loaded.config.workers === 'auto' ? availableParallelism() : (loaded.config.workers ?? 1);
  const adminAt = (a: FerryConfig['admin']): { host: string; port: number } | undefined =>
    a === undefined ? undefined : typeof a === 'number' ? { host: '127.0.0.1', port: a } : a;
  if (workers > 1 && cluster.isPrimary) {
    await runPrimary({
      workers,
      balance: loaded.config.balance,
      log,
      admin: adminAt(loaded.config.admin),
    });
    return;
  }
  wireServerLogs(log);
  const listen = loaded.config.listen ?? DEFAULT_LISTEN;
  try {
    await server.listen(listen);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_SOCKS_INVALID_OPTION') {
      throw new CliError(
        `${e.message.replace('insecureOpenProxy', '--insecure-open-proxy').replace('configure users or rules', 'pass --users FILE or configure rules')}.`,
        2,
      );
    }
    if (e.code?.startsWith('ERR_SOCKS_GSSAPI') === true) throw new CliError(sentence(e.message), 2);
    throw new CliError(`cannot listen: ${e.message}.`, 1);
  }
  if (
    loaded.users === undefined &&
    loaded.config.gssapi === undefined &&
    listen.some((a) => !isLoopbackHost(a.host))
  ) {
    log.warn(
      { event: 'open-proxy' },
      'WARNING: listening beyond loopback with no authentication: this is an open proxy',
    );
  }

  reportListening();

  let admin: AdminServer | undefined;
  const where = adminAt(loaded.config.admin);
  if (where !== undefined && cluster.isWorker) {
    // The primary serves /metrics and asks each worker for its registry over IPC.
    // (prom-client installs the worker's IPC listener only when an AggregatorRegistry is built.)
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([createMetrics(server).registry]);
  } else if (where !== undefined) {
    const metrics = createMetrics(server);
    try {
      admin = await startAdmin({
        ...where,
        registry: metrics.registry,
        ready: () => !server.closing,
      });
    } catch (err) {
      await server.close({ drainTimeout: 0 });
      throw new CliError(`cannot listen for the admin endpoint: ${(err as Error).message}.`, 1);
    }
    const a = admin.address;
    log.info(
      {
        event: 'admin',
        address: a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`,
      },
      'admin endpoint (/metrics, /healthz, /readyz)',
    );
  }

  let reloading = Promise.resolve();
  const reload = (trigger: string): void => {
    reloading = reloading.then(async () => {
      reopen();
      try {
        const next = await load(cli);
        const options = serverOptionsFrom(next.config, next.users);
        await server.prepare(options);
        server.reconfigure(options);
        log.level = next.config.log?.level ?? 'info';
        const restartOnly = [
          sameListen(next.config.listen, loaded.config.listen) ? undefined : 'listen',
          ...(['admin', 'workers', 'balance'] as const).filter(
            (k) => JSON.stringify(next.config[k]) !== JSON.stringify(loaded.config[k]),
          ),
        ].filter((k) => k !== undefined);
        if (restartOnly.length > 0) {
          log.warn(
            { event: 'reload-needs-restart', keys: restartOnly },
            `${restartOnly.join(', ')} change only on restart; the rest was applied`,
          );
        }
        loaded = next;
        log.info(
          { event: 'reloaded', trigger, users: next.users?.size ?? 0 },
          'configuration reloaded',
        );
      } catch (err) {
        log.error(
          { event: 'reload-rejected', trigger, error: (err as Error).message },
          'new configuration rejected; the old one keeps running',
        );
      }
    });
  };

  if (configPath !== undefined && loaded.config.watch === true) {
    let timer: NodeJS.Timeout | undefined;
    // Editors save by writing a new file and renaming it over the old one, which a watch on the
    // file itself would miss: watch its directory, filter by name, debounce bursts of events.
    const name = basename(configPath);
    watch(dirname(configPath), { persistent: false }, (_event, changed) => {
      if (changed !== name) return;
      clearTimeout(timer);
      timer = setTimeout(() => reload('watch'), 200);
    });
  }

  let signals = 0;
  const stop = (signal: NodeJS.Signals): void => {
    // In a cluster the primary forwards signals, and Ctrl-C reaches every process of the group:
    // a worker drains once and leaves escalation to the primary.
    if (++signals > 1 && cluster.isWorker) return;
    if (signals > 1) {
      log.warn({ event: 'forced-exit', signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ event: 'signal', signal }, 'shutting down');
    void server.close().then(async () => {
      await admin?.close();
      log.flush();
      process.exit(0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', () => reload('SIGHUP'));
}
