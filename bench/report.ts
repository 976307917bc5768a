/**
 * The figures, their ratios, and the text table the bench ends with. Pure: medians in, strings
 * and plain objects out.
 */
import type { ContestantName, TestName } from './args.js';
import { ratio } from './stats.js';

export const metricKeys = [
  'down1',
  'down8',
  'up1',
  'tunnelsPerSec',
  'handshakeP50',
  'handshakeP99',
  'rttP50',
  'rttP99',
  'udpPerSec',
  'idleKiB',
] as const;
export type MetricKey = (typeof metricKeys)[number];

export interface MetricDef {
  readonly key: MetricKey;
  readonly label: string;
  readonly unit: string;
  readonly higherIsBetter: boolean;
  readonly test: TestName;
}

export const metricDefs: readonly MetricDef[] = [
  {
    key: 'down1',
    label: 'throughput 1 stream (down)',
    unit: 'MiB/s',
    higherIsBetter: true,
    test: 'down1',
  },
  {
    key: 'down8',
    label: 'throughput 8 streams (down)',
    unit: 'MiB/s',
    higherIsBetter: true,
    test: 'down8',
  },
  {
    key: 'up1',
    label: 'throughput 1 stream (up)',
    unit: 'MiB/s',
    higherIsBetter: true,
    test: 'up1',
  },
  { key: 'tunnelsPerSec', label: 'tunnels/s', unit: '/s', higherIsBetter: true, test: 'tunnels' },
  {
    key: 'handshakeP50',
    label: 'handshake p50',
    unit: 'µs',
    higherIsBetter: false,
    test: 'handshake',
  },
  {
    key: 'handshakeP99',
    label: 'handshake p99',
    unit: 'µs',
    higherIsBetter: false,
    test: 'handshake',
  },
  { key: 'rttP50', label: '1-byte round trip p50', unit: 'µs', higherIsBetter: false, test: 'rtt' },
  { key: 'rttP99', label: '1-byte round trip p99', unit: 'µs', higherIsBetter: false, test: 'rtt' },
  {
    key: 'udpPerSec',
    label: 'UDP datagrams/s (512 B)',
    unit: '/s',
    higherIsBetter: true,
    test: 'udp',
  },
  {
    key: 'idleKiB',
    label: 'RSS per idle tunnel',
    unit: 'KiB',
    higherIsBetter: false,
    test: 'idle',
  },
];

/** Median figure per contestant per metric; a missing entry or NaN means "not measured". */
export type Figures = Partial<Record<ContestantName, Partial<Record<MetricKey, number>>>>;

export interface Target {
  readonly label: string;
  readonly metric: MetricKey;
  /** The contestant the subject is divided by; undefined for an absolute bound. */
  readonly versus?: ContestantName;
  /** Ratio (or absolute value) to reach: at least `goal` if higherIsBetter, else at most. */
  readonly goal: number;
  readonly higherIsBetter: boolean;
}

/** The targets of issue 7, in its words. */
export const issueTargets: readonly Target[] = [
  {
    label: 'throughput 1 stream ≥ 1.3× Dante',
    metric: 'down1',
    versus: 'dante',
    goal: 1.3,
    higherIsBetter: true,
  },
  {
    label: 'throughput 8 streams ≥ 1.2× Dante',
    metric: 'down8',
    versus: 'dante',
    goal: 1.2,
    higherIsBetter: true,
  },
  {
    label: 'tunnels/s ≥ 1.1× microsocks',
    metric: 'tunnelsPerSec',
    versus: 'microsocks',
    goal: 1.1,
    higherIsBetter: true,
  },
  {
    label: 'round trip p99 ≤ 1.3× direct',
    metric: 'rttP99',
    versus: 'direct',
    goal: 1.3,
    higherIsBetter: false,
  },
  { label: 'idle memory ≤ 8 KiB per tunnel', metric: 'idleKiB', goal: 8, higherIsBetter: false },
  {
    label: 'UDP datagrams/s ≥ 1.5× Dante',
    metric: 'udpPerSec',
    versus: 'dante',
    goal: 1.5,
    higherIsBetter: true,
  },
];

