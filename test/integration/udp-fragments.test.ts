/**
 * RFC 1928 §7 fragments through a real association: reassembled datagrams reach the destination
 * whole; abandoned sequences reach nobody and are counted by reason.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startFerry } from '../helpers/net.js';
import { hex } from '../helpers/socks5.js';
import {
  CMD_UDP,
  command,
  parseUdpDatagram,
  request,
  udpDatagram,
} from '../helpers/socks5-commands.js';
import { startUdpEcho, UdpEndpoint } from '../helpers/udp.js';
import { ChannelLog } from '../helpers/events.js';
import type { UdpDroppedEvent } from '../../src/observability/channels.js';
import type { ServerOptions } from '../../src/server/options.js';

/** FRAG octets: position in the low seven bits; 0x80 marks the last fragment. */
const LAST = 0x80;

describe('UDP fragments', () => {
  let echo: Awaited<ReturnType<typeof startUdpEcho>>;
  before(async () => {
    echo = await startUdpEcho('127.0.0.1');
  });
  after(() => {
    echo.close();
  });

  /** A ferry, an association from a fresh client socket, and a way to send fragments. */
  async function setup(options: ServerOptions = {}) {
    const ferry = await startFerry(options);
    const client = await UdpEndpoint.open('127.0.0.1');
    const { reader, reply } = await command(ferry.port, request(CMD_UDP, '127.0.0.1', client.port));
    assert.equal(reply.rep, 0);
    const drops = new ChannelLog<UdpDroppedEvent>('ferry:udp:dropped');
    return {
      drops,
      send: (frag: number, data: string) =>
        client.send(udpDatagram('127.0.0.1', echo.port, data, frag), reply.port, reply.host),
      receive: async () => parseUdpDatagram((await client.receive()).msg),
      client,
      relay: [reply.port, reply.host] as const,
      close: async () => {
        drops.close();
        client.close();
        reader.socket.destroy();
        await ferry.close();
      },
    };
  }

  it('in order: 01, 02, 83 reach the destination as one datagram', async () => {
    const t = await setup();
    try {
      const before = echo.received();
      // RSV=0000 FRAG=01 ATYP=01 127.0.0.1 PORT "Hel" — written out once by hand:
      const port = Buffer.alloc(2);
      port.writeUInt16BE(echo.port);
      await t.client.send(
        Buffer.concat([hex('0000 01 01 7f000001'), port, Buffer.from('Hel')]),
        ...t.relay,
      );
      await t.send(0x02, 'lo, ');
      await t.send(0x03 | LAST, 'world');
      const back = await t.receive();
      assert.equal(back.frag, 0, 'the relay never fragments toward the client');
      assert.equal(back.data.toString(), 'Hello, world');
      assert.equal(echo.received(), before + 1, 'one datagram reached the echo');
    } finally {
      await t.close();
    }
  });

  it('out of order (01, 03, 02, 84): the sequence is abandoned, nothing garbled is sent', async () => {
    const t = await setup();
    try {
      const before = echo.received();
      await t.send(0x01, 'a');
      await t.send(0x03, 'c');
      await t.send(0x02, 'b');
      const reset = await t.drops.waitFor((d) => d.reason === 'fragment-reset');
      assert.equal(reset.count, 2, '01 and 03 were abandoned when 02 arrived');
      await t.send(0x04 | LAST, 'd');
      // A standalone datagram afterwards abandons the hopeless 02..84 queue and goes through.
      await t.send(0x00, 'clean');
      assert.equal((await t.receive()).data.toString(), 'clean');
      assert.equal(echo.received(), before + 1, 'only the clean datagram reached the echo');
      assert.equal(t.drops.messages.filter((d) => d.reason === 'fragment-reset').length, 2);
    } finally {
      await t.close();
    }
  });

  it('a lower position resets the queue; the new sequence is delivered alone', async () => {
    const t = await setup();
    try {
      await t.send(0x01, 'x1');
      await t.send(0x02, 'x2');
      await t.send(0x01, 'y1');
      await t.send(0x02 | LAST, 'y2');
      assert.equal((await t.receive()).data.toString(), 'y1y2');
      const reset = await t.drops.waitFor((d) => d.reason === 'fragment-reset');
      assert.equal(reset.count, 2);
      assert.equal(t.client.queued, 0);
    } finally {
      await t.close();
    }
  });

  it('a gap (01, 03+end) is abandoned when the 5 s reassembly timer expires', async () => {
    const t = await setup({ udpReassemblyTimeout: 5000 });
    try {
      const before = echo.received();
      const sent = Date.now();
      await t.send(0x01, 'a');
      await t.send(0x03 | LAST, 'c');
      const expired = await t.drops.waitFor((d) => d.reason === 'fragment-timeout', 10_000);
      assert.equal(expired.count, 2);
      assert.ok(Date.now() - sent >= 4900, 'not before the timer (RFC 1928 §7: at least 5 s)');
      assert.equal(echo.received(), before);
      assert.equal(expired.session.udp?.dropped['fragment-timeout'], 2);
    } finally {
      await t.close();
    }
  });

  it('with reassembly off, every fragment is dropped (RFC 1928 §7) and standalone ones pass', async () => {
    const t = await setup({ udpReassembly: false });
    try {
      await t.send(0x01, 'a');
      await t.send(0x02 | LAST, 'b');
      await t.send(0x00, 'plain');
      assert.equal((await t.receive()).data.toString(), 'plain');
      const last = await t.drops.waitFor((d) => d.session.udp?.dropped.fragment === 2);
      assert.equal(last.reason, 'fragment');
    } finally {
      await t.close();
    }
  });

  it('udpMaxDatagramSize caps the reassembled size', async () => {
    const t = await setup({ udpMaxDatagramSize: 8 });
    try {
      await t.send(0x01, '12345');
      await t.send(0x02 | LAST, '6789');
      const drop = await t.drops.waitFor((d) => d.reason === 'fragment-too-large');
      // The fragment that did not fit and the one queued before it.
      assert.equal(drop.session.udp?.dropped['fragment-too-large'], 2);
    } finally {
      await t.close();
    }
  });
});
