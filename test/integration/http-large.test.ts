/**
 * A 1 GiB response through the HTTP forward proxy with bounded memory. ferry runs as its own
 * process (the CLI), so its peak resident memory (VmHWM, Linux) can be measured apart from the
 * test's origin and sink. Half way, the sink stops reading for a second: without backpressure the
 * origin could push hundreds of MiB into ferry meanwhile.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, existsSync } from 'node:fs';
import { serve } from '../helpers/cli.js';
import { connectTo } from '../helpers/net.js';
import { startOrigin } from '../helpers/http-raw.js';

const MiB = 1024 * 1024;
const TOTAL = 1024 * MiB;

function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kb) * 1024;
}

describe('HTTP forward proxy: 1 GiB response', () => {
  it(
    'streams with bounded memory and stalls the origin while the client does not read',
    {
      skip: !existsSync('/proc/self/status') && 'needs /proc to read the peak RSS',
      timeout: 120_000,
    },
    async () => {
      const origin = await startOrigin();
      const { child, port } = await serve();
      try {
        // Warm up (first request loads the HTTP code paths) before taking the baseline.
        const warm = await connectTo(port);
        warm.write(
          `GET http://127.0.0.1:${origin.port}/big?n=${MiB} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        );
        warm.resume();
        await once(warm, 'end');
        warm.destroy();
        const baseline = peakRss(child.pid!);

        const sink = await connectTo(port);
        sink.write(
          `GET http://127.0.0.1:${origin.port}/big?n=${TOTAL} HTTP/1.1\r\nHost: x\r\n\r\n`,
        );
        let received = 0;
        let head = '';
        let paused = false;
        let stallCheck: Promise<void> | undefined;
        const done = new Promise<void>((resolve, reject) => {
          sink.on('error', reject);
          sink.on('data', (chunk: Buffer) => {
            if (head === '' || !head.includes('\r\n\r\n')) {
              head += chunk.toString('latin1');
              const end = head.indexOf('\r\n\r\n');
              if (end === -1) return;
              received += Buffer.byteLength(head.slice(end + 4), 'latin1');
              head = head.slice(0, end + 4);
            } else {
              received += chunk.length;
            }
            if (!paused && received >= TOTAL / 2) {
              paused = true;
              sink.pause();
              stallCheck = (async () => {
                const before = origin.bigSent();
                await new Promise((r) => setTimeout(r, 1000));
                const pushed = origin.bigSent() - before;
                assert.ok(
                  pushed < 64 * MiB,
                  `origin pushed ${(pushed / MiB).toFixed(1)} MiB while the client was not reading`,
                );
                sink.resume();
              })();
            }
            if (received >= TOTAL) resolve();
          });
        });
        await done;
        await stallCheck;
        assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
        assert.match(head, new RegExp(`\r\nContent-Length: ${TOTAL}\r\n`, 'i'));
        assert.equal(received, TOTAL);
        const growth = peakRss(child.pid!) - baseline;
        assert.ok(
          growth < 128 * MiB,
          `ferry's peak RSS grew ${(growth / MiB).toFixed(1)} MiB for a 1024 MiB response`,
        );
        sink.destroy();
      } finally {
        child.kill('SIGKILL');
        await origin.close();
      }
    },
  );
});
