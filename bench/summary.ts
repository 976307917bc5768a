/**
 * Tables about the run itself rather than the figures: how much each figure moved between rounds,
 * and who was busy (CPU) and how late the Node proxies' event loops ran during each test.
 */
import type { ContestantName, TestName } from './args.js';
import { formatTable, metricDefs, type MetricKey } from './report.js';
import type { Measurement } from './runner.js';
import { median, relativeSpread } from './stats.js';

/** Everything kept about one contestant during a run. */
export interface ContestantRecord {
  /** Each metric's value per round, in round order. */
  rounds: Partial<Record<MetricKey, number[]>>;
  measurements: (Measurement & { test: TestName; round: number })[];
  errors: number;
  firstError?: string;
}

type Records = Partial<Record<ContestantName, ContestantRecord>>;

/** (max - min) / median over rounds, per metric and contestant; '' when nothing repeated. */
export function spreadTable(records: Records, names: readonly ContestantName[]): string {
  const rows = metricDefs
    .filter((m) => m.test !== 'idle')
    .map((m) => [
      m.label,
      ...names.map((n) => {
        const s = relativeSpread(records[n]?.rounds[m.key] ?? []);
        return Number.isFinite(s) ? `${(s * 100).toFixed(0)}%` : 'n/a';
      }),
    ])
    .filter((row) => row.slice(1).some((c) => c !== 'n/a'));
  return rows.length === 0
    ? ''
    : formatTable(['spread over rounds (max−min)/median', ...names], rows);
}

/** Median CPU % (proxy/loadgen/targets) and lag p99 per test and contestant. */
export function cpuTable(
  records: Records,
  names: readonly ContestantName[],
  tests: readonly TestName[],
): string {
  const cell = (n: ContestantName, test: TestName): string => {
    const ms = records[n]?.measurements.filter((m) => m.test === test) ?? [];
    if (ms.length === 0) return 'n/a';
    const pct = (f: (m: Measurement) => number | undefined): string => {
      const v = median(ms.map((m) => f(m) ?? Number.NaN));
      return Number.isFinite(v) ? v.toFixed(0) : '-';
    };
    const lag = median(ms.map((m) => m.lagP99Ms ?? Number.NaN));
    const cpu = `${pct((m) => m.cpuPct.proxy)}/${pct((m) => m.cpuPct.loadgen)}/${pct((m) => m.cpuPct.targets)}`;
    return Number.isFinite(lag) ? `${cpu} lag ${lag.toFixed(1)}` : cpu;
  };
  const rows = tests
    .map((test) => [test, ...names.map((n) => cell(n, test))])
    .filter((row) => row.slice(1).some((c) => c !== 'n/a'));
  return rows.length === 0 ? '' : formatTable(['test', ...names], rows);
}
