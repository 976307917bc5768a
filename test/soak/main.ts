/**
 * `npm run soak -- [--minutes N] [--sample-seconds S]` (default 10 minutes; not part of npm test)
 *
 * Runs `ferry serve` (from source, config file, users file, log file, admin endpoint) as a child
 * process and puts every kind of load on it at once (test/soak/load.ts), plus a SIGHUP reload
 * (users and rules changed, the log file rotated) every 30 s. Samples RSS, heap, open fds and
 * event-loop lag from /metrics every few seconds. Fails (exit 1) when, after warm-up, one of them
 * grows by more than 5 % (and an absolute floor) between the first and the last window; when fds
 * or sessions do not come back to their idle level once the load stops; when any load saw
 * something unexpected; or when ferry does not exit 0 on SIGTERM. Prints the table.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { hashPassword } from '../../src/auth/password.js';
import { Load, startTargets } from './load.js';
import { judge, scrape, type Sample } from './samples.js';

const { values } = parseArgs({
  options: { minutes: { type: 'string' }, 'sample-seconds': { type: 'string' } },
});
const minutes = Number(values.minutes ?? 10);
const sampleEvery = Number(values['sample-seconds'] ?? 5) * 1000;
if (!(minutes > 0) || !(sampleEvery > 0)) {
  console.error('soak: --minutes and --sample-seconds must be positive numbers');
  process.exit(2);
}
const duration = minutes * 60;
const warmUp = Math.max(Math.min(120, duration * 0.2), duration * 0.2);
const windowSeconds = Math.min(120, (duration - warmUp) / 3);

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ferry-soak-'));
const usersFile = join(dir, 'users');
const configFile = join(dir, 'ferry.yaml');
const logFile = join(dir, 'ferry.log');
const log = (text: string): void => {
  console.log(`soak ${new Date().toISOString().slice(11, 19)} ${text}`);
};

const hash = await hashPassword('soak-password', { ln: 6, r: 8, p: 1 });
const extraHash = await hashPassword('another', { ln: 6, r: 8, p: 1 });
function writeConfig(variant: number): void {
  writeFileSync(usersFile, `soak:${hash}\n${variant % 2 === 1 ? `extra:${extraHash}\n` : ''}`);
  writeFileSync(
    configFile,
    [
      'listen: ["127.0.0.1:0"]',
      `users: ${usersFile}`,
      'access:',
      '  default: deny',
      '  rules:',
      ...(variant % 2 === 1
        ? ['    - { name: unused, action: deny, destination: 192.0.2.0/24 }']
        : []),
      '    - { name: soak-targets, action: allow, destination: 127.0.0.1/32 }',
      '    - { name: soak-udp, action: allow, command: udp }',
      'timeouts: { handshake: 5s, idle: 1h, drain: 5s }',
      'limits: { maxConnections: 5000, authFailureLimit: 5, authFailureWindow: 10s }',
      `log: { level: info, file: ${logFile} }`,
      'admin: 127.0.0.1:0',
      '',
    ].join('\n'),
  );
}

/** JSON log lines of ferry.log and every rotated ferry.log.N. */
function logLines(): Record<string, unknown>[] {
  const files = readdirSync(dir).filter((f) => f.startsWith('ferry.log'));
  return files.flatMap((f) =>
    readFileSync(join(dir, f), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  );
}

writeConfig(0);
const targets = await startTargets(4 * 2 ** 20, 32 * 2 ** 20);
const ferry = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--config', configFile], {
  stdio: ['ignore', 'inherit', 'inherit'],
});
let ferryPort = 0;
let adminUrl = '';
for (let i = 0; i < 200 && (ferryPort === 0 || adminUrl === ''); i++) {
  await new Promise((r) => setTimeout(r, 100));
  if (!existsSync(logFile)) continue;
  for (const l of logLines()) {
    if (l.event === 'listening') {
      const a = (l.addresses as string[])[0] ?? '';
      ferryPort = Number(a.slice(a.lastIndexOf(':') + 1));
    }
    if (l.event === 'admin') adminUrl = `http://${String(l.address)}`;
  }
}
if (ferryPort === 0 || adminUrl === '') {
  ferry.kill();
  throw new Error(`ferry did not start (log in ${dir})`);
}
log(
  `ferry pid ${ferry.pid} on 127.0.0.1:${ferryPort}, admin ${adminUrl}; ${minutes} min, warm-up ${warmUp} s, windows ${windowSeconds} s`,
);

await new Promise((r) => setTimeout(r, 2000));
const idle = await scrape(adminUrl, 0);
const load = new Load({
  ferryPort,
  targets,
  user: 'soak',
  password: 'soak-password',
  idleTunnels: 200,
  churnPerSecond: 40,
  bulkStreams: 2,
  bulkBytes: 32 * 2 ** 20,
  failedLoginsPerSecond: 5,
  udpPerSecond: 50,
});
const started = Date.now();
const elapsed = (): number => (Date.now() - started) / 1000;
load.start();

