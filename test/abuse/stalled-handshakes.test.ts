/**
 * 10 000 clients that stop partway through the handshake (slowloris): each is closed at the
 * handshake deadline — not before, and not never — while real clients still get through, and
 * afterwards ferry holds no session and no descriptor more than before. ferry and the stalled
 * clients each run in their own process under a raised `ulimit -n` (10 000 sockets a side).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { FerryChild } from '../helpers/ferry-child.js';
import { connectTo, Reader, startEcho } from '../helpers/net.js';
import { connectIPv4, GREETING_NOAUTH } from '../helpers/socks5.js';

const STALLED = 10_000;
const DEADLINE_MS = 6000;
const FILES = STALLED + 500;
const hardLimit = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim());
const enoughFiles = hardLimit >= FILES || Number.isNaN(hardLimit);
const skip = enoughFiles ? false : `needs ulimit -n ${FILES}; the hard limit here is ${hardLimit}`;

interface Report {
  connected: number;
  closed: number;
  byServer: number;
  minLifetime: number;
  maxLifetime: number;
  errors: number;
}

function message<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type?: string }): void => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      resolve(m as T);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => {
      reject(new Error(`stalled-client process exited (${code}) before "${type}"`));
    });
  });
}

describe('10 000 stalled handshakes', { skip }, () => {
  let ferry: FerryChild;
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let stallers: ChildProcess | undefined;
  before(async () => {
    echo = await startEcho();
    ferry = await FerryChild.start(
      { options: { handshakeTimeout: DEADLINE_MS, maxConnections: STALLED * 2 } },
      { ulimit: FILES },
    );
  });
  after(async () => {
    stallers?.kill();
    await ferry.close();
    await echo.close();
  });

  it('each is closed at the deadline while real clients still get through', async (t) => {
    const baseline = await ferry.stats();
    const main = fileURLToPath(new URL('../helpers/stall-clients-main.ts', import.meta.url));
    stallers = spawn(
      'sh',
      [
        '-c',
        `ulimit -n ${FILES} && exec "$0" "$@"`,
        process.execPath,
        '--import',
        'tsx',
        main,
        String(ferry.port),
        String(STALLED),
      ],
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    const opened = await message<{ connected: number; errors: number; ms: number }>(
      stallers,
      'opened',
    );
    t.diagnostic(
      `${opened.connected} stalled clients connected in ${opened.ms} ms (${opened.errors} errors)`,
    );
    assert.equal(opened.connected, STALLED);
    // "Connected" is the kernel's word (the handshake is in the listen queue); ferry may still be
    // accepting the last of them on a busy machine. Its deadline runs from its own accept.
    let during = await ferry.stats();
    for (let i = 0; i < 40 && during.active < STALLED; i++) {
      await new Promise((r) => setTimeout(r, 100));
      during = await ferry.stats();
    }
    assert.ok(during.active >= STALLED, `ferry holds ${during.active} sessions`);

    // Real clients, one after another, while every stalled one is still open.
    for (let i = 0; i < 20; i++) {
      const socket = await connectTo(ferry.port);
      const reader = new Reader(socket);
      socket.write(
        Buffer.concat([
          GREETING_NOAUTH,
          connectIPv4('127.0.0.1', echo.port),
          Buffer.from(`ping ${i}`),
        ]),
      );
      await reader.read(2);
      assert.equal((await reader.read(10))[1], 0x00);
      assert.equal((await reader.read(`ping ${i}`.length)).toString(), `ping ${i}`);
      socket.destroy();
    }
    const stillOpen = await ferry.stats();
    assert.ok(stillOpen.active >= STALLED, 'stalled clients were closed before their deadline');

    // Then the deadline closes every stalled one: wait for that, bounded.
    const waitUntil = Date.now() + DEADLINE_MS + opened.ms + 15_000;
    let report: Report;
    for (;;) {
      const r = message<Report>(stallers, 'report');
      stallers.send({ type: 'report' });
      report = await r;
      if (report.closed === STALLED || Date.now() > waitUntil) break;
      await new Promise((r2) => setTimeout(r2, 500));
    }
    t.diagnostic(
      `closed ${report.closed} (${report.byServer} by ferry), lifetimes ${report.minLifetime}–${report.maxLifetime} ms`,
    );
    assert.equal(report.closed, STALLED, 'stalled clients left open past the deadline');
    assert.equal(report.byServer, STALLED);
    // The client's clock starts a little before ferry's (it sees the connection first), so a
    // stalled client lives at least the deadline minus scheduling delay; never far less.
    assert.ok(
      report.minLifetime >= DEADLINE_MS - 1000,
      `one was closed after ${report.minLifetime} ms`,
    );

    let after = await ferry.stats();
    for (let i = 0; i < 50 && (after.active > 0 || after.fds > baseline.fds + 5); i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await ferry.stats();
    }
    assert.equal(after.active, 0);
    assert.ok(after.fds <= baseline.fds + 5, `descriptors ${baseline.fds} → ${after.fds}`);
    stallers.kill();
    await once(stallers, 'exit');
    stallers = undefined;
  });
});
