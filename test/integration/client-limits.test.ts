/** Per-client-IP connection cap, per-user session cap, and the failed-login throttle. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectTo, Reader, startEcho, startFerry } from '../helpers/net.js';
import { ChannelLog } from '../helpers/events.js';
import {
  connectIPv4,
  GREETING_NOAUTH,
  GREETING_USERPASS,
  hex,
  parseReply,
  userPass,
} from '../helpers/socks5.js';
import {
  channelNames,
  type AuthEvent,
  type AuthThrottledEvent,
} from '../../src/observability/channels.js';
import { UserDatabase } from '../../src/auth/users.js';
import { hashPassword } from '../../src/auth/password.js';

describe('per-client limits', () => {
  it('maxConnectionsPerIp: a third connection from 127.0.0.1 is refused while 127.0.0.2 still gets in', async () => {
    const ferry = await startFerry({ maxConnectionsPerIp: 2 });
    try {
      const a = await connectTo(ferry.port);
      const b = await connectTo(ferry.port);
      await new Promise((r) => setTimeout(r, 50));
      const c = await connectTo(ferry.port);
      const rc = new Reader(c);
      c.write(GREETING_NOAUTH);
      assert.ok(await rc.closed(2000));
      assert.equal(rc.buffered, 0);
      const other = await connectTo(ferry.port, '127.0.0.1', { localAddress: '127.0.0.2' });
      const ro = new Reader(other);
      other.write(GREETING_NOAUTH);
      assert.deepEqual(await ro.read(2), hex('05 00'), 'another client IP is not affected');
      a.destroy();
      await new Promise((r) => setTimeout(r, 50));
      const d = await connectTo(ferry.port);
      const rd = new Reader(d);
      d.write(GREETING_NOAUTH);
      assert.deepEqual(await rd.read(2), hex('05 00'), 'a slot frees when a connection ends');
      for (const s of [b, other, d]) s.destroy();
    } finally {
      await ferry.close();
    }
  });

  it('maxSessionsPerUser: the second session of a user is refused with 02', async () => {
    const echo = await startEcho();
    const ferry = await startFerry({
      users: UserDatabase.parse(`ann:${await hashPassword('pw')}\n`),
      maxSessionsPerUser: 1,
    });
    try {
      const open = async (): Promise<{ reader: Reader; rep: number }> => {
        const s = await connectTo(ferry.port);
        const reader = new Reader(s);
        s.write(
          Buffer.concat([
            GREETING_USERPASS,
            userPass('ann', 'pw'),
            connectIPv4('127.0.0.1', echo.port),
          ]),
        );
        assert.deepEqual(await reader.read(4), hex('05 02 01 00'));
        return { reader, rep: parseReply(await reader.read(10)).rep };
      };
      const first = await open();
      assert.equal(first.rep, 0);
      const second = await open();
      assert.equal(second.rep, 0x02);
      first.reader.socket.destroy();
      await new Promise((r) => setTimeout(r, 100));
      const third = await open();
      assert.equal(third.rep, 0, 'the slot is free again');
      third.reader.socket.destroy();
    } finally {
      await ferry.close();
      await echo.close();
    }
  });

  it('failed logins trip the throttle for that IP only; then even the right password fails at once', async () => {
    const ferry = await startFerry({
      users: UserDatabase.parse(`ann:${await hashPassword('pw')}\n`),
      authFailureLimit: 3,
      authFailureWindow: 60_000,
    });
    const auths = new ChannelLog<AuthEvent>(channelNames.auth);
    const trips = new ChannelLog<AuthThrottledEvent>(channelNames.authThrottled);
    const attempt = async (pass: string, localAddress = '127.0.0.1'): Promise<Buffer> => {
      const s = await connectTo(ferry.port, '127.0.0.1', { localAddress });
      const reader = new Reader(s);
      s.write(Buffer.concat([GREETING_USERPASS, userPass('ann', pass)]));
      const got = await reader.read(4);
      s.destroy();
      return got;
    };
    try {
      for (let i = 0; i < 3; i++) assert.deepEqual(await attempt('wrong'), hex('05 02 01 01'));
      const trip = await trips.waitFor();
      assert.equal(trip.clientAddress, '127.0.0.1');
      assert.equal(trip.failures, 3);
      assert.deepEqual(
        await attempt('pw'),
        hex('05 02 01 01'),
        'throttled: refused without checking',
      );
      assert.equal(auths.messages.at(-1)?.throttled, true);
      assert.deepEqual(
        await attempt('pw', '127.0.0.2'),
        hex('05 02 01 00'),
        'another IP is not throttled',
      );
    } finally {
      auths.close();
      trips.close();
      await ferry.close();
    }
  });
});