export interface Anchor {
  readonly contestant: ContestantName;
  readonly metric: MetricKey;
  /** The figure the issue quotes: a ratio to direct, or an absolute value when `absolute`. */
  readonly value: number;
  readonly absolute: boolean;
}

/** What issue 7 measured on this machine class (medians), to check that the bench reproduces it. */
export const issueAnchors: readonly Anchor[] = [
  { contestant: 'dante', metric: 'down1', value: 0.3, absolute: false },
  { contestant: 'microsocks', metric: 'down1', value: 0.09, absolute: false },
  { contestant: 'naive-node', metric: 'down1', value: 0.25, absolute: false },
  { contestant: 'microsocks', metric: 'tunnelsPerSec', value: 0.3, absolute: false },
  { contestant: 'dante', metric: 'tunnelsPerSec', value: 0.17, absolute: false },
  { contestant: 'naive-node', metric: 'tunnelsPerSec', value: 0.19, absolute: false },
  { contestant: 'dante', metric: 'idleKiB', value: 370, absolute: true },
  { contestant: 'microsocks', metric: 'idleKiB', value: 13, absolute: true },
  { contestant: 'naive-node', metric: 'idleKiB', value: 9, absolute: true },
  { contestant: 'dante', metric: 'udpPerSec', value: 0.18, absolute: false },
];

export interface TargetOutcome {
  readonly label: string;
  readonly subject: ContestantName;
  /** The subject's ratio to `versus`, or its absolute figure. NaN when not measured. */
  readonly value: number;
  readonly goal: number;
  /** undefined when it could not be judged (a figure missing). */
  readonly met: boolean | undefined;
}

export function judgeTargets(
  figures: Figures,
  subject: ContestantName,
  targets: readonly Target[] = issueTargets,
): TargetOutcome[] {
  return targets.map((t) => {
    const mine = figures[subject]?.[t.metric];
    const value =
      t.versus === undefined ? (mine ?? Number.NaN) : ratio(mine, figures[t.versus]?.[t.metric]);
    const met = Number.isFinite(value)
      ? t.higherIsBetter
        ? value >= t.goal
        : value <= t.goal
      : undefined;
    return { label: t.label, subject, value, goal: t.goal, met };
  });
}

type PerContestant<T> = Partial<Record<ContestantName, T>>;
/** ratios[metric][a][b] = figure(a) / figure(b). */
export type RatioMatrix = Partial<Record<MetricKey, PerContestant<PerContestant<number>>>>;

/** Every measured pair's ratio, per metric (a pair with a figure missing is left out). */
export function pairwiseRatios(figures: Figures): RatioMatrix {
  const out: RatioMatrix = {};
  const names = Object.keys(figures) as ContestantName[];
  for (const key of metricKeys) {
    const table: PerContestant<PerContestant<number>> = {};
    for (const a of names) {
      const row: PerContestant<number> = {};
      for (const b of names) {
        const r = ratio(figures[a]?.[key], figures[b]?.[key]);
        if (Number.isFinite(r)) row[b] = r;
      }
      if (Object.keys(row).length > 0) table[a] = row;
    }
    if (Object.keys(table).length > 0) out[key] = table;
  }
  return out;
}

/** A figure for a table cell: 'n/a' when not finite; fewer decimals as the magnitude grows. */
export function formatFigure(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  const fixed = value.toFixed(digits);
  // Thousands separated by a thin gap so that wide columns stay readable: 123 456.
  const [int = '', frac] = fixed.split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
  return frac === undefined ? grouped : `${grouped}.${frac}`;
}

/** A ratio for a table cell: two significant decimals and a × sign; 'n/a' when not finite. */
export function formatRatio(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  return `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}×`;
}

