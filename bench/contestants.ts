/**
 * How each contestant is started. One adapter per proxy: the command line, the config file it
 * needs (written into the run's temp dir), whether it relays UDP, whether it is a Node process
 * (then the lag probe is preloaded). Adjust the ferry adapter here as ferry's CLI grows.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ContestantName } from './args.js';

export interface LaunchContext {
  readonly repoRoot: string;
  readonly tmpDir: string;
  readonly ferryDir: string;
  readonly ferryArgs: readonly string[];
  readonly ferryNodeArgs: readonly string[];
  /** Tunnels the run will hold at once (sizes connection limits). */
  readonly maxTunnels: number;
}

export interface Launch {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface ContestantSpec {
  readonly name: ContestantName;
  /** false for `direct`, which the load generator reaches without a proxy. */
  readonly isProxy: boolean;
  readonly udp: boolean;
  /** A Node.js process: preload bench/lag-probe.mjs and talk to it over IPC. */
  readonly node: boolean;
  /** All its tunnels live in one process (so its fd limit bounds them), as opposed to Dante's. */
  singleProcess(ctx: LaunchContext): boolean;
  /** Caps the idle-tunnel test (with the reason), where N would not fit this machine. */
  readonly idleCap?: { readonly tunnels: number; readonly why: string };
  /** Why it cannot run here, or undefined when it can. */
  unavailable(ctx: LaunchContext): string | undefined;
  launch(port: number, ctx: LaunchContext): Launch;
  /** A one-line version string, when the program can tell. */
  version?(ctx: LaunchContext): string | undefined;
}

/** Looks `name` up in PATH and the sbin directories (danted lives in /usr/sbin). */
export function findExecutable(name: string): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/local/sbin',
    '/usr/sbin',
    '/sbin',
  ];
  for (const dir of dirs) {
    if (dir === '') continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

const probe = (ctx: LaunchContext): string =>
  pathToFileURL(join(ctx.repoRoot, 'bench', 'lag-probe.mjs')).href;

const ferryEntry = (ctx: LaunchContext): string => join(ctx.ferryDir, 'dist', 'cli', 'main.js');

const direct: ContestantSpec = {
  name: 'direct',
  isProxy: false,
  udp: true,
  node: false,
  singleProcess: () => false,
  unavailable: () => undefined,
  launch: () => {
    throw new Error('direct has no process');
  },
};

const ferry: ContestantSpec = {
  name: 'ferry',
  isProxy: true,
  udp: true,
  node: true,
  // Cluster mode spreads tunnels over worker processes, each with its own fd limit.
  singleProcess: (ctx) => !ctx.ferryArgs.some((a) => a.startsWith('--workers')),

  unavailable: (ctx) =>
    existsSync(ferryEntry(ctx))
      ? undefined
      : `${ferryEntry(ctx)} not found (ferry's CLI not built yet: npm run build)`,
  launch: (port, ctx) => ferryLaunch(port, ctx, []),
  version: ferryVersion,
};

const ferryLaunch = (port: number, ctx: LaunchContext, extra: readonly string[]): Launch => ({
  command: process.execPath,
  args: [
    ...ctx.ferryNodeArgs,
    '--import',
    probe(ctx),
    ferryEntry(ctx),
    'serve',
    '--listen',
    `127.0.0.1:${port}`,
    // No per-session access line: Dante and microsocks log nothing per session here either.
    '--log-level',
    'warn',
    '--max-connections',
    String(ctx.maxTunnels + 1000),
    ...extra,
    ...ctx.ferryArgs,
  ],
  cwd: ctx.ferryDir,
});

function ferryVersion(ctx: LaunchContext): string | undefined {
  const r = spawnSync(process.execPath, [ferryEntry(ctx), '--version'], { encoding: 'utf8' });
  return r.status === 0 ? `ferry ${r.stdout.trim()}` : undefined;
}

/**
 * ferry on every core, as microsocks (a thread per session) and Dante (processes) use them: one
 * worker per core, each accepting on the shared socket (`--balance kernel`).
 */
const ferryCores: ContestantSpec = {
  ...ferry,
  name: 'ferry-cores',
  // The kernel's spread is uneven: every idle tunnel may land in one worker, so ask no more of
  // it than one process can hold.
  singleProcess: () => true,
  launch: (port, ctx) => ferryLaunch(port, ctx, ['--workers', 'auto', '--balance', 'kernel']),
};

const naiveNode: ContestantSpec = {
  name: 'naive-node',
  isProxy: true,
  udp: true,
  node: true,
  singleProcess: () => true,
  unavailable: () => undefined,
  launch: (port, ctx) => ({
    command: process.execPath,
    args: ['--import', probe(ctx), join(ctx.repoRoot, 'bench', 'naive-socks5.mjs'), String(port)],
  }),
  version: () => `node ${process.version}`,
};

/**
 * A minimal loopback danted.conf: no auth, CONNECT and UDP within 127.0.0.0/8, errors only.
 * Dante binds its outgoing sockets to the external address before connecting, so a port held in
 * TIME_WAIT by anyone on that address is unusable to it: 127.0.0.3 keeps the other contestants'
 * closed connections (all on 127.0.0.1) from exhausting its ephemeral ports.
 */
export function danteConfig(port: number): string {
  return `# written by ferry's bench for one run
logoutput: stderr
internal: 127.0.0.1 port = ${port}
external: 127.0.0.3
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 127.0.0.0/8 to: 127.0.0.0/8
  log: error
}
socks pass {
  from: 127.0.0.0/8 to: 127.0.0.0/8
  command: connect udpassociate udpreply
  log: error
}
`;
}

const dante: ContestantSpec = {
  name: 'dante',
  isProxy: true,
  udp: true,
  node: false,
  singleProcess: () => false,
  idleCap: {
    tunnels: 10_000,
    why: 'Dante forks a process per few dozen sessions (~370 KiB per tunnel): 100 000 would need ~37 GB',
  },
  unavailable: () =>
    findExecutable('danted') === undefined
      ? 'danted not installed (apt-get install dante-server)'
      : undefined,
  launch: (port, ctx) => {
    const conf = join(ctx.tmpDir, 'danted.conf');
    writeFileSync(conf, danteConfig(port));
    // No -D: danted stays in the foreground, in our process group.
    return {
      command: findExecutable('danted')!,
      args: ['-f', conf, '-p', join(ctx.tmpDir, 'danted.pid')],
    };
  },
  version: () => {
    const r = spawnSync(findExecutable('danted')!, ['-v'], { encoding: 'utf8' });
    return /Dante v[\d.]+/.exec(r.stdout + r.stderr)?.[0];
  },
};

const microsocks: ContestantSpec = {
  name: 'microsocks',
  isProxy: true,
  udp: false, // microsocks has neither UDP ASSOCIATE nor BIND
  node: false,
  singleProcess: () => true,
  idleCap: {
    tunnels: 10_000,
    why: 'microsocks runs a thread per session; pid_max (often 32 768) and vm.max_map_count bound threads',
  },
  unavailable: () =>
    findExecutable('microsocks') === undefined
      ? 'microsocks not installed (apt-get install microsocks)'
      : undefined,
  launch: (port) => ({
    command: findExecutable('microsocks')!,
    args: ['-i', '127.0.0.1', '-p', String(port)],
  }),
};

/** Descriptors a process keeps for itself (listeners, IPC, stdio, libuv) beyond its tunnels. */
export const FD_RESERVE = 512;

/** How many tunnels this contestant can be asked to hold here, and why fewer than asked. */
export function idleCount(
  spec: ContestantSpec,
  ctx: LaunchContext,
  requested: number,
  fdLimit: number,
): { count: number; why?: string } {
  let count = requested;
  let why: string | undefined;
  if (spec.idleCap !== undefined && spec.idleCap.tunnels < count) {
    count = spec.idleCap.tunnels;
    why = spec.idleCap.why;
  }
  const fdCap = Math.floor((fdLimit - FD_RESERVE) / 2);
  if (spec.singleProcess(ctx) && fdCap < count) {
    count = fdCap;
    why = `one process holds 2 descriptors per tunnel and may open ${fdLimit}`;
  }
  return why === undefined ? { count } : { count, why };
}

export const contestantSpecs: Readonly<Record<ContestantName, ContestantSpec>> = {
  direct,
  ferry,
  'ferry-cores': ferryCores,
  'naive-node': naiveNode,
  dante,
  microsocks,
};