const samples: Sample[] = [];
let reloads = 0;
let nextReload = 30;
while (elapsed() < duration) {
  await new Promise((r) => setTimeout(r, sampleEvery));
  const s = await scrape(adminUrl, elapsed());
  samples.push(s);
  if (elapsed() >= nextReload) {
    nextReload += 30;
    reloads++;
    writeConfig(reloads);
    if (reloads % 4 === 0) renameSync(logFile, `${logFile}.${reloads}`); // rotated: reopened on SIGHUP
    ferry.kill('SIGHUP');
  }
  if (samples.length % Math.max(1, Math.round(60_000 / sampleEvery)) === 0) {
    log(
      `${Math.round(s.t)} s: RSS ${(s.rss / 2 ** 20).toFixed(1)} MiB, heap ${(s.heapUsed / 2 ** 20).toFixed(1)} MiB, ` +
        `fds ${s.fds}, sessions ${s.sessions}, lag p99 ${(s.lagP99 * 1000).toFixed(1)} ms; ` +
        Object.entries(load.counters)
          .map(([k, c]) => `${k} ${Math.round(c.ok)}${c.failed > 0 ? `/${c.failed} failed` : ''}`)
          .join(', '),
    );
  }
}
const end = elapsed();
await load.stop();
let after = await scrape(adminUrl, elapsed());
for (let i = 0; i < 60 && (after.sessions > 0 || after.fds > idle.fds + 2); i++) {
  await new Promise((r) => setTimeout(r, 500));
  after = await scrape(adminUrl, elapsed());
}
const exited = once(ferry, 'exit');
ferry.kill('SIGTERM');
const [exitCode] = (await exited) as [number | null];
await targets.close();

// --- Report -------------------------------------------------------------------------------
const verdicts = judge(samples, warmUp, windowSeconds, end);
const lines = logLines();
const reloaded = lines.filter((l) => l.event === 'reloaded').length;
const rejected = lines.filter((l) => l.event === 'reload-rejected').length;
const cpu =
  samples.length > 1
    ? (samples.at(-1)!.cpuSeconds - samples[0]!.cpuSeconds) / (samples.at(-1)!.t - samples[0]!.t)
    : 0;
const problems: string[] = [];
console.log(`\n| metric | after warm-up | last window | drift | verdict |\n|---|---|---|---|---|`);
for (const v of verdicts) {
  const f = (x: number): string =>
    `${x.toFixed(v.unit === '' ? 0 : 1)}${v.unit === '' ? '' : ` ${v.unit}`}`;
  console.log(
    `| ${v.name} | ${f(v.early)} | ${f(v.late)} | ${v.driftPct >= 0 ? '+' : ''}${v.driftPct.toFixed(1)} % | ${v.ok ? 'ok' : 'DRIFT'} |`,
  );
  if (!v.ok) problems.push(`${v.name} grew ${v.driftPct.toFixed(1)} %`);
}
console.log(
  `| open fds idle → after load | ${idle.fds} | ${after.fds} | ${after.fds - idle.fds} | ${after.fds <= idle.fds + 2 ? 'ok' : 'LEAK'} |`,
);
console.log(
  `| sessions after load | 0 | ${after.sessions} | | ${after.sessions === 0 ? 'ok' : 'LEAK'} |`,
);
if (after.fds > idle.fds + 2) problems.push(`fds ${idle.fds} idle, ${after.fds} after the load`);
if (after.sessions !== 0) problems.push(`${after.sessions} sessions left after the load`);
console.log(`\n| load | done | unexpected |\n|---|---|---|`);
for (const [k, c] of Object.entries(load.counters)) {
  console.log(
    `| ${k} | ${Math.round(c.ok)} | ${c.failed}${c.note !== undefined && c.failed > 0 ? ` (${c.note})` : ''} |`,
  );
  if (c.failed > 0) problems.push(`${k}: ${c.failed} unexpected (${c.note ?? ''})`);
}
console.log(`| SIGHUP reloads | ${reloaded} of ${reloads} | ${rejected} rejected |`);
if (reloaded !== reloads || rejected > 0)
  problems.push(`reloads: ${reloaded} of ${reloads}, ${rejected} rejected`);
console.log(
  `\nferry CPU ${(cpu * 100).toFixed(0)} % of a core; ${samples.length} samples every ${sampleEvery / 1000} s over ${(end / 60).toFixed(1)} min; exit ${exitCode}`,
);
if (exitCode !== 0) problems.push(`ferry exited ${exitCode} on SIGTERM`);
if (problems.length > 0) {
  console.log(`\nsoak: FAILED\n- ${problems.join('\n- ')}\n(logs in ${dir})`);
  process.exit(1);
}
rmSync(dir, { recursive: true, force: true });
console.log('\nsoak: passed');
