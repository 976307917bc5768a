/**
 * One bench run's machinery: the targets and load generator processes, the contestants, and one
 * measurement of one test against one contestant (with the proxy's CPU and event-loop lag).
 */
import { join } from 'node:path';
import type { BenchOptions, TestName } from './args.js';
import type { ContestantSpec, LaunchContext } from './contestants.js';
import { callLoadgen, readLag, resetLag } from './ipc.js';
import {
  fdLimitOf,
  freePort,
  logTail,
  spawnManaged,
  stopManaged,
  treeStats,
  waitForListening,
  type Managed,
  type TreeStats,
} from './processes.js';
import type { MetricKey } from './report.js';
import type { Endpoint } from './socks5-client.js';
import type { TargetPorts } from './targets.js';
import {
  buildNative,
  nodeChild,
  runNative,
  startNativeTargets,
  startNodeTargets,
  type NativeTools,
} from './helpers.js';
import type { Job, LatencyResult, RateResult } from './workloads.js';

const HOST = '127.0.0.1';
const MiB = 1024 * 1024;

export interface Running {
  readonly spec: ContestantSpec;
  readonly proxy: Endpoint | null;
  readonly managed: Managed | undefined;
}

export interface Measurement {
  readonly values: Partial<Record<MetricKey, number>>;
  readonly errors: number;
  readonly firstError?: string | undefined;
  readonly lagP99Ms?: number | undefined;
  /** CPU used during the test, in % of one core: the proxy's tree, load generator, targets. */
  readonly cpuPct: { readonly proxy?: number; readonly loadgen: number; readonly targets: number };
  readonly extra?: Record<string, number | string>;
}

export class Runner {
  private constructor(
    readonly opts: BenchOptions,
    readonly ctx: LaunchContext,
    readonly targets: Managed,
    readonly ports: TargetPorts,
    readonly loadgen: Managed,
    readonly nofile: number,
    readonly native: NativeTools | undefined,
    /** RLIMIT_NOFILE the children really got (root without CAP_SYS_RESOURCE cannot raise it). */
    readonly fdLimit: number,
  ) {}

  static async start(
    opts: BenchOptions,
    ctx: LaunchContext,
    log: (line: string) => void,
  ): Promise<Runner> {
    const nofile = Math.max(65_536, 2 * ctx.maxTunnels + 8192);
    const native = opts.nodeTargets ? undefined : buildNative(ctx);
    if (!opts.nodeTargets && native === undefined) {
      log(
        'note: no C compiler (cc): the targets and the tunnels/s client run in Node.js, which lowers the direct baseline',
      );
    }
    const { targets, ports } =
      native === undefined
        ? await startNodeTargets(ctx, nofile)
        : await startNativeTargets(native.targets, ctx, nofile);
    const loadgen = nodeChild('loadgen', 'loadgen.ts', ctx, nofile);
    const fdLimit = fdLimitOf(targets.pid) ?? nofile;
    if (fdLimit < nofile) {
      log(
        `note: children get ${fdLimit} file descriptors, not ${nofile} (the hard limit cannot be raised here)`,
      );
    }
    return new Runner(opts, ctx, targets, ports, loadgen, nofile, native, fdLimit);
  }

  get echoDests(): Endpoint[] {
    return this.ports.echo.map((port) => ({ host: HOST, port }));
  }

  job<T>(job: Job, timeoutMs: number): Promise<T> {
    return callLoadgen<T>(this.loadgen.child, job, timeoutMs);
  }

  /** Starts a contestant on a fresh port and checks that one tunnel works through it. */
  async startContestant(spec: ContestantSpec): Promise<Running> {
    if (!spec.isProxy) return { spec, proxy: null, managed: undefined };
    const port = await freePort();
    const launch = spec.launch(port, this.ctx);
    const managed = spawnManaged(spec.name, launch.command, launch.args, {
      ...(launch.cwd === undefined ? {} : { cwd: launch.cwd }),
      ...(launch.env === undefined ? {} : { env: launch.env }),
      nofile: this.nofile,
      ipc: spec.node,
      logPath: join(this.ctx.tmpDir, `${spec.name}.log`),
    });
    const running: Running = { spec, proxy: { host: HOST, port }, managed };
    try {
      await waitForListening(managed, HOST, port, 15_000);
      const check = await this.job<LatencyResult>(
        {
          kind: 'handshake',
          proxy: running.proxy,
          dests: this.echoDests,
          durationMs: 3000,
          maxSamples: 3,
        },
        10_000,
      );
      if (check.errors > 0) throw new Error(`a test tunnel failed: ${check.firstError ?? '?'}`);
    } catch (err) {
      await stopManaged(managed);
      const tail = logTail(managed.logPath, 8);
      throw new Error(
        `${(err as Error).message}${tail === '' ? '' : `\n  ${spec.name} log:\n${tail}`}`,
        { cause: err },
      );
    }
    return running;
  }

  async stopContestant(r: Running): Promise<void> {
    if (r.managed !== undefined) await stopManaged(r.managed);
  }

  async stopAll(): Promise<void> {
    await Promise.all([stopManaged(this.loadgen), stopManaged(this.targets)]);
  }

