/**
 * `npm run bench`: ferry against direct loopback, a naive Node proxy, Dante and microsocks, side
 * by side, interleaved round by round; prints progress, then medians and ratios. See README.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BenchUsageError,
  parseBenchArgs,
  usage,
  type BenchOptions,
  type ContestantName,
  type TestName,
} from './args.js';
import { contestantSpecs } from './contestants.js';
import {
  anchorsTable,
  compareAnchors,
  figuresTable,
  formatFigure,
  judgeTargets,
  metricDefs,
  pairwiseRatios,
  ratioTable,
  subjectTable,
  targetsTable,
  type Figures,
  type MetricKey,
} from './report.js';
import { Runner, type Measurement, type Running } from './runner.js';
import { measureIdle, stopIdleShards } from './idle.js';
import { cpuTable, spreadTable, type ContestantRecord } from './summary.js';
import { median } from './stats.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

function options(): BenchOptions {
  try {
    const o = parseBenchArgs(process.argv.slice(2));
    if (o.help) {
      out(usage);
      process.exit(0);
    }
    return o;
  } catch (err) {
    if (err instanceof BenchUsageError) {
      process.stderr.write(`bench: ${err.message}\n\n${usage}`);
      process.exit(2);
    }
    throw err;
  }
}

/** Builds ferry when its CLI source exists but dist/ is missing or stale. */
function ensureFerryBuilt(ferryDir: string): void {
  if (!existsSync(join(ferryDir, 'src', 'cli', 'main.ts'))) return;
  const r = spawnSync(process.execPath, ['scripts/ensure-built.mjs'], {
    cwd: ferryDir,
    stdio: 'inherit',
  });
  if (r.status !== 0)
    out('bench: building ferry failed; ferry will be skipped if dist/ is missing');
}

function describe(m: Measurement, spec: Running['spec']): string {
  const parts = Object.entries(m.values).map(([k, v]) => {
    const def = metricDefs.find((d) => d.key === k);
    return `${def?.label ?? k} ${formatFigure(v)} ${def?.unit ?? ''}`;
  });
  const cpu = [
    m.cpuPct.proxy === undefined ? undefined : `proxy ${m.cpuPct.proxy.toFixed(0)}%`,
    `loadgen ${m.cpuPct.loadgen.toFixed(0)}%`,
    `targets ${m.cpuPct.targets.toFixed(0)}%`,
  ].filter((s) => s !== undefined);
  const lag = spec.node && m.lagP99Ms !== undefined ? `, lag p99 ${m.lagP99Ms.toFixed(1)} ms` : '';
  const errors = m.errors > 0 ? `, ${m.errors} errors (${m.firstError ?? '?'})` : '';
  return `${parts.join(', ')}  [cpu ${cpu.join(' ')}${lag}]${errors}`;
}

