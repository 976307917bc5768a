/** PySocks (Debian python3-socks), an independent SOCKS5 UDP client, through ferry. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startFerry } from '../helpers/net.js';
import { startUdpEcho } from '../helpers/udp.js';
import { pythonWith, requirePython } from '../helpers/python.js';
import { ChannelLog } from '../helpers/events.js';
import type { SessionEvent } from '../../src/observability/channels.js';

const SCRIPT = fileURLToPath(new URL('../fixtures/pysocks-udp.py', import.meta.url));

async function pysocks(
  args: string[],
): Promise<{ code: number | null; lines: unknown[]; stderr: string }> {
  const python = pythonWith('socks') ?? 'python3';
  const child = spawn(python, [SCRIPT, ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill(), 15_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  const lines = stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as unknown);
  return { code, lines, stderr };
}

describe('PySocks UDP through ferry', { skip: requirePython('socks', 'python3-socks') }, () => {
  let ferry: Awaited<ReturnType<typeof startFerry>>;
  let echo: Awaited<ReturnType<typeof startUdpEcho>>;
  before(async () => {
    ferry = await startFerry();
    echo = await startUdpEcho('127.0.0.1');
  });
  after(async () => {
    await ferry.close();
    echo.close();
  });

  it('sends to an IPv4 destination and receives the replies, named by their sender', async () => {
    using ended = new ChannelLog<SessionEvent>('ferry:session:end');
    const { code, lines, stderr } = await pysocks([
      '127.0.0.1',
      String(ferry.port),
      '127.0.0.1',
      String(echo.port),
      'first',
      'second',
    ]);
    assert.equal(code, 0, stderr);
    assert.deepEqual(lines, [
      { data: 'first', from: ['127.0.0.1', echo.port] },
      { data: 'second', from: ['127.0.0.1', echo.port] },
    ]);
    // PySocks closes its control connection at exit: the association ends with it.
    const end = await ended.waitFor((e) => e.session.command === 'udp');
    const udp = end.session.udp;
    assert.ok(udp);
    assert.equal(udp.datagramsUp, 2);
    assert.equal(udp.datagramsDown, 2);
  });

  it('sends to a name (localhost, resolved by ferry)', async () => {
    const { code, lines, stderr } = await pysocks([
      '127.0.0.1',
      String(ferry.port),
      'localhost',
      String(echo.port),
      'by name',
    ]);
    assert.equal(code, 0, stderr);
    assert.deepEqual(lines, [{ data: 'by name', from: ['127.0.0.1', echo.port] }]);
  });
});
