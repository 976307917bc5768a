/**
 * Command-line options of `npm run bench`. Pure: argv in, frozen options out; a bad value is a
 * BenchUsageError whose message names the flag.
 */
import { parseArgs } from 'node:util';

export const contestantNames = [
  'direct',
  'ferry',
  'ferry-cores',
  'naive-node',
  'dante',
  'microsocks',
] as const;
export type ContestantName = (typeof contestantNames)[number];

export const testNames = [
  'down1',
  'down8',
  'up1',
  'tunnels',
  'handshake',
  'rtt',
  'udp',
  'idle',
] as const;
export type TestName = (typeof testNames)[number];

export interface BenchOptions {
  /** Contestants in run order; `direct` is always first (every ratio needs it). */
  readonly contestants: readonly ContestantName[];
  readonly tests: readonly TestName[];
  readonly rounds: number;
  /** Measured window of each timed test (throughput, tunnels/s, UDP), in ms. */
  readonly durationMs: number;
  /** Untimed warm-up before each measured window, in ms. */
  readonly warmupMs: number;
  /** Window of the sequential latency tests (handshake, rtt), in ms. */
  readonly latencyMs: number;
  readonly idleTunnels: number;
  readonly tunnelConcurrency: number;
  readonly udpWindow: number;
  readonly udpSize: number;
  readonly json: string | undefined;
  readonly save: boolean;
  readonly quick: boolean;
  /** ferry checkout whose dist/cli/main.js is run (default: this repository). */
  readonly ferryDir: string | undefined;
  /** Extra arguments appended to ferry's `serve` command line. */
  readonly ferryArgs: readonly string[];
  /** Extra arguments for the node running ferry (e.g. --cpu-prof), before the script. */
  readonly ferryNodeArgs: readonly string[];
  /** Use the Node.js targets even when a C compiler could build the native ones. */
  readonly nodeTargets: boolean;
  readonly help: boolean;
}

export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

export const usage = `usage: npm run bench -- [options]

  --only LIST            contestants, comma-separated: ${contestantNames.join(',')}
                         (direct always runs: every ratio is taken against it)
  --tests LIST           tests, comma-separated: ${testNames.join(',')}
  --rounds N             interleaved rounds; figures are medians over rounds (default 3)
  --duration SECONDS     measured window of each timed test (default 2)
  --idle-tunnels N       idle tunnels held for the memory test; 0 skips it (default 10000)
  --concurrency N        tunnels in flight for the tunnels/s test (default 16)
  --udp-window N         UDP datagrams in flight (default 64)
  --quick                smoke run: 1 round, short windows, 1000 idle tunnels (< 1 minute)
  --json FILE            also write the results as JSON
  --save                 also write the results to bench/results/<date>-<host>.json
  --ferry-dir DIR        ferry checkout to run (default: this repository; needs npm run build)
  --ferry-arg ARG        extra argument for 'ferry serve' (repeatable)
  --ferry-node-arg ARG   extra argument for the node that runs ferry, e.g.
                         --ferry-node-arg=--cpu-prof (repeatable)
  --node-targets         targets in Node.js even when cc can build bench/native/targets.c
  -h, --help             this text
`;

function positiveNumber(flag: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min) {
    throw new BenchUsageError(`${flag} must be a number >= ${min}, got "${text}"`);
  }
  return value;
}

function integer(flag: string, text: string | undefined, min: number): number | undefined {
  const value = positiveNumber(flag, text, min);
  if (value !== undefined && !Number.isInteger(value)) {
    throw new BenchUsageError(`${flag} must be an integer, got "${String(text)}"`);
  }
  return value;
}

function list<T extends string>(
  flag: string,
  text: string | undefined,
  allowed: readonly T[],
): T[] {
  if (text === undefined) return [...allowed];
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw new BenchUsageError(`${flag} needs at least one name`);
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new BenchUsageError(
        `${flag}: unknown name "${item}" (expected one of ${allowed.join(', ')})`,
      );
    }
  }
  // Keep the canonical order so that runs with different flags interleave alike.
  return allowed.filter((a) => items.includes(a));
}

/** Parses `argv` (without node and script). @throws BenchUsageError naming the bad flag. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        only: { type: 'string' },
        tests: { type: 'string' },
        rounds: { type: 'string' },
        duration: { type: 'string' },
        'idle-tunnels': { type: 'string' },
        concurrency: { type: 'string' },
        'udp-window': { type: 'string' },
        quick: { type: 'boolean', default: false },
        json: { type: 'string' },
        save: { type: 'boolean', default: false },
        'ferry-dir': { type: 'string' },
        'ferry-arg': { type: 'string', multiple: true },
        'ferry-node-arg': { type: 'string', multiple: true },
        'node-targets': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new BenchUsageError(err instanceof Error ? err.message : String(err));
  }
  const v = parsed.values;
  const quick = v.quick;
  const only = list('--only', v.only, contestantNames);
  const contestants: ContestantName[] = [
    'direct',
    ...only.filter((c): c is ContestantName => c !== 'direct'),
  ];
  const seconds = positiveNumber('--duration', v.duration, 0.1);
  const durationMs = Math.round((seconds ?? (quick ? 0.5 : 2)) * 1000);
  return Object.freeze({
    contestants,
    tests: list('--tests', v.tests, testNames),
    rounds: integer('--rounds', v.rounds, 1) ?? (quick ? 1 : 3),
    durationMs,
    warmupMs: Math.min(300, Math.round(durationMs / 4)),
    latencyMs: Math.max(250, Math.round(durationMs / 2)),
    idleTunnels: integer('--idle-tunnels', v['idle-tunnels'], 0) ?? (quick ? 1000 : 10_000),
    tunnelConcurrency: integer('--concurrency', v.concurrency, 1) ?? 16,
    udpWindow: integer('--udp-window', v['udp-window'], 1) ?? 64,
    udpSize: 512,
    json: v.json,
    save: v.save,
    quick,
    ferryDir: v['ferry-dir'],
    ferryArgs: v['ferry-arg'] ?? [],
    ferryNodeArgs: v['ferry-node-arg'] ?? [],
    nodeTargets: v['node-targets'],
    help: v.help,
  });
}
