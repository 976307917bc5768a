/**
 * The idle-tunnel workload of the load generator: open N tunnels (each echoes one byte, so the
 * path to the target is known to work), hold them while the bench reads the proxy's memory,
 * check that they are all still open, close them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Endpoint, Tunnel } from './socks5-client.js';
import { HANDSHAKE_TIMEOUT_MS, echoOnce, message, noop, tunnelTo } from './workloads.js';

export interface IdleOpenJob {
  readonly kind: 'idle-open';
  readonly proxy: Endpoint | null;
  readonly dests: readonly Endpoint[];
  readonly localAddresses: readonly string[];
  readonly count: number;
  readonly concurrency: number;
  readonly timeoutMs: number;
}

export interface IdleCheckJob {
  readonly kind: 'idle-check';
  /** How many held tunnels to echo a byte through (all are checked for being open). */
  readonly sample: number;
}

export interface IdleCloseJob {
  readonly kind: 'idle-close';
}

export interface IdleResult {
  readonly opened: number;
  readonly alive: number;
  readonly errors: number;
  readonly elapsedMs: number;
  readonly firstError?: string | undefined;
}

export type IdleJob = IdleOpenJob | IdleCheckJob | IdleCloseJob;

const held: Tunnel[] = [];
let closedEarly = 0;
let firstCloseError: string | undefined;

export async function runIdleOpen(job: IdleOpenJob): Promise<IdleResult> {
  const start = performance.now();
  const stopAt = start + job.timeoutMs;
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (next < job.count && performance.now() < stopAt) {
      const i = next++;
      // No source address: the kernel picks 127.0.0.1 and a port at connect() (cheapest).
      const local =
        job.localAddresses.length === 0
          ? undefined
          : job.localAddresses[i % job.localAddresses.length];
      try {
        const tunnel = await tunnelTo(job.proxy, job.dests[i % job.dests.length]!, local);
        try {
          await echoOnce(tunnel, HANDSHAKE_TIMEOUT_MS);
        } catch (err) {
          tunnel.close();
          throw err;
        }
        tunnel.onClose = (err) => {
          closedEarly++;
          firstCloseError ??= err?.message ?? 'closed by the peer';
        };
        held.push(tunnel);
      } catch (err) {
        errors++;
        firstError ??= message(err);
        if (errors > 100) return;
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  return {
    opened: held.length,
    alive: held.length - closedEarly,
    errors,
    elapsedMs: performance.now() - start,
    firstError,
  };
}

export async function runIdleCheck(job: IdleCheckJob): Promise<IdleResult> {
  const start = performance.now();
  let errors = 0;
  let firstError = firstCloseError;
  const step = Math.max(1, Math.floor(held.length / Math.max(1, job.sample)));
  const checks: Promise<void>[] = [];
  for (let i = 0; i < held.length && checks.length < job.sample; i += step) {
    const tunnel = held[i]!;
    if (tunnel.closed) continue;
    const keep = tunnel.onClose;
    checks.push(
      echoOnce(tunnel, HANDSHAKE_TIMEOUT_MS).then(
        () => {
          tunnel.onClose = keep;
        },
        (err: unknown) => {
          errors++;
          firstError ??= message(err);
        },
      ),
    );
  }
  await Promise.all(checks);
  const alive = held.filter((t) => !t.closed).length;
  return { opened: held.length, alive, errors, elapsedMs: performance.now() - start, firstError };
}

export async function runIdleClose(): Promise<IdleResult> {
  const start = performance.now();
  const opened = held.length;
  for (const t of held.splice(0)) {
    t.onClose = noop;
    t.close();
  }
  closedEarly = 0;
  firstCloseError = undefined;
  await sleep(10);
  return { opened, alive: 0, errors: 0, elapsedMs: performance.now() - start };
}
