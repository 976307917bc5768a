/**
 * The bench's helper processes: the targets (native C when a compiler is there, else Node.js),
 * the Node.js load generator, and the native load generators for tunnels/s and UDP.
 */
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LaunchContext } from './contestants.js';
import { logTail, spawnManaged, type Managed } from './processes.js';
import type { TargetPorts } from './targets.js';
import type { RateResult } from './workloads.js';

/** Echo ports: a proxy's outgoing connections spread over this many 4-tuple destinations. */
export const ECHO_PORTS = 8;

export function nodeChild(
  name: string,
  script: string,
  ctx: LaunchContext,
  nofile: number,
): Managed {
  return spawnManaged(
    name,
    process.execPath,
    ['--import', 'tsx', join(ctx.repoRoot, 'bench', script)],
    {
      cwd: ctx.repoRoot,
      nofile,
      ipc: true,
      logPath: join(ctx.tmpDir, `${name}.log`),
    },
  );
}

/** The native helpers, compiled into the run's temp dir; undefined when there is no cc. */
export interface NativeTools {
  readonly targets: string;
  readonly tunnels: string;
  readonly udp: string;
}

export function buildNative(ctx: LaunchContext): NativeTools | undefined {
  const tools = {
    targets: join(ctx.tmpDir, 'targets'),
    tunnels: join(ctx.tmpDir, 'tunnels'),
    udp: join(ctx.tmpDir, 'udp'),
  };
  for (const [name, binary] of Object.entries(tools)) {
    const source = join(ctx.repoRoot, 'bench', 'native', `${name}.c`);
    const r = spawnSync('cc', ['-O2', '-o', binary, source], { encoding: 'utf8' });
    if (r.status !== 0) return undefined;
  }
  return tools;
}

export async function startNativeTargets(
  binary: string,
  ctx: LaunchContext,
  nofile: number,
  name = 'targets',
): Promise<{ targets: Managed; ports: TargetPorts }> {
  const targets = spawnManaged(name, binary, [String(ECHO_PORTS)], {
    nofile,
    ipc: false,
    stdinPipe: true,
    logPath: join(ctx.tmpDir, `${name}.log`),
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const line = logTail(targets.logPath, 50)
      .split('\n')
      .find((l) => l.startsWith('{"echo"'));
    if (line !== undefined) return { targets, ports: JSON.parse(line) as TargetPorts };
    if (targets.hasExited || Date.now() > deadline) {
      throw new Error(`native targets did not start: ${logTail(targets.logPath)}`);
    }
    await sleep(20);
  }
}

export async function startNodeTargets(
  ctx: LaunchContext,
  nofile: number,
  name = 'targets',
): Promise<{ targets: Managed; ports: TargetPorts }> {
  const targets = nodeChild(name, 'targets.ts', ctx, nofile);
  const ports = await new Promise<TargetPorts>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`targets did not start: ${logTail(targets.logPath)}`));
    }, 30_000);
    targets.child.once('message', (m: { ready: TargetPorts }) => {
      clearTimeout(timer);
      resolve(m.ready);
    });
  });
  return { targets, ports };
}

/** Runs one of the native load generators for one test; it prints one JSON line. */
export function runNative(
  tools: NativeTools,
  tool: 'tunnels' | 'udp',
  args: readonly (string | number)[],
  timeoutMs: number,
): Promise<RateResult & { cpuPct: number }> {
  return new Promise((resolve, reject) => {
    execFile(tools[tool], args.map(String), { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err !== null) {
        reject(new Error(`native ${tool} client: ${err.message} ${stderr}`));
        return;
      }
      const r = JSON.parse(stdout) as RateResult & { cpuPct: number; firstError: string };
      resolve({ ...r, firstError: r.firstError === '' ? undefined : r.firstError });
    });
  });
}
