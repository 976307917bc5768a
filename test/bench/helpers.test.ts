// The benchmark's own arithmetic and parsing: percentiles, medians, ratios, table layout, target
// judging and command-line options. (The benchmark itself is never run by the tests.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BenchUsageError, parseBenchArgs } from '../../bench/args.js';
import { contestantSpecs, danteConfig, idleCount } from '../../bench/contestants.js';
import {
  formatFigure,
  formatRatio,
  formatTable,
  judgeTargets,
  pairwiseRatios,
  type Figures,
} from '../../bench/report.js';
import { median, percentile, ratio, relativeSpread, SampleBuffer } from '../../bench/stats.js';
import { requestBytes } from '../../bench/socks5-client.js';

test('percentile interpolates between closest ranks (R type 7)', () => {
  const v = [15, 20, 35, 40, 50];
  assert.equal(percentile(v, 0), 15);
  assert.equal(percentile(v, 100), 50);
  assert.equal(percentile(v, 50), 35);
  // rank 0.4 * 4 = 1.6 -> 20 + 0.6 * (35 - 20) = 29
  assert.equal(percentile(v, 40), 29);
  // order of the input does not matter, and the input is not sorted in place
  const shuffled = [40, 15, 50, 35, 20];
  assert.equal(percentile(shuffled, 40), 29);
  assert.deepEqual(shuffled, [40, 15, 50, 35, 20]);
});

test('percentile p99 of 1..100 is 99.01; of one sample is that sample; of none is NaN', () => {
  const v = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.ok(Math.abs(percentile(v, 99) - 99.01) < 1e-9);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('percentile rejects p outside 0..100', () => {
  assert.throws(() => percentile([1], 101), RangeError);
  assert.throws(() => percentile([1], -1), RangeError);
  assert.throws(() => percentile([1], Number.NaN), RangeError);
});

test('median averages the middle pair and ignores non-finite values', () => {
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([3, Number.NaN, 1, Number.POSITIVE_INFINITY, 2]), 2);
  assert.ok(Number.isNaN(median([Number.NaN])));
});

test('relativeSpread is (max - min) / median, NaN for fewer than two values', () => {
  assert.equal(relativeSpread([90, 100, 110]), 0.2);
  assert.ok(Number.isNaN(relativeSpread([5])));
});

test('ratio is NaN when either side is missing, not finite, or the divisor is 0', () => {
  assert.equal(ratio(3, 2), 1.5);
  assert.ok(Number.isNaN(ratio(1, 0)));
  assert.ok(Number.isNaN(ratio(undefined, 2)));
  assert.ok(Number.isNaN(ratio(1, Number.NaN)));
});

test('SampleBuffer grows past its capacity and summarizes like percentile()', () => {
  const b = new SampleBuffer(16);
  const values: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const v = (i * 7919) % 1000; // a permutation of 0..999
    b.push(v);
    values.push(v);
  }
  const s = b.summary();
  assert.equal(s.samples, 1000);
  assert.equal(s.p50, percentile(values, 50));
  assert.equal(s.p99, percentile(values, 99));
  assert.equal(s.max, 999);
  assert.equal(s.mean, 499.5);
  assert.ok(Number.isNaN(new SampleBuffer().summary().p50));
});

test('formatFigure: fewer decimals as numbers grow, thousands grouped, n/a for NaN', () => {
  assert.equal(formatFigure(1.234), '1.23');
  assert.equal(formatFigure(12.34), '12.3');
  assert.equal(formatFigure(123.4), '123');
  assert.equal(formatFigure(1234567.8), '1 234 568');
  assert.equal(formatFigure(-1234), '-1 234');
  assert.equal(formatFigure(Number.NaN), 'n/a');
  assert.equal(formatFigure(undefined), 'n/a');
});

