/**
 * The two hooks the hardening tests stand on: `server.handleConnection(socket)` serves a socket
 * accepted elsewhere (here an in-memory one), and `ferry:dial:start` is published for every
 * outbound connection attempt, and only then.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { startEcho, startFerry, connectTo, Reader } from '../helpers/net.js';
import { ChannelLog } from '../helpers/events.js';
import { MemorySocket } from '../helpers/memory-socket.js';
import { connectDomain, connectIPv4, GREETING_NOAUTH, hex } from '../helpers/socks5.js';
import { createServer } from '../../src/server/index.js';
import { compilePolicy } from '../../src/rules/index.js';
import { channelNames, type DialStartEvent } from '../../src/observability/channels.js';

describe('server.handleConnection', () => {
  let echo: Awaited<ReturnType<typeof startEcho>>;
  before(async () => {
    echo = await startEcho();
  });
  after(async () => {
    await echo.close();
  });

  it('serves a whole session over an in-memory socket, pipelined payload included', async () => {
    const server = createServer();
    const socket = new MemorySocket({ remotePort: 4242 });
    server.handleConnection(socket.asSocket);
    assert.equal(server.stats.active, 1);
    socket.send(
      Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', echo.port), hex('c0ffee')]),
    );
    for (let i = 0; i < 100 && socket.outputLength < 2 + 10 + 3; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const out = socket.outputBytes();
    assert.deepEqual(out.subarray(0, 4), hex('05 00 05 00'));
    assert.deepEqual(out.subarray(12), hex('c0ffee'));
    const closed = once(socket, 'close');
    socket.sendEnd();
    await closed;
    await server.close();
    assert.equal(server.stats.active, 0);
  });
});

describe('ferry:dial:start', () => {
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let ferry: Awaited<ReturnType<typeof startFerry>>;
  before(async () => {
    echo = await startEcho();
    const rules = compilePolicy({
      default: 'deny',
      rules: [{ action: 'allow', destination: '127.0.0.1/32', port: echo.port }],
    });
    ferry = await startFerry({ rules });
  });
  after(async () => {
    await ferry.close();
    await echo.close();
  });

  async function request(req: Buffer): Promise<number> {
    const socket = await connectTo(ferry.port);
    const reader = new Reader(socket);
    socket.write(Buffer.concat([GREETING_NOAUTH, req]));
    await reader.read(2);
    const reply = await reader.read(10);
    socket.destroy();
    return reply[1]!;
  }

  it('is published once, with the session, for an allowed CONNECT — and never for a refused one', async () => {
    const dials = new ChannelLog<DialStartEvent>(channelNames.dialStart);
    try {
      assert.equal(await request(connectIPv4('127.0.0.1', echo.port)), 0x00);
      assert.equal(
        await request(connectIPv4('127.0.0.1', echo.port + 1 === 65536 ? 1 : echo.port + 1)),
        0x02,
      );
      assert.equal(await request(connectDomain('1.2.3.256', 80)), 0x04);
      assert.equal(await request(connectIPv4('10.0.0.1', 80)), 0x02);
      assert.equal(dials.messages.length, 1);
      const dial = dials.messages[0]!;
      assert.equal(dial.host, '127.0.0.1');
      assert.equal(dial.port, echo.port);
      assert.equal(dial.session?.destination, `127.0.0.1:${echo.port}`);
    } finally {
      dials.close();
    }
  });
});
