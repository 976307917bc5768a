/**
 * `--workers N`: the primary process forks N workers that each run the server on the shared
 * listeners (node:cluster), serves the one admin endpoint (metrics aggregated over all workers),
 * passes SIGHUP on to every worker, replaces a worker that dies, and on SIGTERM/SIGINT lets
 * every worker drain before it exits. A UDP association lives in the worker that owns its TCP
 * control connection (its socket is bound `exclusive`, never shared through the primary).
 *
 * `balance` picks node:cluster's scheduling (issue 7, measured in bench/README.md). Round-robin
 * (the default): the primary accepts and hands each connection to the next worker — an even
 * spread, which 100 000 idle tunnels over 12 workers with 20 000 descriptors each needed. Kernel
 * (SCHED_NONE): every worker accepts on the shared socket — ~50 % more tunnels per second with 2
 * workers, since no connection crosses the primary, but the spread follows who wakes first.
 * Unset, Node's own NODE_CLUSTER_SCHED_POLICY decides, as before.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Logger } from 'pino';
import { startAdmin, type AdminServer } from '../observability/admin.js';
import { CliError } from './errors.js';

export interface PrimaryOptions {
  readonly workers: number;
  /** undefined: leave node:cluster's policy as NODE_CLUSTER_SCHED_POLICY set it. */
  readonly balance: 'round-robin' | 'kernel' | undefined;
  readonly log: Logger;
  readonly admin: { host: string; port: number } | undefined;
}

/** Restarts faster than this many per minute mean a crash loop: stop replacing and exit. */
const MAX_RESTARTS_PER_MINUTE = 10;

export async function runPrimary(options: PrimaryOptions): Promise<void> {
  const { log } = options;
  // Read by node:cluster at the first fork.
  if (options.balance !== undefined)
    cluster.schedulingPolicy = options.balance === 'kernel' ? cluster.SCHED_NONE : cluster.SCHED_RR;
  let stopping = false;
  const restarts: number[] = [];
  const fork = (): Worker => {
    const worker = cluster.fork({ FERRY_WORKER: '1' });
    log.info(
      { event: 'worker-started', worker: worker.id, workerPid: worker.process.pid },
      'worker started',
    );
    return worker;
  };
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      log.info({ event: 'worker-exited', worker: worker.id, code, signal }, 'worker exited');
      if (Object.keys(cluster.workers ?? {}).length === 0) void finish();
      return;
    }
    log.error(
      { event: 'worker-died', worker: worker.id, workerPid: worker.process.pid, code, signal },
      'worker died; starting a replacement',
    );
    const now = Date.now();
    restarts.push(now);
    while (restarts.length > 0 && now - (restarts[0] ?? now) > 60_000) restarts.shift();
    if (restarts.length > MAX_RESTARTS_PER_MINUTE) {
      log.fatal(
        { event: 'crash-loop', restarts: restarts.length },
        'workers keep dying; giving up',
      );
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
      process.exitCode = 1;
      return;
    }
    fork();
  });

  // Workers report when they listen; the primary's startup line waits for all of them.
  const listening = new Promise<void>((resolve, reject) => {
    let ready = 0;
    cluster.on('message', (_worker, message: unknown) => {
      if ((message as { type?: string }).type === 'ferry:listening' && ++ready === options.workers)
        resolve();
    });
    cluster.once('exit', (_w, code) => {
      if (ready < options.workers)
        reject(new CliError(`a worker exited with code ${String(code)} while starting.`, 1));
    });
  });
  for (let i = 0; i < options.workers; i++) fork();
  await listening;

  let admin: AdminServer | undefined;
  if (options.admin !== undefined) {
    const registry = new AggregatorRegistry();
    const aggregated = {
      contentType: registry.contentType,
      metrics: () => registry.clusterMetrics(),
    };
    admin = await startAdmin({ ...options.admin, registry: aggregated, ready: () => !stopping });
    const a = admin.address;
    log.info(
      {
        event: 'admin',
        address: a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`,
      },
      'admin endpoint (all workers)',
    );
  }
  log.info(
    {
      event: 'cluster',
      workers: options.workers,
      balance: cluster.schedulingPolicy === cluster.SCHED_NONE ? 'kernel' : 'round-robin',
    },
    'all workers listening',
  );

  const finish = async (): Promise<void> => {
    await admin?.close();
    log.info({ event: 'closed' }, 'ferry stopped');
    log.flush();
    process.exit(process.exitCode ?? 0);
  };
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'signal', signal }, 'draining all workers');
    const workers = Object.values(cluster.workers ?? {});
    if (workers.length === 0) void finish();
    // A terminal's Ctrl-C reaches the workers directly too; SIGTERM from a service manager
    // reaches only the primary. Either way each worker drains once.
    for (const w of workers) w?.process.kill('SIGTERM');
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => {
    log.info({ event: 'signal', signal: 'SIGHUP' }, 'reloading every worker');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
  });
}

/** In a worker: tell the primary that this worker is listening. */
export function reportListening(): void {
  if (cluster.isWorker) process.send?.({ type: 'ferry:listening' });
}
