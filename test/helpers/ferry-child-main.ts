/**
 * A ferry server alone in its own process, for tests that measure it (memory, file descriptors)
 * or starve it (ulimit -n): started by ferry-child.ts with its options as JSON in argv[2];
 * answers `stats` requests over IPC and `close`s on request.
 */
import { readdirSync } from 'node:fs';
import { createServer, type ServerOptions } from '../../src/server/index.js';
import { UserDatabase } from '../../src/auth/users.js';
import { compilePolicy, type PolicySpec } from '../../src/rules/index.js';

export interface ChildSpec {
  readonly options?: Omit<ServerOptions, 'users' | 'rules' | 'resolver'>;
  readonly rules?: PolicySpec;
  /** Users file text. */
  readonly users?: string;
}

export type ChildRequest =
  | { type: 'stats'; id: number; gc?: boolean }
  | { type: 'close'; id: number; drainTimeout?: number };

export interface ChildStats {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly fds: number;
  readonly active: number;
  readonly accepted: number;
  readonly rejected: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as ChildSpec;
const server = createServer({
  ...spec.options,
  ...(spec.rules !== undefined ? { rules: compilePolicy(spec.rules) } : {}),
  ...(spec.users !== undefined ? { users: UserDatabase.parse(spec.users) } : {}),
});
const [bound] = await server.listen({ host: '127.0.0.1', port: 0 });
const send = (m: unknown): void => {
  process.send?.(m);
};
send({ type: 'listening', port: bound?.port });
process.on('message', (m: ChildRequest) => {
  if (m.type === 'stats') {
    if (m.gc === true) (globalThis as { gc?: () => void }).gc?.();
    const mem = process.memoryUsage();
    let fds = -1;
    try {
      fds = readdirSync('/proc/self/fd').length;
    } catch {
      // not Linux
    }
    const stats: ChildStats = {
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      external: mem.external,
      arrayBuffers: mem.arrayBuffers,
      fds,
      ...server.stats,
    };
    send({ type: 'stats', id: m.id, stats });
  } else {
    void server.close({ drainTimeout: m.drainTimeout ?? 0 }).then(() => {
      send({ type: 'closed', id: m.id });
      process.disconnect();
    });
  }
});
