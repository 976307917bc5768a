/**
 * Behind a real HAProxy in TCP mode (send-proxy-v2, and send-proxy for v1): the client address
 * HAProxy passes on is what ferry's rules and access log see; a PROXY header from anyone but the
 * trusted balancer is refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort, connectTo, Reader, startEcho, startFerry } from '../helpers/net.js';
import { ChannelLog } from '../helpers/events.js';
import { connectIPv4, GREETING_NOAUTH, hex, parseReply } from '../helpers/socks5.js';
import { requireTool } from '../helpers/tools.js';
import { compilePolicy } from '../../src/rules/index.js';
import { channelNames, type SessionEvent } from '../../src/observability/channels.js';

const skip = requireTool('haproxy');
/** HAProxy connects to ferry from this address; only it is trusted. */
const BALANCER = '127.0.0.5';

async function startHaproxy(
  dir: string,
  ferryPort: number,
  send: 'send-proxy' | 'send-proxy-v2',
): Promise<{ port: number; child: ChildProcess }> {
  const port = await closedPort();
  const cfg = join(dir, `${send}.cfg`);
  writeFileSync(
    cfg,
    [
      'global',
      '  maxconn 100',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend socks',
      `  bind 127.0.0.1:${port}`,
      '  default_backend ferry',
      'backend ferry',
      `  server f1 127.0.0.1:${ferryPort} ${send} source ${BALANCER}`,
      '',
    ].join('\n'),
  );
  const child = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  for (let i = 0; i < 100; i++) {
    try {
      (await connectTo(port)).destroy();
      return { port, child };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  child.kill();
  throw new Error(`haproxy did not start: ${stderr}`);
}

async function socksThrough(port: number, echoPort: number, localAddress: string): Promise<number> {
  const socket = await connectTo(port, '127.0.0.1', { localAddress });
  const reader = new Reader(socket);
  socket.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', echoPort)]));
  assert.deepEqual(await reader.read(2), hex('05 00'));
  const rep = parseReply(await reader.read(10)).rep;
  if (rep === 0) {
    socket.write('via haproxy');
    assert.equal((await reader.read(11)).toString(), 'via haproxy');
  }
  socket.destroy();
  return rep;
}

describe('behind HAProxy (PROXY protocol)', { skip }, () => {
  let dir: string;
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let ferry: Awaited<ReturnType<typeof startFerry>> & { server: { close: () => Promise<void> } };
  const haproxies: ChildProcess[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-haproxy-'));
    echo = await startEcho();
    // Only the client 127.0.0.2 may use the proxy: the rule can only match if ferry sees the
    // address HAProxy reports, since every TCP connection to ferry comes from 127.0.0.5.
    const rules = compilePolicy({
      default: 'deny',
      rules: [{ name: 'only-dot-two', action: 'allow', client: '127.0.0.2' }],
    });
    const { createServer } = await import('../../src/server/index.js');
    const server = createServer({ rules, trustedProxies: [BALANCER] });
    const [bound] = await server.listen({ host: '127.0.0.1', port: 0, proxyProtocol: true });
    ferry = {
      server,
      port: bound!.port,
      host: '127.0.0.1',
      close: () => server.close({ drainTimeout: 0 }),
    };
  });
  after(async () => {
    for (const h of haproxies) h.kill();
    await ferry.close();
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const send of ['send-proxy-v2', 'send-proxy'] as const) {
    it(`${send}: the client address is the one HAProxy saw`, async () => {
      const h = await startHaproxy(dir, ferry.port, send);
      haproxies.push(h.child);
      const ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
      try {
        assert.equal(
          await socksThrough(h.port, echo.port, '127.0.0.2'),
          0,
          'allowed: ferry saw 127.0.0.2',
        );
        const ok = await ended.waitFor((e) => e.session.reply === 0);
        assert.equal(ok.session.clientAddress, '127.0.0.2');
        assert.match(String(ok.session.via), /^127\.0\.0\.5:\d+$/);
        assert.equal(ok.session.rule, 'only-dot-two');
        assert.equal(
          await socksThrough(h.port, echo.port, '127.0.0.3'),
          0x02,
          'another client is denied by the same rule',
        );
        const denied = await ended.waitFor((e) => e.session.reply === 2);
        assert.equal(denied.session.clientAddress, '127.0.0.3');
      } finally {
        ended.close();
        h.child.kill();
        await once(h.child, 'exit');
      }
    });
  }

  it('a PROXY header straight from an untrusted client is refused', async () => {
    const ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    try {
      const socket = await connectTo(ferry.port, '127.0.0.1', { localAddress: '127.0.0.2' });
      const reader = new Reader(socket);
      socket.write(
        Buffer.concat([
          Buffer.from('PROXY TCP4 127.0.0.2 127.0.0.1 5000 1080\r\n'),
          GREETING_NOAUTH,
        ]),
      );
      assert.equal((await reader.readToEnd()).length, 0, 'closed without a reply');
      const e = await ended.waitFor((m) => m.session.endReason === 'untrusted-proxy-header');
      assert.equal(e.session.clientAddress, '127.0.0.2');
    } finally {
      ended.close();
    }
  });

  it('an untrusted client without a header is served as itself (and the rules apply to it)', async () => {
    assert.equal(await socksThrough(ferry.port, echo.port, '127.0.0.2'), 0);
    assert.equal(await socksThrough(ferry.port, echo.port, '127.0.0.1'), 0x02);
  });
});