/**
 * Lays out rows under a header with columns padded to their widest cell: the first column left-
 * aligned, the others right-aligned (numbers), a rule under the header.
 */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  // Code points, not UTF-16 units: cells hold µ, × and ÷ (all one column wide).
  const width = (s: string): number => Array.from(s).length;
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    widths
      .map((w, i) => {
        const cell = cells[i] ?? '';
        const pad = ' '.repeat(w - width(cell));
        return i === 0 ? cell + pad : pad + cell;
      })
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Absolute medians: one row per metric, one column per contestant. */
export function figuresTable(figures: Figures, contestants: readonly ContestantName[]): string {
  return formatTable(
    ['median', 'unit', ...contestants],
    metricDefs
      .filter((m) => contestants.some((c) => Number.isFinite(figures[c]?.[m.key] ?? Number.NaN)))
      .map((m) => [m.label, m.unit, ...contestants.map((c) => formatFigure(figures[c]?.[m.key]))]),
  );
}

/** figure(c) / figure(base) for every contestant c, one row per metric ('' when none). */
export function ratioTable(
  figures: Figures,
  contestants: readonly ContestantName[],
  base: ContestantName,
  title: string,
): string {
  const others = contestants.filter((c) => c !== base);
  const rows = metricDefs
    .map((m) => [
      `${m.label} (${m.higherIsBetter ? 'higher' : 'lower'} is better)`,
      ...others.map((c) => formatRatio(ratio(figures[c]?.[m.key], figures[base]?.[m.key]))),
    ])
    .filter((r) => r.slice(1).some((cell) => cell !== 'n/a'));
  return rows.length === 0 ? '' : formatTable([title, ...others], rows);
}

/** figure(subject) / figure(c) for every other contestant c ('' when none). */
export function subjectTable(
  figures: Figures,
  contestants: readonly ContestantName[],
  subject: ContestantName,
): string {
  const others = contestants.filter((c) => c !== subject);
  const rows = metricDefs
    .map((m) => [
      m.label,
      ...others.map((c) => formatRatio(ratio(figures[subject]?.[m.key], figures[c]?.[m.key]))),
    ])
    .filter((r) => r.slice(1).some((cell) => cell !== 'n/a'));
  return rows.length === 0 ? '' : formatTable([`${subject} ÷`, ...others], rows);
}

export function targetsTable(outcomes: readonly TargetOutcome[]): string {
  return formatTable(
    ['issue 7 target', 'subject', 'measured', 'goal', 'met'],
    outcomes.map((o) => {
      const absolute = issueTargets.find((t) => t.label === o.label)?.versus === undefined;
      return [
        o.label,
        o.subject,
        absolute ? formatFigure(o.value) : formatRatio(o.value),
        absolute ? formatFigure(o.goal) : formatRatio(o.goal),
        o.met === undefined ? 'n/a' : o.met ? 'yes' : 'NO',
      ];
    }),
  );
}

export interface AnchorOutcome {
  readonly contestant: ContestantName;
  readonly metric: MetricKey;
  readonly absolute: boolean;
  /** What issue 7 quotes. */
  readonly issue: number;
  /** The same figure in this run (ratio to direct unless absolute); NaN when not measured. */
  readonly measured: number;
}

/** Issue 7's anchors beside this run's figures. */
export function compareAnchors(figures: Figures): AnchorOutcome[] {
  return issueAnchors.map((a) => {
    const mine = figures[a.contestant]?.[a.metric];
    return {
      contestant: a.contestant,
      metric: a.metric,
      absolute: a.absolute,
      issue: a.value,
      measured: a.absolute ? (mine ?? Number.NaN) : ratio(mine, figures.direct?.[a.metric]),
    };
  });
}

/** The anchors that were measured in this run ('' when none). */
export function anchorsTable(figures: Figures): string {
  const rows = compareAnchors(figures)
    .filter((a) => Number.isFinite(a.measured))
    .map((a) => {
      const def = metricDefs.find((m) => m.key === a.metric);
      const show = a.absolute ? formatFigure : formatRatio;
      return [
        `${a.contestant} ${def?.label ?? a.metric}${a.absolute ? ` (${def?.unit ?? ''})` : ' vs direct'}`,
        show(a.issue),
        show(a.measured),
      ];
    });
  return rows.length === 0 ? '' : formatTable(['issue 7 anchor', 'issue', 'this run'], rows);
}
