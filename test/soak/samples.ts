/**
 * Samples of a running ferry from its admin endpoint's /metrics (Prometheus text), and the drift
 * verdict: a metric fails when its window after warm-up and its last window differ by more than
 * 5 % and by more than an absolute floor (so that 1.1 ms vs 1.2 ms of event-loop lag is noise,
 * not drift).
 */

export interface Sample {
  /** Seconds since the load started. */
  readonly t: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly fds: number;
  /** p99 event-loop delay over the last scrape interval, seconds. */
  readonly lagP99: number;
  readonly lagMean: number;
  readonly sessions: number;
  readonly cpuSeconds: number;
}

/** Sums every series of a metric family (e.g. sessions_active over its labels). */
function metric(text: string, name: string): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) {
      sum += value;
      found = true;
    }
  }
  return found ? sum : Number.NaN;
}

export async function scrape(adminUrl: string, t: number): Promise<Sample> {
  const res = await fetch(`${adminUrl}/metrics`);
  const text = await res.text();
  return {
    t,
    rss: metric(text, 'process_resident_memory_bytes'),
    heapUsed: metric(text, 'nodejs_heap_size_used_bytes'),
    fds: metric(text, 'process_open_fds'),
    lagP99: metric(text, 'nodejs_eventloop_lag_p99_seconds'),
    lagMean: metric(text, 'nodejs_eventloop_lag_mean_seconds'),
    // The gauge has no series at all when no session is open.
    sessions: metric(text, 'ferry_sessions_active') || 0,
    cpuSeconds: metric(text, 'process_cpu_seconds_total'),
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface Verdict {
  readonly name: string;
  readonly unit: string;
  readonly early: number;
  readonly late: number;
  readonly driftPct: number;
  readonly floor: number;
  readonly ok: boolean;
  readonly how: string;
}

interface Rule {
  readonly name: string;
  readonly unit: string;
  readonly scale: number;
  /** How a window is summarised: median, or min (a GC'd heap's floor). */
  readonly summary: 'median' | 'min';
  readonly pick: (s: Sample) => number;
  /** Absolute change always tolerated, in the metric's own unit (before scale). */
  readonly floor: number;
}

const rules: readonly Rule[] = [
  {
    name: 'RSS',
    unit: 'MiB',
    scale: 1 / 2 ** 20,
    summary: 'median',
    pick: (s) => s.rss,
    floor: 4 * 2 ** 20,
  },
  {
    name: 'heap used (floor)',
    unit: 'MiB',
    scale: 1 / 2 ** 20,
    summary: 'min',
    pick: (s) => s.heapUsed,
    floor: 2 * 2 ** 20,
  },
  { name: 'open fds', unit: '', scale: 1, summary: 'median', pick: (s) => s.fds, floor: 10 },
  {
    name: 'event-loop lag p99',
    unit: 'ms',
    scale: 1000,
    summary: 'median',
    pick: (s) => s.lagP99,
    floor: 0.002,
  },
  {
    name: 'event-loop lag mean',
    unit: 'ms',
    scale: 1000,
    summary: 'median',
    pick: (s) => s.lagMean,
    floor: 0.002,
  },
];

/**
 * Compares the window right after warm-up with the last window (each `window` seconds).
 */
export function judge(
  samples: readonly Sample[],
  warmUp: number,
  window: number,
  end: number,
): Verdict[] {
  const early = samples.filter((s) => s.t >= warmUp && s.t < warmUp + window);
  const late = samples.filter((s) => s.t >= end - window && s.t <= end);
  return rules.map((r) => {
    const sum = (xs: readonly Sample[]): number =>
      r.summary === 'min' ? Math.min(...xs.map(r.pick)) : median(xs.map(r.pick));
    const a = sum(early);
    const b = sum(late);
    const driftPct = ((b - a) / a) * 100;
    const ok = early.length > 0 && late.length > 0 && (b - a <= r.floor || driftPct <= 5);
    return {
      name: r.name,
      unit: r.unit,
      early: a * r.scale,
      late: b * r.scale,
      driftPct,
      floor: r.floor * r.scale,
      ok,
      how: `${r.summary} of ${early.length} / ${late.length} samples`,
    };
  });
}
