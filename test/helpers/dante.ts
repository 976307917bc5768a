// Starts Dante (Debian's dante-server, `danted`) for interop tests: a config from
// test/fixtures/dante.conf on a free loopback port, in the foreground, stopped by the test.
//
// Dante's "username" method checks RFC 1929 credentials against the system's users, so the
// helper creates one (DANTE_USER, password DANTE_PASSWORD) with useradd/chpasswd. That needs
// root: as in CI (which runs as root); elsewhere the username tests are skipped. The user is a
// locked-down system account (no home, nologin shell) and is left in place for the next run.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const DANTE_USER = 'ferry-dante';
export const DANTE_PASSWORD = 'dante-secret';

const inCI = process.env.CI === 'true';

function which(binary: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() || undefined : undefined;
}

/** Why Dante tests cannot run here, or undefined. In CI a missing danted is a failure. */
export function danteUnavailable(): string | undefined {
  if (which('danted') !== undefined) return undefined;
  const reason = 'danted not found (apt-get install dante-server)';
  if (inCI) throw new Error(`CI=true and ${reason}`);
  return reason;
}

/** Creates the system user Dante's username method checks, or says why it cannot. */
export function ensureDanteUser(): string | undefined {
  if (process.getuid?.() !== 0) {
    const reason = 'creating the system user for Dante username auth needs root';
    if (inCI) throw new Error(`CI=true and ${reason}`);
    return reason;
  }
  if (spawnSync('id', [DANTE_USER]).status !== 0) {
    const r = spawnSync('useradd', [
      '--system',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      DANTE_USER,
    ]);
    if (r.status !== 0) throw new Error(`useradd failed: ${String(r.stderr)}`);
  }
  const r = spawnSync('chpasswd', [], { input: `${DANTE_USER}:${DANTE_PASSWORD}\n` });
  if (r.status !== 0) throw new Error(`chpasswd failed: ${String(r.stderr)}`);
  return undefined;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      resolve(false);
    });
  });
}

export interface Dante {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts danted with `socksmethod: <methods>`; resolves once it accepts connections. */
export async function startDante(methods: 'none' | 'username'): Promise<Dante> {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-dante-'));
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort(); // a small race with other listeners; retried below
    const config = readFileSync(new URL('../fixtures/dante.conf', import.meta.url), 'utf8')
      .replaceAll('@PORT@', String(port))
      .replaceAll('@METHODS@', methods);
    const file = join(dir, 'danted.conf');
    writeFileSync(file, config);
    const child: ChildProcess = spawn('danted', ['-f', file, '-p', join(dir, 'danted.pid')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        resolve();
      }),
    );
    for (let i = 0; i < 50 && child.exitCode === null; i++) {
      if (await accepting(port)) {
        return {
          port,
          url: `socks5://127.0.0.1:${port}`,
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGKILL');
    await exited;
    lastError = stderr;
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`danted did not start: ${lastError}`);
}
