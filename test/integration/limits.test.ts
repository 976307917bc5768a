/** Deadlines, limits, drain and the events the library publishes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectTo, Reader, startEcho, startFerry } from '../helpers/net.js';
import { connectIPv4, GREETING_NOAUTH, hex, parseReply } from '../helpers/socks5.js';
import {
  channelNames,
  type SessionEvent,
  type ConnectionRejectedEvent,
} from '../../src/observability/channels.js';
import { createServer } from '../../src/server/index.js';
import { ChannelLog } from '../helpers/events.js';

describe('limits and lifecycle', () => {
  it('the handshake deadline closes a stalled client', async () => {
    const ferry = await startFerry({ handshakeTimeout: 300 });
    const ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    try {
      const socket = await connectTo(ferry.port);
      const reader = new Reader(socket);
      socket.write(hex('05 02 00')); // a greeting missing its last method
      const t0 = Date.now();
      assert.ok(await reader.closed(5000), 'closed by the deadline');
      assert.ok(Date.now() - t0 >= 200, 'not before the deadline');
      assert.equal((await ended.waitFor()).session.endReason, 'handshake-timeout');
    } finally {
      ended.close();
      await ferry.close();
    }
  });

  it('the deadline is absolute: a client trickling bytes is still cut off', async () => {
    const ferry = await startFerry({ handshakeTimeout: 400 });
    try {
      const socket = await connectTo(ferry.port);
      const reader = new Reader(socket);
      const bytes = hex('05 ff' + '00'.repeat(255));
      let i = 0;
      const trickle = setInterval(
        () => socket.writable && socket.write(bytes.subarray(i, ++i)),
        50,
      );
      assert.ok(await reader.closed(5000));
      clearInterval(trickle);
      assert.ok(i < bytes.length, 'closed before the trickled greeting could complete');
    } finally {
      await ferry.close();
    }
  });

  it('max connections: beyond it new connections are closed at once and counted', async () => {
    const ferry = await startFerry({ maxConnections: 2 });
    const rejected = new ChannelLog<ConnectionRejectedEvent>(channelNames.connectionRejected);
    try {
      const a = await connectTo(ferry.port);
      const b = await connectTo(ferry.port);
      await new Promise((r) => setTimeout(r, 50));
      const c = await connectTo(ferry.port);
      const rc = new Reader(c);
      c.write(GREETING_NOAUTH);
      assert.ok(await rc.closed(2000));
      assert.equal(rc.buffered, 0, 'no reply for the rejected one');
      assert.equal(ferry.server.stats.rejected, 1);
      assert.equal((await rejected.waitFor()).reason, 'max-connections');
      // The two admitted connections still work.
      const ra = new Reader(a);
      a.write(GREETING_NOAUTH);
      assert.deepEqual(await ra.read(2), hex('05 00'));
      a.destroy();
      b.destroy();
      await new Promise((r) => setTimeout(r, 50));
      const d = await connectTo(ferry.port);
      const rd = new Reader(d);
      d.write(GREETING_NOAUTH);
      assert.deepEqual(await rd.read(2), hex('05 00'), 'admitted again once load drops');
      d.destroy();
    } finally {
      rejected.close();
      await ferry.close();
    }
  });

  it('idle timeout closes a silent tunnel and says why', async () => {
    const echo = await startEcho();
    const ferry = await startFerry({ idleTimeout: 300 });
    const ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    try {
      const socket = await connectTo(ferry.port);
      const reader = new Reader(socket);
      socket.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', echo.port)]));
      await reader.read(12);
      socket.write('x');
      await reader.read(1);
      assert.ok(await reader.closed(5000));
      const s = (await ended.waitFor()).session;
      assert.equal(s.endReason, 'idle-timeout');
      assert.equal(s.bytesUp, 1);
      assert.equal(s.bytesDown, 1);
    } finally {
      ended.close();
      await ferry.close();
      await echo.close();
    }
  });

  it('close(): stops accepting, lets a live tunnel finish within the drain, then resolves', async () => {
    const echo = await startEcho();
    const ferry = await startFerry({});
    try {
      const socket = await connectTo(ferry.port);
      const reader = new Reader(socket);
      socket.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', echo.port)]));
      assert.equal(parseReply((await reader.read(12)).subarray(2)).rep, 0);
      const closing = ferry.server.close({ drainTimeout: 5000 });
      await new Promise((r) => setTimeout(r, 100));
      await assert.rejects(connectTo(ferry.port), 'no longer accepting');
      socket.write('still here');
      assert.equal((await reader.read(10)).toString(), 'still here');
      socket.end();
      await reader.readToEnd();
      await closing;
      assert.equal(ferry.server.stats.active, 0);
    } finally {
      await echo.close();
    }
  });

  it('close(): the drain deadline closes what is left', async () => {
    const echo = await startEcho();
    const ferry = await startFerry({});
    try {
      const socket = await connectTo(ferry.port);
      const reader = new Reader(socket);
      socket.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', echo.port)]));
      await reader.read(12);
      const t0 = Date.now();
      await ferry.server.close({ drainTimeout: 200 });
      assert.ok(Date.now() - t0 >= 150);
      assert.ok(await reader.closed(2000));
    } finally {
      await echo.close();
    }
  });

  it('refuses to listen beyond loopback without authentication', async () => {
    const server = createServer({});
    await assert.rejects(server.listen({ host: '0.0.0.0', port: 0 }), {
      code: 'ERR_SOCKS_INVALID_OPTION',
      message: /open proxy/,
    });
    const open = createServer({ insecureOpenProxy: true });
    const [bound] = await open.listen({ host: '0.0.0.0', port: 0 });
    assert.ok(bound!.port > 0);
    await open.close();
  });

  it('validates options, naming the field', () => {
    assert.throws(() => createServer({ handshakeTimeout: -1 }), {
      code: 'ERR_SOCKS_INVALID_OPTION',
      message: /^handshakeTimeout:/,
    });
    assert.throws(() => createServer({ maxConnections: 0 }), { message: /^maxConnections:/ });
    assert.throws(() => createServer({ idleTimeout: 1.5 }), { message: /^idleTimeout:/ });
  });
});
