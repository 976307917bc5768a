/**
 * The load generator: a child process of the bench that runs one job at a time, sent over IPC
 * (`{ id, job }`), and answers `{ id, result }` or `{ id, error }`. Kept apart from the
 * orchestrator so that bookkeeping and /proc sampling there never steal its event loop.
 */
import { runHandshakes, runRtt, runThroughput, runTunnels, runUdp, type Job } from './workloads.js';
import { runIdleCheck, runIdleClose, runIdleOpen } from './idle-workload.js';

function run(job: Job): Promise<unknown> {
  switch (job.kind) {
    case 'throughput':
      return runThroughput(job);
    case 'tunnels':
      return runTunnels(job);
    case 'handshake':
      return runHandshakes(job);
    case 'rtt':
      return runRtt(job);
    case 'udp':
      return runUdp(job);
    case 'idle-open':
      return runIdleOpen(job);
    case 'idle-check':
      return runIdleCheck(job);
    case 'idle-close':
      return runIdleClose();
  }
}

if (process.send === undefined) {
  process.stderr.write('loadgen.ts is started by bench/main.ts over IPC\n');
  process.exit(2);
}
process.on('message', (m: { id: number; job: Job }) => {
  run(m.job).then(
    (result) => process.send?.({ id: m.id, result }),
    (err: unknown) =>
      process.send?.({ id: m.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
