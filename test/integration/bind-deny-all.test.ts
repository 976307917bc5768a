/**
 * BIND for "any peer" (DST.ADDR 0.0.0.0) under rules that deny every peer is refused up front with
 * 02, as UDP ASSOCIATE is: no listener is opened that could accept nobody (found by the fuzzer,
 * issue 8: such a session held a port until bindTimeout). SOCKS4 gets its 5B.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startFerry, connectTo, Reader } from '../helpers/net.js';
import { CMD_BIND, command, request } from '../helpers/socks5-commands.js';
import { hex } from '../helpers/socks5.js';
import { ChannelLog } from '../helpers/events.js';
import { compilePolicy } from '../../src/rules/index.js';
import type { SessionEvent } from '../../src/observability/channels.js';

describe('BIND when no peer could be allowed', () => {
  const rules = compilePolicy({
    rules: [{ name: 'connect-only', action: 'allow', command: 'connect' }],
    default: 'deny',
  });

  it('SOCKS5 BIND 0.0.0.0:0 gets 02 at once and the session ends as denied', async () => {
    using ended = new ChannelLog<SessionEvent>('ferry:session:end');
    const ferry = await startFerry({ rules });
    try {
      const { reader, reply } = await command(ferry.port, request(CMD_BIND, '0.0.0.0', 0));
      assert.equal(reply.rep, 0x02);
      assert.ok(await reader.closed());
      const end = await ended.waitFor((e) => e.session.command === 'bind');
      assert.equal(end.session.endReason, 'denied');
      assert.equal(end.session.rule, 'default');
    } finally {
      await ferry.close();
    }
  });

  it('SOCKS4 BIND 0.0.0.0 gets 5B', async () => {
    const ferry = await startFerry({ rules });
    try {
      const socket = await connectTo(ferry.port);
      const reader = new Reader(socket);
      // VN=04 CD=02 BIND, DSTPORT=0, DSTIP=0.0.0.0, USERID "" NUL
      socket.write(hex('04 02 0000 00000000 00'));
      // VN=00 CD=5B rejected, DSTPORT and DSTIP zero
      assert.deepEqual(await reader.read(8), hex('00 5b 0000 00000000'));
      assert.ok(await reader.closed());
    } finally {
      await ferry.close();
    }
  });
});
