/**
 * --workers: two workers serve, a killed one is replaced, SIGTERM drains them all; --balance
 * decides which processes accept.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { ferry, LogLines } from '../helpers/cli.js';
import { connectTo, Reader, startEcho } from '../helpers/net.js';
import { connectIPv4, GREETING_NOAUTH, parseReply } from '../helpers/socks5.js';
import { parsePrometheus, sum } from '../helpers/prometheus.js';

async function roundTrip(port: number, echoPort: number): Promise<void> {
  const socket = await connectTo(port);
  const reader = new Reader(socket);
  socket.write(
    Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', echoPort), Buffer.from('x')]),
  );
  assert.equal(parseReply((await reader.read(12)).subarray(2)).rep, 0);
  await reader.read(1);
  socket.end();
  await reader.readToEnd();
}

/** The pids holding the TCP socket listening on 127.0.0.1:port (Linux /proc). */
function listenerHolders(port: number, pids: readonly number[]): number[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const row = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[1] === `0100007F:${hexPort}` && f[3] === '0A');
  assert.ok(row !== undefined, `a listening socket on port ${port}`);
  const link = `socket:[${row[9]}]`;
  return pids.filter((pid) =>
    readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === link;
      } catch {
        return false; // closed while we looked
      }
    }),
  );
}

/** `ferry serve --workers 2 ...extra` on a free port, once every worker listens. */
async function startCluster(extra: string[]) {
  const child = ferry(['serve', '--workers', '2', '--listen', '127.0.0.1:0', ...extra]);
  const logs = new LogLines(child);
  try {
    await logs.waitFor((l) => l.event === 'cluster', 20_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const workers = logs.lines
    .filter((l) => l.event === 'worker-started')
    .map((l) => Number(l.workerPid));
  return { child, logs, workers, port: listeningPort(logs) };
}

function listeningPort(logs: LogLines): number {
  const addr = String((logs.lines.find((l) => l.event === 'listening')?.addresses as string[])[0]);
  return Number(addr.slice(addr.lastIndexOf(':') + 1));
}

describe('cluster mode', () => {
  it('serves from two workers, replaces a killed one, aggregates metrics, drains on SIGTERM', async () => {
    const echo = await startEcho();
    const { child, logs, workers: started, port } = await startCluster(['--admin', '127.0.0.1:0']);
    try {
      assert.equal(started.length, 2);
      // Round-robin (the default): only the primary accepts; workers get connections over IPC.
      assert.deepEqual(listenerHolders(port, [child.pid!, ...started]), [child.pid]);
      assert.equal(logs.lines.find((l) => l.event === 'cluster')?.balance, 'round-robin');
      const admin = String(logs.lines.find((l) => l.event === 'admin')?.address);

      // Both workers accept: connections until two pids have logged an access line (bounded).
      const accessLines = (): Record<string, unknown>[] =>
        logs.lines.filter((l) => l.event === 'access');
      let done = 0;
      for (; done < 40;) {
        await roundTrip(port, echo.port);
        done++;
        await logs.waitFor(() => accessLines().length === done);
        if (new Set(accessLines().map((l) => l.pid)).size === 2) break;
      }
      const servedBy = new Set(accessLines().map((l) => Number(l.pid)));
      assert.deepEqual([...servedBy].sort(), [...started].sort(), 'both workers served');
      const total = done;
      const metrics = parsePrometheus(await (await fetch(`http://${admin}/metrics`)).text());
      assert.equal(
        sum(metrics, 'ferry_sessions_total'),
        total,
        'the one endpoint sums all workers',
      );

      // Kill one worker: the other keeps serving and a replacement starts.
      process.kill(started[0]!, 'SIGKILL');
      await logs.waitFor((l) => l.event === 'worker-died');
      await roundTrip(port, echo.port);
      await logs.waitFor(
        (l) =>
          logs.lines.filter((x) => x.event === 'worker-started').length === 3 &&
          l.event === 'worker-started',
      );
      await logs.waitFor(() => logs.lines.filter((x) => x.event === 'listening').length === 3);

      // SIGTERM: a live tunnel finishes during the drain, then everything exits 0.
      const socket = await connectTo(port);
      const reader = new Reader(socket);
      socket.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', echo.port)]));
      await reader.read(12);
      child.kill('SIGTERM');
      await logs.waitFor((l) => l.event === 'draining');
      socket.write('bye');
      assert.equal((await reader.read(3)).toString(), 'bye');
      socket.end();
      await reader.readToEnd();
      const [code] = (await once(child, 'exit')) as [number];
      assert.equal(code, 0);
      assert.equal(logs.lines.filter((l) => l.event === 'worker-exited').length, 2);
    } finally {
      child.kill('SIGKILL');
      await echo.close();
    }
  });

  it('--balance kernel: every worker accepts on the shared socket, and both serve', async () => {
    const echo = await startEcho();
    const { child, logs, workers, port } = await startCluster(['--balance', 'kernel']);
    try {
      assert.equal(logs.lines.find((l) => l.event === 'cluster')?.balance, 'kernel');
      assert.equal(workers.length, 2);
      assert.deepEqual(listenerHolders(port, workers).sort(), [...workers].sort());
      for (let i = 0; i < 5; i++) await roundTrip(port, echo.port);
      await logs.waitFor(() => logs.lines.filter((l) => l.event === 'access').length === 5);
    } finally {
      child.kill('SIGKILL');
      await echo.close();
    }
  });
});
