/** Durations as operators write them: `500ms`, `10s`, `2m`, `2h`, `1d`, or `0`. */

const units: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Node timers overflow past 2^31-1 ms (~24.8 days). */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** Milliseconds, or undefined when the text is not a duration (the caller names the field). */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (t === '0') return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(t);
  if (m === null) return undefined;
  const ms = Math.round(Number(m[1]) * (units[m[2] ?? 'ms'] ?? 1));
  return Number.isSafeInteger(ms) && ms <= MAX_DURATION_MS ? ms : undefined;
}

/** The shortest exact spelling of a duration, for messages and `check-config`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms > 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return ms === 0 ? '0' : `${ms}ms`;
}
