/**
 * Child processes of the bench: start with a raised fd limit in their own process group, wait
 * until they listen, read their memory and CPU from /proc (summed over the whole process tree, so
 * that Dante's forked children count), and stop them — by group, so that nothing outlives a run.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves with the exit code (or signal name) when the process exits. */
  readonly exited: Promise<string>;
  hasExited: boolean;
}

const live = new Set<Managed>();

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

// Whatever happens to the bench, its children go with it (they are in their own process groups,
// so a Ctrl-C in the terminal does not reach them by itself).
process.on('exit', () => {
  for (const m of live) killGroup(m.pid, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}, stopping\n`);
    process.exit(130);
  });
}

export interface SpawnOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Soft and hard RLIMIT_NOFILE to ask for (root may raise the hard limit). */
  readonly nofile: number;
  readonly ipc: boolean;
  /** Give the child a stdin pipe that stays open while the bench lives (its cue to exit). */
  readonly stdinPipe?: boolean;
  readonly logPath: string;
}

/**
 * Starts `command args` through `sh -c 'ulimit -n N; exec ...'` (so the pid is the command's own)
 * in a new process group, stdout and stderr to `logPath`.
 */
export function spawnManaged(
  name: string,
  command: string,
  args: readonly string[],
  opts: SpawnOptions,
): Managed {
  const log = openSync(opts.logPath, 'a');
  const script = `ulimit -n ${opts.nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`;
  const child = spawn('/bin/sh', ['-c', script, command, ...args], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: [
      opts.stdinPipe === true ? 'pipe' : 'ignore',
      log,
      log,
      ...(opts.ipc ? ['ipc' as const] : []),
    ],
  });
  closeSync(log);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  let markExited: (how: string) => void = () => undefined;
  const exited = new Promise<string>((resolve) => (markExited = resolve));
  const managed: Managed = {
    name,
    child,
    pid: child.pid,
    logPath: opts.logPath,
    exited,
    hasExited: false,
  };
  child.on('exit', (code, signal) => {
    managed.hasExited = true;
    live.delete(managed);
    markExited(signal ?? String(code));
  });
  child.on('error', (err) => {
    managed.hasExited = true;
    live.delete(managed);
    markExited(err.message);
  });
  live.add(managed);
  return managed;
}

/** SIGTERM to the process group, SIGKILL after `graceMs`. */
export async function stopManaged(m: Managed, graceMs = 2000): Promise<void> {
  if (m.hasExited) return;
  killGroup(m.pid, 'SIGTERM');
  const done = await Promise.race([m.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) {
    killGroup(m.pid, 'SIGKILL');
    await Promise.race([m.exited, sleep(1000)]);
  }
  // Dante's children may linger a moment after the parent; the group kill reaches them.
  killGroup(m.pid, 'SIGKILL');
}

/** Resolves when a TCP connect to host:port succeeds; rejects on timeout or if `m` exits first. */
export async function waitForListening(
  m: Managed,
  host: string,
  port: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (m.hasExited) throw new Error(`${m.name} exited during start-up (see ${m.logPath})`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => {
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) {
      throw new Error(`${m.name} did not listen on ${host}:${port} within ${timeoutMs} ms`);
    }
    await sleep(50);
  }
}

/** Binds port 0 on host and returns the port the kernel chose (then frees it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => {
        resolve(port);
      });
    });
  });
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Fields of /proc/PID/stat after the command name: [0] state, [1] ppid, [11..14] CPU ticks. */
function statFields(pid: number): string[] | undefined {
  const text = readText(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** `root` and all its descendants, found through the parent pid in /proc/PID/stat. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = Number(statFields(Number(entry))?.[1]);
    if (!Number.isFinite(ppid)) continue;
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

export interface TreeStats {
  readonly processes: number;
  /** Sum of VmRSS over the tree (shared pages counted once per process, as `ps` would). */
  readonly rssKiB: number;
  /** Sum of Pss over the tree (shared pages divided among their users). */
  readonly pssKiB: number;
  /** User + system CPU seconds consumed so far by the tree's live processes. */
  readonly cpuSeconds: number;
}

function kib(text: string | undefined, field: string): number {
  const m = text === undefined ? null : new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
}

/** Memory and CPU of `root` and its descendants; pss only when `withPss` (smaps is slower). */
export function treeStats(root: number, withPss = false): TreeStats {
  let rssKiB = 0;
  let pssKiB = 0;
  let ticks = 0;
  const pids = processTree(root);
  for (const pid of pids) {
    rssKiB += kib(readText(`/proc/${pid}/status`), 'VmRSS');
    if (withPss) pssKiB += kib(readText(`/proc/${pid}/smaps_rollup`), 'Pss');
    const f = statFields(pid);
    // utime + stime, plus cutime + cstime: children that exited and were reaped (Dante forks).
    if (f !== undefined) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return { processes: pids.length, rssKiB, pssKiB, cpuSeconds: ticks / ticksPerSecond() };
}

/** The soft RLIMIT_NOFILE of a running process, from /proc/PID/limits. */
export function fdLimitOf(pid: number): number | undefined {
  const m = /^Max open files\s+(\d+)/m.exec(readText(`/proc/${pid}/limits`) ?? '');
  return m === null ? undefined : Number(m[1]);
}

/** The last `lines` lines of a log file, for error messages. */
export function logTail(path: string, lines = 15): string {
  return (readText(path) ?? '').trimEnd().split('\n').slice(-lines).join('\n');
}