  /** One test against one contestant; undefined when the contestant cannot do the test. */
  async measure(test: Exclude<TestName, 'idle'>, r: Running): Promise<Measurement | undefined> {
    if (test === 'udp' && !r.spec.udp) return undefined;
    const o = this.opts;
    const proxy = r.proxy;
    const timed = { warmupMs: o.warmupMs, durationMs: o.durationMs };
    const timeout = o.durationMs + o.warmupMs + 30_000;
    const before = this.cpu(r);
    if (r.managed !== undefined && r.spec.node) resetLag(r.managed.child);
    let values: Partial<Record<MetricKey, number>>;
    let loadgenCpu: number | undefined; // the native tunnels client reports its own
    let errors: number;
    let firstError: string | undefined;
    if (test === 'down1' || test === 'down8' || test === 'up1') {
      const down = test !== 'up1';
      const res = await this.job<RateResult>(
        {
          kind: 'throughput',
          proxy,
          dest: { host: HOST, port: down ? this.ports.source : this.ports.discard },
          direction: down ? 'down' : 'up',
          streams: test === 'down8' ? 8 : 1,
          ...timed,
        },
        timeout,
      );
      values = { [test]: res.perSec / MiB };
      ({ errors, firstError } = res);
    } else if (test === 'tunnels') {
      const res: RateResult & { cpuPct?: number } =
        this.native === undefined
          ? await this.job<RateResult>(
              {
                kind: 'tunnels',
                proxy,
                dests: this.echoDests,
                concurrency: o.tunnelConcurrency,
                ...timed,
              },
              timeout,
            )
          : await runNative(
              this.native,
              'tunnels',
              [
                proxy?.port ?? 0,
                this.ports.echo.join(','),
                o.tunnelConcurrency,
                o.warmupMs,
                o.durationMs,
                5000,
              ],
              timeout,
            );
      values = { tunnelsPerSec: res.perSec };
      ({ errors, firstError } = res);
      loadgenCpu = res.cpuPct;
    } else if (test === 'handshake') {
      const res = await this.job<LatencyResult>(
        {
          kind: 'handshake',
          proxy,
          dests: this.echoDests,
          durationMs: o.latencyMs,
          maxSamples: 20_000,
        },
        timeout,
      );
      values = { handshakeP50: res.p50 * 1000, handshakeP99: res.p99 * 1000 };
      ({ errors, firstError } = res);
    } else if (test === 'rtt') {
      const res = await this.job<LatencyResult>(
        {
          kind: 'rtt',
          proxy,
          dest: this.echoDests[0]!,
          durationMs: o.latencyMs,
          maxSamples: 100_000,
        },
        timeout,
      );
      values = { rttP50: res.p50 * 1000, rttP99: res.p99 * 1000 };
      ({ errors, firstError } = res);
    } else {
      const res: RateResult & { cpuPct?: number } =
        this.native === undefined
          ? await this.job<RateResult>(
              {
                kind: 'udp',
                proxy,
                dest: { host: HOST, port: this.ports.udpEcho },
                window: o.udpWindow,
                size: o.udpSize,
                ...timed,
              },
              timeout,
            )
          : await runNative(
              this.native,
              'udp',
              [
                proxy?.port ?? 0,
                this.ports.udpEcho,
                o.udpWindow,
                o.udpSize,
                o.warmupMs,
                o.durationMs,
              ],
              timeout,
            );
      values = { udpPerSec: res.perSec };
      ({ errors, firstError } = res);
      loadgenCpu = res.cpuPct;
    }
    // A test that failed outright (e.g. UDP ASSOCIATE refused) has no figure, not a zero one.
    if (errors > 0 && Object.values(values).every((v) => !(v > 0))) {
      for (const k of Object.keys(values) as MetricKey[]) values[k] = Number.NaN;
    }
    const lag = r.managed !== undefined && r.spec.node ? await readLag(r.managed.child) : undefined;
    const cpu = this.cpuSince(before, r);
    return {
      values,
      errors,
      firstError,
      lagP99Ms: lag?.p99 ?? undefined,
      cpuPct: { ...cpu, loadgen: loadgenCpu ?? cpu.loadgen },
    };
  }

  /** CPU counters of the proxy, load generator and targets, to diff with {@link cpuSince}. */
  cpu(r: Running): {
    at: number;
    proxy?: TreeStats;
    loadgen: TreeStats;
    targets: TreeStats;
  } {
    return {
      at: performance.now(),
      ...(r.managed === undefined ? {} : { proxy: treeStats(r.managed.pid) }),
      loadgen: treeStats(this.loadgen.pid),
      targets: treeStats(this.targets.pid),
    };
  }

  cpuSince(before: ReturnType<Runner['cpu']>, r: Running): Measurement['cpuPct'] {
    const now = this.cpu(r);
    const seconds = (now.at - before.at) / 1000;
    const pct = (a: TreeStats | undefined, b: TreeStats | undefined): number =>
      a === undefined || b === undefined
        ? Number.NaN
        : ((b.cpuSeconds - a.cpuSeconds) / seconds) * 100;
    return {
      ...(before.proxy === undefined ? {} : { proxy: pct(before.proxy, now.proxy) }),
      loadgen: pct(before.loadgen, now.loadgen),
      targets: pct(before.targets, now.targets),
    };
  }
}
