/**
 * Access rules (docs/rules.md) applied to BIND and UDP ASSOCIATE: the named peer is checked like a
 * CONNECT destination, every incoming peer and every datagram's destination is checked, and an
 * association no rule could allow is refused before a socket is opened.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startFerry } from '../helpers/net.js';
import {
  CMD_BIND,
  CMD_UDP,
  command,
  parseUdpDatagram,
  readReply,
  request,
  udpDatagram,
} from '../helpers/socks5-commands.js';
import { startUdpEcho, UdpEndpoint } from '../helpers/udp.js';
import { ChannelLog } from '../helpers/events.js';
import { compilePolicy } from '../../src/rules/index.js';
import type {
  BindRefusedEvent,
  SessionEvent,
  UdpDroppedEvent,
} from '../../src/observability/channels.js';

describe('BIND and the access rules', () => {
  it('a denied DST.ADDR gets 02 and no listener', async () => {
    using ended = new ChannelLog<SessionEvent>('ferry:session:end');
    const ferry = await startFerry({
      rules: compilePolicy({
        rules: [
          { name: 'no-bind-to-2', action: 'deny', command: 'bind', destination: '127.0.0.2' },
        ],
        default: 'allow',
      }),
    });
    try {
      const { reader, reply } = await command(ferry.port, request(CMD_BIND, '127.0.0.2', 0));
      assert.equal(reply.rep, 0x02);
      assert.ok(await reader.closed());
      const end = await ended.waitFor((e) => e.session.command === 'bind');
      assert.equal(end.session.rule, 'no-bind-to-2');
      assert.equal(end.session.endReason, 'denied');
    } finally {
      await ferry.close();
    }
  });

  it('"any peer" (0.0.0.0): a peer the rules deny is refused, an allowed one gets through', async () => {
    using refused = new ChannelLog<BindRefusedEvent>('ferry:bind:refused');
    const ferry = await startFerry({
      rules: compilePolicy({
        rules: [{ name: 'not-from-2', action: 'deny', command: 'bind', destination: '127.0.0.2' }],
        default: 'allow',
      }),
    });
    try {
      const { reader, reply } = await command(ferry.port, request(CMD_BIND, '0.0.0.0', 0));
      assert.equal(reply.rep, 0);
      const intruder = net.connect({
        port: reply.port,
        host: reply.host,
        localAddress: '127.0.0.2',
      });
      intruder.on('error', () => undefined);
      intruder.resume();
      await new Promise((resolve) => intruder.once('close', resolve));
      const event = await refused.waitFor((e) => e.peerAddress === '127.0.0.2');
      assert.equal(event.reason, 'rule');
      const peer = net.connect({ port: reply.port, host: reply.host, localAddress: '127.0.0.1' });
      const second = await readReply(reader);
      assert.deepEqual([second.rep, second.host], [0, '127.0.0.1']);
      peer.destroy();
      reader.socket.destroy();
    } finally {
      await ferry.close();
    }
  });
});

describe('UDP ASSOCIATE and the access rules', () => {
  it('an association no rule could allow is refused up front with 02', async () => {
    const ferry = await startFerry({
      rules: compilePolicy({
        rules: [{ name: 'web-only', action: 'allow', command: 'connect' }],
        default: 'deny',
      }),
    });
    try {
      const { reader, reply } = await command(ferry.port, request(CMD_UDP, '0.0.0.0', 0));
      assert.equal(reply.rep, 0x02);
      assert.ok(await reader.closed());
    } finally {
      await ferry.close();
    }
  });

  it('each datagram is checked: a denied port and a denied name are dropped, the rest pass', async () => {
    const echo = await startUdpEcho('127.0.0.1');
    const ferry = await startFerry({
      rules: compilePolicy({
        rules: [
          { name: 'no-localhost-name', action: 'deny', destination: 'localhost' },
          { name: 'echo', action: 'allow', command: 'udp', port: echo.port },
        ],
        default: 'deny',
      }),
    });
    using drops = new ChannelLog<UdpDroppedEvent>('ferry:udp:dropped');
    const client = await UdpEndpoint.open('127.0.0.1');
    try {
      const { reader, reply } = await command(
        ferry.port,
        request(CMD_UDP, '127.0.0.1', client.port),
      );
      assert.equal(reply.rep, 0);
      await client.send(
        udpDatagram('127.0.0.1', echo.port + 1 === 65536 ? 1 : echo.port + 1, 'no'),
        reply.port,
        reply.host,
      );
      await client.send(udpDatagram('localhost', echo.port, 'by name'), reply.port, reply.host);
      await client.send(udpDatagram('127.0.0.1', echo.port, 'yes'), reply.port, reply.host);
      assert.equal(parseUdpDatagram((await client.receive()).msg).data.toString(), 'yes');
      const last = await drops.waitFor((d) => d.session.udp?.dropped.denied === 2);
      assert.equal(last.reason, 'denied');
      assert.equal(echo.received(), 1, 'only the allowed datagram left the relay');
      reader.socket.destroy();
    } finally {
      client.close();
      echo.close();
      await ferry.close();
    }
  });
});