test('formatRatio: two decimals under 10, one above, with ×', () => {
  assert.equal(formatRatio(0.304), '0.30×');
  assert.equal(formatRatio(12.34), '12.3×');
  assert.equal(formatRatio(Number.POSITIVE_INFINITY), 'n/a');
});

test('formatTable pads columns (first left-aligned, rest right-aligned) and counts µ as one', () => {
  const text = formatTable(
    ['metric', 'a', 'bb'],
    [
      ['rtt µs', '1', '22'],
      ['x', '333', '4'],
    ],
  );
  assert.equal(
    text,
    ['metric    a  bb', '------  ---  --', 'rtt µs    1  22', 'x       333   4'].join('\n'),
  );
});

test('judgeTargets divides the subject by the named contestant and compares with the goal', () => {
  const figures: Figures = {
    direct: { rttP99: 100 },
    ferry: { down1: 650, down8: 500, rttP99: 140, idleKiB: 7.5, tunnelsPerSec: 1000 },
    dante: { down1: 500, down8: 500 },
    microsocks: { tunnelsPerSec: 1000 },
  };
  const outcomes = judgeTargets(figures, 'ferry');
  const by = (label: string) => outcomes.find((o) => o.label.startsWith(label));
  assert.equal(by('throughput 1 stream')?.value, 1.3);
  assert.equal(by('throughput 1 stream')?.met, true); // exactly the goal counts as met
  assert.equal(by('throughput 8 streams')?.met, false);
  assert.equal(by('tunnels/s')?.met, false);
  assert.equal(by('round trip p99')?.value, 1.4);
  assert.equal(by('round trip p99')?.met, false); // lower is better: 1.4 > 1.3
  assert.equal(by('idle memory')?.value, 7.5);
  assert.equal(by('idle memory')?.met, true);
  assert.equal(by('UDP')?.met, undefined); // not measured: cannot be judged
});

test('pairwiseRatios holds a/b for every measured pair and leaves out the rest', () => {
  const r = pairwiseRatios({ direct: { down1: 100 }, dante: { down1: 25, udpPerSec: 5 } });
  assert.equal(r.down1?.dante?.direct, 0.25);
  assert.equal(r.down1.direct?.dante, 4);
  assert.equal(r.udpPerSec?.dante?.dante, 1);
  assert.equal(r.udpPerSec.direct, undefined);
  assert.equal(r.rttP50, undefined);
});

test('parseBenchArgs: defaults, direct always first, canonical order', () => {
  const d = parseBenchArgs([]);
  assert.deepEqual(d.contestants, [
    'direct',
    'ferry',
    'ferry-cores',
    'naive-node',
    'dante',
    'microsocks',
  ]);
  assert.equal(d.rounds, 3);
  assert.equal(d.durationMs, 2000);
  assert.equal(d.idleTunnels, 10_000);
  assert.equal(d.save, false);
  assert.equal(d.json, undefined);
  const o = parseBenchArgs(['--only', 'microsocks,ferry', '--rounds', '5', '--duration', '1.5']);
  assert.deepEqual(o.contestants, ['direct', 'ferry', 'microsocks']);
  assert.equal(o.rounds, 5);
  assert.equal(o.durationMs, 1500);
});

test('parseBenchArgs: --quick shortens everything unless told otherwise', () => {
  const q = parseBenchArgs(['--quick']);
  assert.equal(q.rounds, 1);
  assert.equal(q.durationMs, 500);
  assert.equal(q.idleTunnels, 1000);
  const q2 = parseBenchArgs([
    '--quick',
    '--idle-tunnels',
    '100000',
    '--json',
    'out.json',
    '--save',
  ]);
  assert.equal(q2.idleTunnels, 100_000);
  assert.equal(q2.json, 'out.json');
  assert.equal(q2.save, true);
});

