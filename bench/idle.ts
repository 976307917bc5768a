/**
 * Memory per idle tunnel. On a freshly started proxy: warm up, read the RSS of its process tree,
 * open N tunnels (each echoes one byte once), let it settle, read the RSS again, check that every
 * tunnel is still open; (after - before) / N.
 *
 * Each tunnel costs one file descriptor in the load generator and one in the target, two in the
 * proxy. When N is more than one process may hold (RLIMIT_NOFILE, which root without
 * CAP_SYS_RESOURCE cannot raise), the load generator and targets are sharded: shard i is one more
 * load generator + target pair, connecting from 127.0.0.(i+1) so that every (source, proxy) pair
 * stays within the ~28 000 ephemeral ports. A single-process proxy is capped at what its own limit
 * allows, and the bench says so.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FD_RESERVE, idleCount, type ContestantSpec } from './contestants.js';
import { nodeChild, startNativeTargets, startNodeTargets } from './helpers.js';
import type { IdleJob, IdleResult } from './idle-workload.js';
import { callLoadgen } from './ipc.js';
import { stopManaged, treeStats, type Managed } from './processes.js';
import type { Measurement, Runner } from './runner.js';
import type { Endpoint } from './socks5-client.js';

const HOST = '127.0.0.1';

interface Shard {
  readonly loadgen: Managed;
  readonly targets: Managed | undefined; // undefined: the runner's own
  readonly echo: Endpoint[];
  readonly localAddresses: string[];
}

/** Extra shards live for the rest of the run once started (stopped by {@link stopIdleShards}). */
const extraShards: Shard[] = [];

async function shards(runner: Runner, count: number): Promise<Shard[]> {
  const perProcess = Math.max(1000, runner.fdLimit - FD_RESERVE);
  const needed = Math.ceil(count / perProcess);
  while (extraShards.length < needed - 1) {
    const i = extraShards.length + 1;
    const ctx = runner.ctx;
    const { targets, ports } =
      runner.native === undefined
        ? await startNodeTargets(ctx, runner.nofile, `targets-${i}`)
        : await startNativeTargets(runner.native.targets, ctx, runner.nofile, `targets-${i}`);
    extraShards.push({
      loadgen: nodeChild(`loadgen-${i}`, 'loadgen.ts', ctx, runner.nofile),
      targets,
      echo: ports.echo.map((port) => ({ host: HOST, port })),
      localAddresses: [`127.0.0.${i + 1}`],
    });
  }
  const first: Shard = {
    loadgen: runner.loadgen,
    targets: undefined,
    echo: runner.echoDests,
    localAddresses: [],
  };
  return [first, ...extraShards].slice(0, needed);
}

export async function stopIdleShards(): Promise<void> {
  await Promise.all(
    extraShards
      .splice(0)
      .flatMap((s) => [
        stopManaged(s.loadgen),
        ...(s.targets === undefined ? [] : [stopManaged(s.targets)]),
      ]),
  );
}

function sum(results: IdleResult[]): IdleResult {
  return {
    opened: results.reduce((a, r) => a + r.opened, 0),
    alive: results.reduce((a, r) => a + r.alive, 0),
    errors: results.reduce((a, r) => a + r.errors, 0),
    elapsedMs: Math.max(0, ...results.map((r) => r.elapsedMs)),
    firstError: results.find((r) => r.firstError !== undefined)?.firstError,
  };
}

export async function measureIdle(
  runner: Runner,
  spec: ContestantSpec,
  requested: number,
  log: (line: string) => void,
): Promise<Measurement> {
  const { count, why } = idleCount(spec, runner.ctx, requested, runner.fdLimit);
  if (why !== undefined) log(`  ${spec.name}: ${count} tunnels, not ${requested}: ${why}`);
  const fleet = await shards(runner, count);
  const r = await runner.startContestant(spec);
  const all = (job: IdleJob, timeoutMs: number): Promise<IdleResult[]> =>
    Promise.all(fleet.map((s) => callLoadgen<IdleResult>(s.loadgen.child, job, timeoutMs)));
  const open = async (n: number): Promise<IdleResult> => {
    const timeoutMs = Math.max(30_000, n * 2);
    return sum(
      await Promise.all(
        fleet.map((s, i) => {
          const share = Math.floor(n / fleet.length) + (i < n % fleet.length ? 1 : 0);
          return callLoadgen<IdleResult>(
            s.loadgen.child,
            {
              kind: 'idle-open',
              proxy: r.proxy,
              dests: s.echo,
              localAddresses: s.localAddresses,
              count: share,
              concurrency: 128,
              timeoutMs,
            },
            timeoutMs + 30_000,
          );
        }),
      ),
    );
  };
  try {
    const pid = r.managed!.pid;
    // Warm up (code paths, pools), then let it settle before the baseline.
    await open(Math.min(200, count));
    await all({ kind: 'idle-close' }, 30_000);
    await sleep(1000);
    const base = treeStats(pid, true);
    const before = runner.cpu(r);
    const opened = await open(count);
    log(
      `  ${spec.name}: ${opened.opened} tunnels open in ${(opened.elapsedMs / 1000).toFixed(1)} s` +
        (fleet.length > 1 ? ` (${fleet.length} load generators)` : '') +
        (opened.errors > 0 ? `, ${opened.errors} errors (${opened.firstError ?? '?'})` : ''),
    );
    await sleep(1500);
    const held = treeStats(pid, true);
    const check = sum(
      await all({ kind: 'idle-check', sample: Math.ceil(200 / fleet.length) }, 60_000),
    );
    await all({ kind: 'idle-close' }, 60_000);
    const n = Math.max(1, opened.opened);
    return {
      values: { idleKiB: (held.rssKiB - base.rssKiB) / n },
      errors: opened.errors + check.errors + (opened.opened - check.alive),
      firstError: opened.firstError ?? check.firstError,
      cpuPct: runner.cpuSince(before, r),
      extra: {
        requested,
        asked: count,
        tunnels: opened.opened,
        alive: check.alive,
        pssKiBPerTunnel: (held.pssKiB - base.pssKiB) / n,
        baseRssKiB: base.rssKiB,
        heldRssKiB: held.rssKiB,
        processes: held.processes,
        loadGenerators: fleet.length,
        logs: join(runner.ctx.tmpDir, `${spec.name}.log`),
      },
    };
  } finally {
    await runner.stopContestant(r);
  }
}
