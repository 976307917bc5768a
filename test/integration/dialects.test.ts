/** The first octet picks the dialect; an unknown one is closed without a reply and counted. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectTo, Reader, startFerry } from '../helpers/net.js';
import { ChannelLog } from '../helpers/events.js';
import { channelNames, type SessionEvent } from '../../src/observability/channels.js';
import { hex } from '../helpers/socks5.js';

describe('dialect detection', () => {
  it('an unknown first octet is closed without a reply', async () => {
    const ferry = await startFerry();
    const ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    try {
      const socket = await connectTo(ferry.port);
      const reader = new Reader(socket);
      socket.write(hex('16 03 01 00 05')); // a TLS ClientHello's first octets
      assert.equal((await reader.readToEnd()).length, 0);
      const { session } = await ended.waitFor();
      assert.equal(session.endReason, 'unknown-protocol');
      assert.equal(session.dialect, undefined);
    } finally {
      ended.close();
      await ferry.close();
    }
  });
});
