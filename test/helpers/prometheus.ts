/**
 * A strict parser for the Prometheus text exposition format (0.0.4), enough to prove that
 * /metrics parses: HELP/TYPE lines, samples with optional labels, numeric values.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;
const labelPair = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/;

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  text.split('\n').forEach((line, i) => {
    if (line === '') return;
    if (line.startsWith('# HELP ')) return;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      if (
        name === undefined ||
        !['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type ?? '')
      ) {
        throw new Error(`line ${i + 1}: bad TYPE: ${line}`);
      }
      types.set(name, type!);
      return;
    }
    if (line.startsWith('#')) return;
    const m = sampleLine.exec(line);
    if (m === null) throw new Error(`line ${i + 1}: not a sample: ${line}`);
    const labels: Record<string, string> = {};
    let rest = m[3] ?? '';
    while (rest.trim() !== '') {
      const l = labelPair.exec(rest);
      if (l === null) throw new Error(`line ${i + 1}: bad labels: ${m[3]}`);
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      rest = rest.slice(l[0].length);
    }
    const raw = m[4]!;
    // Prometheus reads values with Go's strconv.ParseFloat, which takes NaN and Inf in any case;
    // prom-client writes `Nan` (e.g. Node 22's event-loop delay before its first sample).
    const special = raw.toLowerCase();
    const isNan = special === 'nan';
    const value =
      special === '+inf' || special === 'inf'
        ? Infinity
        : special === '-inf'
          ? -Infinity
          : isNan
            ? NaN
            : Number(raw);
    if (Number.isNaN(value) && !isNan) throw new Error(`line ${i + 1}: bad value ${raw}`);
    samples.push({ name: m[1]!, labels, value });
  });
  if (types.size === 0) throw new Error('no TYPE lines');
  return samples;
}

/** Sum of the samples with this name whose labels include `match`. */
export function sum(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}
