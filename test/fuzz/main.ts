/**
 * `npm run fuzz -- [--minutes N | --seconds N | --inputs N] [--seed S] [--target a,b]
 *                  [--index I] [--no-save]`
 *
 * Long fuzz runs. Prints progress with inputs/s every 10 s and a table at the end; every failing
 * input is saved to test/fixtures/fuzz-regressions (replayed by `npm test` from then on). Exit
 * status 1 when anything failed. `--index I` regenerates and checks one input of one target
 * (with `--seed` and `--target`) and prints it: how a failure from a long run is investigated.
 * Default: 1 minute, seed = the current time (printed, so the run can be repeated).
 */
import { parseArgs } from 'node:util';
import { entriesOf, generate, runFuzz, type TargetStats } from './runner.js';
import { targets } from './targets.js';
import { allCorpora } from './corpus.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    seconds: { type: 'string' },
    inputs: { type: 'string' },
    seed: { type: 'string' },
    target: { type: 'string', multiple: true },
    index: { type: 'string' },
    'no-save': { type: 'boolean' },
  },
});

function number(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`fuzz: --${name} must be a non-negative number, got "${text}"`);
    process.exit(2);
  }
  return n;
}

const seed = number('seed', values.seed) ?? Date.now() % 0x1_0000_0000;
const wanted = (values.target ?? []).flatMap((t) => t.split(','));
const chosen = wanted.length === 0 ? targets : targets.filter((t) => wanted.includes(t.name));
if (chosen.length !== Math.max(wanted.length, chosen.length) || chosen.length === 0) {
  console.error(
    `fuzz: unknown target in ${wanted.join(', ')}; known: ${targets.map((t) => t.name).join(', ')}`,
  );
  process.exit(2);
}

const index = number('index', values.index);
if (index !== undefined) {
  const target = chosen[0]!;
  await target.setup?.();
  const m = generate(target, entriesOf(target), allCorpora(), seed, index);
  console.log(
    JSON.stringify(
      {
        target: target.name,
        seed,
        index,
        base: m.base,
        operators: m.operators,
        cuts: m.cuts,
        input: Buffer.from(m.bytes).toString('hex'),
      },
      null,
      2,
    ),
  );
  try {
    await target.check(m.bytes, m.cuts);
    console.log('passes');
  } catch (err) {
    console.log(err instanceof Error ? err.stack : String(err));
    process.exitCode = 1;
  } finally {
    await target.teardown?.();
  }
  process.exit();
}

const minutes = number('minutes', values.minutes);
const seconds = number('seconds', values.seconds);
const inputs = number('inputs', values.inputs);
const budgetMs =
  minutes !== undefined
    ? minutes * 60_000
    : seconds !== undefined
      ? seconds * 1000
      : inputs === undefined
        ? 60_000
        : undefined;
const started = Date.now();
console.log(
  `fuzz: seed ${seed}, ${chosen.length} targets, ${budgetMs !== undefined ? `${budgetMs / 1000} s` : `${inputs} inputs per target`}`,
);

// An exception that escapes into the event loop (a throw from a timer or socket callback of the
// server under test) is a failure too; the runner attributes what it can, this catches the rest.
let escaped = 0;
process.on('uncaughtException', (err) => {
  escaped++;
  console.error(`fuzz: uncaught exception (a failure): ${err.stack ?? String(err)}`);
});
process.on('unhandledRejection', (err) => {
  escaped++;
  console.error(
    `fuzz: unhandled rejection (a failure): ${err instanceof Error ? (err.stack ?? '') : String(err)}`,
  );
});

const total = (stats: readonly TargetStats[]): number => stats.reduce((n, s) => n + s.inputs, 0);
const result = await runFuzz({
  seed,
  targets: chosen,
  save: values['no-save'] !== true,
  ...(budgetMs !== undefined ? { deadline: started + budgetMs } : { inputs: () => inputs ?? 0 }),
  onProgress: (stats) => {
    const elapsed = (Date.now() - started) / 1000;
    const n = total(stats);
    console.log(
      `fuzz: ${elapsed.toFixed(0)} s, ${n} inputs, ${Math.round(n / elapsed)} inputs/s, ${stats.reduce((f, s) => f + s.failures, 0)} failures`,
    );
  },
  onFailure: (v) => {
    console.log(
      `fuzz: FAIL ${v.target} #${v.index} [${v.property}] ${v.message.split('\n')[0] ?? ''}`,
    );
  },
});

const elapsed = (Date.now() - started) / 1000;
console.log('\ntarget                         inputs   inputs/s  failures');
for (const s of result.stats) {
  const rate = s.ms > 0 ? Math.round((s.inputs * 1000) / s.ms) : 0;
  console.log(
    `${s.name.padEnd(28)} ${String(s.inputs).padStart(9)} ${String(rate).padStart(9)} ${String(s.failures).padStart(9)}`,
  );
}
const n = total(result.stats);
console.log(
  `total                        ${String(n).padStart(9)} ${String(Math.round(n / elapsed)).padStart(9)} ${String(result.failures.length + escaped).padStart(9)}   (${elapsed.toFixed(1)} s, seed ${seed})`,
);
process.exit(result.failures.length + escaped > 0 ? 1 : 0);