test('parseBenchArgs: bad values name the flag', () => {
  assert.throws(() => parseBenchArgs(['--only', 'squid']), /--only: unknown name "squid"/);
  assert.throws(() => parseBenchArgs(['--rounds', '0']), /--rounds must be a number >= 1/);
  assert.throws(() => parseBenchArgs(['--rounds', '1.5']), /--rounds must be an integer/);
  assert.throws(() => parseBenchArgs(['--duration', 'abc']), /--duration/);
  assert.throws(() => parseBenchArgs(['--tests', '']), /--tests needs at least one name/);
  assert.throws(() => parseBenchArgs(['--frobnicate']), BenchUsageError);
});

test('the bench client writes the RFC 1928 §4 CONNECT request it means to', () => {
  // VER=05 CMD=01 RSV=00 ATYP=01 DST.ADDR=127.0.0.1 DST.PORT=0x1F90 (8080)
  assert.deepEqual(
    [...requestBytes(0x01, { host: '127.0.0.1', port: 8080 })],
    [0x05, 0x01, 0x00, 0x01, 0x7f, 0x00, 0x00, 0x01, 0x1f, 0x90],
  );
  assert.throws(() => requestBytes(0x01, { host: '::1', port: 1 }), /IPv4 only/);
});

test('idleCount caps single-process proxies by their fd limit and Dante by memory', () => {
  const ctx = {
    repoRoot: '/r',
    tmpDir: '/t',
    ferryDir: '/f',
    ferryArgs: [] as string[],
    ferryNodeArgs: [] as string[],
    maxTunnels: 100_000,
  };
  // (20 000 - 512 reserved) / 2 descriptors per tunnel
  assert.deepEqual(idleCount(contestantSpecs.ferry, ctx, 100_000, 20_000).count, 9744);
  assert.match(idleCount(contestantSpecs.ferry, ctx, 100_000, 20_000).why ?? '', /20000/);
  assert.deepEqual(idleCount(contestantSpecs.ferry, ctx, 5000, 20_000), { count: 5000 });
  // cluster mode: tunnels spread over workers, each with its own limit
  const workers = { ...ctx, ferryArgs: ['--workers', '12'] };
  assert.deepEqual(idleCount(contestantSpecs.ferry, workers, 100_000, 20_000), { count: 100_000 });
  // ferry-cores: the kernel may put every tunnel in one worker, so one process's limit applies
  assert.equal(idleCount(contestantSpecs['ferry-cores'], ctx, 100_000, 20_000).count, 9744);
  assert.equal(idleCount(contestantSpecs.dante, ctx, 100_000, 1_000_000).count, 10_000);
  assert.equal(idleCount(contestantSpecs.microsocks, ctx, 100_000, 1_000_000).count, 10_000);
  assert.deepEqual(idleCount(contestantSpecs['naive-node'], ctx, 100_000, 1_000_000), {
    count: 100_000,
  });
});

test('ferry-cores is ferry with a worker per core, each accepting (--balance kernel)', () => {
  const ctx = {
    repoRoot: '/r',
    tmpDir: '/t',
    ferryDir: '/f',
    ferryArgs: ['--udp-ports', '40000-40100'],
    ferryNodeArgs: [] as string[],
    maxTunnels: 10,
  };
  const plain = contestantSpecs.ferry.launch(1080, ctx).args;
  const cores = contestantSpecs['ferry-cores'].launch(1080, ctx).args;
  assert.deepEqual(cores.slice(0, plain.length - 2), plain.slice(0, -2));
  assert.deepEqual(cores.slice(plain.length - 2), [
    '--workers',
    'auto',
    '--balance',
    'kernel',
    '--udp-ports',
    '40000-40100',
  ]);
});

test('the Dante config passes loopback clients, CONNECT and UDP, and sends from 127.0.0.3', () => {
  const conf = danteConfig(10_080);
  assert.match(conf, /^internal: 127\.0\.0\.1 port = 10080$/m);
  assert.match(conf, /^external: 127\.0\.0\.3$/m);
  assert.match(conf, /^socksmethod: none$/m);
  assert.match(conf, /command: connect udpassociate udpreply/);
});
