// Preloaded into a Node contestant (`node --import <this file> ...`) by the bench: samples the
// contestant's own event-loop delay with perf_hooks.monitorEventLoopDelay and answers over the IPC
// channel the bench opened: { benchLag: 'reset' } starts a window, { benchLag: 'read', id } reports
// it in ms. Costs one libuv timer every BENCH_LAG_RESOLUTION_MS (default 10) ms; plain JS so that
// the contestant need not load tsx.
import cluster from 'node:cluster';
import { monitorEventLoopDelay } from 'node:perf_hooks';

// Only in the process the bench started: a cluster worker inherits this --import, and its IPC
// channel belongs to the cluster primary (unref-ing it would let the worker exit).
if (typeof process.send === 'function' && cluster.isPrimary) {
  const resolution = Number(process.env.BENCH_LAG_RESOLUTION_MS ?? 10);
  const histogram = monitorEventLoopDelay({ resolution });
  histogram.enable();
  // The histogram records the whole interval between timer runs (resolution + delay): report the
  // delay beyond the resolution.
  const ms = (ns) => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - resolution) : null);
  process.on('message', (m) => {
    if (m === null || typeof m !== 'object' || !('benchLag' in m)) return;
    if (m.benchLag === 'reset') {
      histogram.reset();
    } else if (m.benchLag === 'read') {
      process.send({
        benchLag: 'report',
        id: m.id,
        p50: ms(histogram.percentile(50)),
        p99: ms(histogram.percentile(99)),
        max: ms(histogram.max),
        count: histogram.count,
      });
    }
  });
  // The channel must not keep a contestant alive that would otherwise exit.
  process.channel?.unref();
}
