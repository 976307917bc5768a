/**
 * UDP ASSOCIATE under abuse (issue 8): datagrams from a foreign source, datagrams to a destination
 * the rules deny, and datagrams that arrive after the control connection closed are all dropped —
 * none reaches a destination — while the client's own allowed datagrams still get through.
 * Counted at the receivers (UDP echo servers on loopback), not only from ferry's own events.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startFerry } from '../helpers/net.js';
import {
  CMD_UDP,
  command,
  parseUdpDatagram,
  request,
  udpDatagram,
} from '../helpers/socks5-commands.js';
import { startUdpEcho, udpPortFree, UdpEndpoint } from '../helpers/udp.js';
import { ChannelLog } from '../helpers/events.js';
import { compilePolicy } from '../../src/rules/index.js';
import type { SessionEvent, UdpDroppedEvent } from '../../src/observability/channels.js';

/** Datagrams per kind of abuse: enough to show a pattern, bounded for a shared machine. */
const EACH = 100;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('UDP abuse', () => {
  it('foreign sources, denied destinations and datagrams after the control connection closed are dropped', async () => {
    const allowed = await startUdpEcho('127.0.0.1');
    const denied = await startUdpEcho('127.0.0.1');
    const ferry = await startFerry({
      rules: compilePolicy({
        rules: [{ name: 'echo-only', action: 'allow', command: 'udp', port: allowed.port }],
        default: 'deny',
      }),
    });
    using drops = new ChannelLog<UdpDroppedEvent>('ferry:udp:dropped');
    using ended = new ChannelLog<SessionEvent>('ferry:session:end');
    const client = await UdpEndpoint.open('127.0.0.1');
    const samePortOtherIp = await UdpEndpoint.open('127.0.0.2');
    const otherPort = await UdpEndpoint.open('127.0.0.1');
    try {
      // The client declares its own address and port (RFC 1928 §6): only it may send.
      const { reader, reply } = await command(
        ferry.port,
        request(CMD_UDP, '127.0.0.1', client.port),
      );
      assert.equal(reply.rep, 0, 'UDP ASSOCIATE succeeds');
      const relay = { port: reply.port, host: reply.host };
      const toEcho = (text: string): Buffer => udpDatagram('127.0.0.1', allowed.port, text);

      // 1. Foreign sources: another port of the client's IP, and another IP.
      for (let i = 0; i < EACH; i++) {
        await otherPort.send(toEcho(`foreign-port ${i}`), relay.port, relay.host);
        await samePortOtherIp.send(toEcho(`foreign-ip ${i}`), relay.port, relay.host);
        if (i % 25 === 24) await sleep(2); // paced: a full socket buffer would drop them unseen
      }
      // 2. The client itself, to a destination the rules deny.
      for (let i = 0; i < EACH; i++) {
        await client.send(
          udpDatagram('127.0.0.1', denied.port, `denied ${i}`),
          relay.port,
          relay.host,
        );
        if (i % 25 === 24) await sleep(2);
      }
      const counted = await drops.waitFor(
        (d) =>
          (d.session.udp?.dropped.source ?? 0) === 2 * EACH &&
          (d.session.udp?.dropped.denied ?? 0) === EACH,
        10_000,
      );
      assert.ok(counted, 'every dropped datagram was counted by reason');
      // The allowed path still works (and, on one socket pair, arrives after the drops above).
      await client.send(toEcho('legit'), relay.port, relay.host);
      assert.equal(parseUdpDatagram((await client.receive()).msg).data.toString(), 'legit');
      assert.equal(allowed.received(), 1, 'only the legitimate datagram reached the echo');
      assert.equal(denied.received(), 0, 'nothing reached the denied destination');
      assert.equal(otherPort.queued + samePortOtherIp.queued, 0, 'strangers got nothing back');

      // 3. The control connection closes: the association ends, and datagrams sent to its old
      // relay port afterwards reach no one.
      reader.socket.destroy();
      await ended.waitFor((e) => e.session.command === 'udp');
      assert.ok(await udpPortFree(relay.port, '0.0.0.0', 2000), 'the relay port was released');
      for (let i = 0; i < EACH; i++) {
        await client.send(toEcho(`late ${i}`), relay.port, relay.host).catch(() => undefined);
      }
      await sleep(300);
      assert.equal(allowed.received(), 1, 'nothing sent after the close reached the echo');
      assert.equal(client.queued, 0, 'and nothing came back');
    } finally {
      client.close();
      samePortOtherIp.close();
      otherPort.close();
      allowed.close();
      denied.close();
      await ferry.close();
    }
  });
});