async function main(): Promise<void> {
  const opts = options();
  const ferryDir = resolve(opts.ferryDir ?? repoRoot);
  if (opts.contestants.some((c) => c.startsWith('ferry'))) ensureFerryBuilt(ferryDir);
  const tmpDir = mkdtempSync(join(os.tmpdir(), 'ferry-bench-'));
  const ctx = {
    repoRoot,
    tmpDir,
    ferryDir,
    ferryArgs: opts.ferryArgs,
    ferryNodeArgs: opts.ferryNodeArgs,
    maxTunnels: opts.idleTunnels,
  };
  const startedAt = new Date();
  const load = os.loadavg();
  out(
    `ferry bench — ${startedAt.toISOString()} — node ${process.version}, ${os.cpus().length} cpus, load ${load.map((l) => l.toFixed(2)).join(' ')}`,
  );
  out(
    `rounds ${opts.rounds}, window ${opts.durationMs} ms (+${opts.warmupMs} ms warm-up), latency ${opts.latencyMs} ms, idle tunnels ${opts.idleTunnels}; logs in ${tmpDir}`,
  );
  if (load[0]! > os.cpus().length * 0.5)
    out(`note: the machine is busy (load ${load[0]!.toFixed(2)}): expect noise`);

  const runner = await Runner.start(opts, ctx, out);
  const running: Running[] = [];
  const skipped: Partial<Record<ContestantName, string>> = {};
  let failures = 0;
  const versions: Partial<Record<ContestantName, string>> = {};
  for (const name of opts.contestants) {
    const spec = contestantSpecs[name];
    const why = spec.unavailable(ctx);
    if (why !== undefined) {
      skipped[name] = why;
      out(`skip ${name}: ${why}`);
      continue;
    }
    try {
      running.push(await runner.startContestant(spec));
      const version = spec.version?.(ctx);
      if (version !== undefined) versions[name] = version;
      out(`ready ${name}${versions[name] === undefined ? '' : ` (${versions[name]})`}`);
    } catch (err) {
      failures++;
      skipped[name] = (err as Error).message;
      out(`skip ${name}: ${(err as Error).message}`);
    }
  }

  const records: Partial<Record<ContestantName, ContestantRecord>> = {};
  const keep = (name: ContestantName, test: TestName, round: number, m: Measurement): void => {
    const rec = (records[name] ??= { rounds: {}, measurements: [], errors: 0 });
    rec.measurements.push({ ...m, test, round });
    rec.errors += m.errors;
    if (m.firstError !== undefined) rec.firstError ??= m.firstError;
    for (const [k, v] of Object.entries(m.values) as [MetricKey, number][])
      (rec.rounds[k] ??= []).push(v);
  };

  const timedTests = opts.tests.filter((t): t is Exclude<TestName, 'idle'> => t !== 'idle');
  for (let round = 1; round <= opts.rounds; round++) {
    for (const test of timedTests) {
      for (const r of running) {
        try {
          const m = await runner.measure(test, r);
          if (m === undefined) continue;
          keep(r.spec.name, test, round, m);
          out(
            `[${round}/${opts.rounds}] ${test.padEnd(9)} ${r.spec.name.padEnd(10)} ${describe(m, r.spec)}`,
          );
        } catch (err) {
          const rec = (records[r.spec.name] ??= { rounds: {}, measurements: [], errors: 0 });
          rec.errors++;
          rec.firstError ??= (err as Error).message;
          out(
            `[${round}/${opts.rounds}] ${test.padEnd(9)} ${r.spec.name.padEnd(10)} FAILED: ${(err as Error).message}`,
          );
        }
      }
    }
  }
  for (const r of running) await runner.stopContestant(r);

  if (opts.tests.includes('idle') && opts.idleTunnels > 0) {
    out(`idle: ${opts.idleTunnels} tunnels per proxy, each on a fresh process`);
    for (const r of running.filter((x) => x.spec.isProxy)) {
      try {
        const m = await measureIdle(runner, r.spec, opts.idleTunnels, out);
        keep(r.spec.name, 'idle', 1, m);
        out(
          `[idle]     ${r.spec.name.padEnd(10)} ${describe(m, r.spec)} (${String(m.extra?.tunnels)} held, ${String(m.extra?.processes)} processes, PSS ${formatFigure(m.extra?.pssKiBPerTunnel as number)} KiB/tunnel)`,
        );
      } catch (err) {
        out(`[idle]     ${r.spec.name.padEnd(10)} FAILED: ${(err as Error).message}`);
        failures++;
      }
    }
  }
  await stopIdleShards();
  await runner.stopAll();

  // ---- report ----
  const names = running.map((r) => r.spec.name);
  const figures: Figures = {};
  for (const name of names) {
    const rec = records[name];
    figures[name] = Object.fromEntries(
      Object.entries(rec?.rounds ?? {}).map(([k, v]) => [k, median(v)]),
    );
  }
  const subject: ContestantName = names.includes('ferry') ? 'ferry' : 'naive-node';
  // ferry-cores (every core, kernel balance) is judged too, each target's rows side by side.
  const subjects = [subject, 'ferry-cores' as const].filter((n) => names.includes(n));
  const judged = subjects.map((s) => judgeTargets(figures, s));
  const outcomes = (judged[0] ?? []).flatMap((_, i) => judged.map((rows) => rows[i]!));
  const idleTarget = records[subject]?.measurements.find((m) => m.test === 'idle');
  if (opts.idleTunnels >= 100_000 && idleTarget !== undefined) {
    const held = Number(idleTarget.extra?.alive ?? 0);
    outcomes.push({
      label: `${opts.idleTunnels} idle tunnels held without errors`,
      subject,
      value: held,
      goal: opts.idleTunnels,
      met: held >= opts.idleTunnels && idleTarget.errors === 0,
    });
  }
  out();
  out(figuresTable(figures, names));
  const vsDirect = ratioTable(figures, names, 'direct', 'ratio to direct');
  if (vsDirect !== '') out(`\n${vsDirect}`);
  const vsOthers = names.includes(subject) ? subjectTable(figures, names, subject) : '';
  if (vsOthers !== '' && names.length > 2) out(`\n${vsOthers}`);
  const spread = opts.rounds > 1 ? spreadTable(records, names) : '';
  if (spread !== '') out(`\n${spread}`);
  const tests = [...timedTests, ...(opts.tests.includes('idle') ? (['idle'] as const) : [])];
  const cpu = cpuTable(records, names, tests);
  if (cpu !== '') {
    out(
      '\nCPU % of one core, proxy/loadgen/targets (medians); lag = proxy event-loop delay p99, ms',
    );
    out(cpu);
  }
  if (outcomes.length > 0) {
    out();
    if (subject !== 'ferry') out(`(ferry not measured: naive-node stands in as the subject)`);
    out(targetsTable(outcomes));
  }
  const anchors = anchorsTable(figures);
  if (anchors !== '') out(`\n${anchors}`);
  const withErrors = names.filter((n) => (records[n]?.errors ?? 0) > 0);
  for (const n of withErrors)
    out(`errors: ${n} ${records[n]!.errors} (first: ${records[n]!.firstError ?? '?'})`);
  for (const [n, why] of Object.entries(skipped)) out(`skipped: ${n}: ${why.split('\n')[0] ?? ''}`);
  const elapsed = (Date.now() - startedAt.getTime()) / 1000;
  out(
    `done in ${elapsed.toFixed(0)} s; load now ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  const result = {
    bench: 'ferry issue 7 comparative benchmark',
    startedAt: startedAt.toISOString(),
    elapsedSeconds: elapsed,
    machine: {
      host: os.hostname(),
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      node: process.version,
      loadBefore: load,
      loadAfter: os.loadavg(),
    },
    options: opts,
    contestants: Object.fromEntries(names.map((n) => [n, { version: versions[n] ?? null }])),
    skipped,
    units: Object.fromEntries(metricDefs.map((m) => [m.key, m.unit])),
    figures,
    rounds: Object.fromEntries(names.map((n) => [n, records[n]?.rounds ?? {}])),
    measurements: Object.fromEntries(names.map((n) => [n, records[n]?.measurements ?? []])),
    ratios: pairwiseRatios(figures),
    subject,
    targets: outcomes,
    anchors: compareAnchors(figures),
  };
  const json = `${JSON.stringify(result, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
  if (opts.json !== undefined) {
    writeFileSync(opts.json, json);
    out(`wrote ${opts.json}`);
  }
  if (opts.save) {
    const dir = join(repoRoot, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(
      dir,
      `${startedAt.toISOString().replace(/[:.]/g, '-')}-${os.hostname()}.json`,
    );
    writeFileSync(file, json);
    out(`saved ${file}`);
  }
  if (withErrors.length > 0 || failures > 0) {
    out(`contestants' logs kept in ${tmpDir}`);
  } else {
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
