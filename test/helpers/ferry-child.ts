/**
 * Starts ferry-child-main.ts in a child process (optionally under `ulimit -n`) and talks to it
 * over IPC: where it listens, its memory, descriptors and sessions, and a clean close.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { ChildRequest, ChildSpec, ChildStats } from './ferry-child-main.js';

const MAIN = fileURLToPath(new URL('./ferry-child-main.ts', import.meta.url));

export type { ChildSpec, ChildStats };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export class FerryChild {
  readonly child: ChildProcess;
  readonly port: number;
  stderr = '';
  #nextId = 1;
  readonly #waiting = new Map<number, (m: unknown) => void>();

  private constructor(child: ChildProcess, port: number) {
    this.child = child;
    this.port = port;
    child.on('message', (m: { id?: number }) => {
      if (m.id === undefined) return;
      this.#waiting.get(m.id)?.(m);
      this.#waiting.delete(m.id);
    });
  }

  /**
   * Starts the child. `ulimit` caps its open files (`ulimit -n`); `exposeGc` lets `stats(true)`
   * collect garbage first, so that heap and RSS figures are comparable.
   */
  static async start(
    spec: ChildSpec,
    options: { ulimit?: number; exposeGc?: boolean; maxOldSpaceMb?: number } = {},
  ): Promise<FerryChild> {
    const nodeArgs = [
      ...(options.exposeGc === true ? ['--expose-gc'] : []),
      ...(options.maxOldSpaceMb !== undefined
        ? [`--max-old-space-size=${options.maxOldSpaceMb}`]
        : []),
      '--import',
      'tsx',
      MAIN,
      JSON.stringify(spec),
    ];
    const child =
      options.ulimit === undefined
        ? spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] })
        : spawn(
            'sh',
            ['-c', `ulimit -n ${options.ulimit} && exec "$0" "$@"`, process.execPath, ...nodeArgs],
            {
              stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
            },
          );
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const listening = new Promise<number>((resolve, reject) => {
      child.on('message', (m: { type?: string; port?: number }) => {
        if (m.type === 'listening' && m.port !== undefined) resolve(m.port);
      });
      child.once('exit', (code, signal) => {
        reject(new Error(`ferry child exited (${code ?? signal}) before listening: ${stderr}`));
      });
    });
    const port = await listening;
    const ferry = new FerryChild(child, port);
    child.stderr?.on('data', (c: Buffer) => (ferry.stderr += c.toString()));
    return ferry;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  #request<T>(m: DistributiveOmit<ChildRequest, 'id'>): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      if (!this.alive) {
        reject(new Error(`ferry child is gone: ${this.stderr}`));
        return;
      }
      this.#waiting.set(id, (r) => {
        resolve(r as T);
      });
      const request: ChildRequest = { ...m, id };
      this.child.send(request);
    });
  }

  async stats(gc = false): Promise<ChildStats> {
    const r = await this.#request<{ stats: ChildStats }>({ type: 'stats', gc });
    return r.stats;
  }

  /** Closes the server (drain as given, default none) and waits for the process to exit. */
  async close(drainTimeout = 0): Promise<void> {
    if (!this.alive) return;
    const exited = once(this.child, 'exit');
    await this.#request({ type: 'close', drainTimeout });
    await exited;
  }

  kill(): void {
    if (this.alive) this.child.kill('SIGKILL');
  }
}
