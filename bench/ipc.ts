/**
 * Request/response over a child's IPC channel, with a timeout on every request: the load
 * generator (`{ id, job }` → `{ id, result | error }`) and the lag probe preloaded into Node
 * contestants (`{ benchLag: 'read', id }` → `{ benchLag: 'report', id, ... }`).
 */
import type { ChildProcess } from 'node:child_process';
import type { Job } from './workloads.js';

let nextId = 1;

function request<T>(
  child: ChildProcess,
  message: (id: number) => object,
  match: (reply: Record<string, unknown>, id: number) => boolean,
  unwrap: (reply: Record<string, unknown>) => T,
  what: string,
  timeoutMs: number,
): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (reply: unknown): void => {
      if (reply === null || typeof reply !== 'object') return;
      const r = reply as Record<string, unknown>;
      if (!match(r, id)) return;
      cleanup();
      try {
        resolve(unwrap(r));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    };
    const onExit = (): void => {
      cleanup();
      reject(new Error(`${what}: the process exited`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.send(message(id));
  });
}

/** Runs one job in the load generator. @throws Error with the job's own error message. */
export function callLoadgen<T>(child: ChildProcess, job: Job, timeoutMs: number): Promise<T> {
  return request<T>(
    child,
    (id) => ({ id, job }),
    (r, id) => r.id === id,
    (r) => {
      if (typeof r.error === 'string') throw new Error(r.error);
      return r.result as T;
    },
    `load generator (${job.kind})`,
    timeoutMs,
  );
}

export interface LagReport {
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
  readonly count: number;
}

/** Starts a new lag window in a contestant that preloads bench/lag-probe.mjs. */
export function resetLag(child: ChildProcess): void {
  if (child.connected) child.send({ benchLag: 'reset' });
}

/** Reads the lag window; undefined when the probe does not answer within 2 s. */
export async function readLag(child: ChildProcess): Promise<LagReport | undefined> {
  if (!child.connected) return undefined;
  try {
    return await request<LagReport>(
      child,
      (id) => ({ benchLag: 'read', id }),
      (r, id) => r.benchLag === 'report' && r.id === id,
      (r) => r as unknown as LagReport,
      'lag probe',
      2000,
    );
  } catch {
    return undefined;
  }
}
