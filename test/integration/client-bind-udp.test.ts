// bind() and associate() against scripted proxies: the "0.0.0.0 means the proxy's address" rule,
// a failed second BIND reply, acceptTimeout, and the UDP association's filtering and lifetime.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { bind } from '../../src/client/bind.js';
import { associate } from '../../src/client/associate.js';
import { SocksReplyError, SocksTimeoutError } from '../../src/errors.js';
import { startFakeProxy } from '../helpers/servers.js';

/** Answers the greeting with "no auth", then calls `onRequest` with the socket. */
function proxyThat(onRequest: (s: import('node:net').Socket) => void) {
  return startFakeProxy((s) => {
    let stage = 0;
    s.on('data', () => {
      if (stage++ === 0) s.write(Uint8Array.of(0x05, 0x00));
      else onRequest(s);
    });
  });
}

describe('bind() with a scripted proxy', () => {
  it('0.0.0.0 in the first reply means the proxy; the second reply names the peer', async () => {
    const proxy = await proxyThat((s) => {
      // VER 05, REP 00, RSV, ATYP 01, 0.0.0.0, port 0x2222
      s.write(Uint8Array.of(5, 0, 0, 1, 0, 0, 0, 0, 0x22, 0x22));
      // VER 05, REP 00, RSV, ATYP 01, 192.0.2.7, port 0x3333, then the peer's first bytes
      setTimeout(
        () => s.write(Buffer.from([5, 0, 0, 1, 192, 0, 2, 7, 0x33, 0x33, 0x68, 0x69])),
        20,
      );
    });
    try {
      const b = await bind({ proxy: `socks5://127.0.0.1:${proxy.port}` });
      assert.deepEqual(b.bound, { type: 'ipv4', host: '127.0.0.1', port: 0x2222 });
      const { socket, remote } = await b.incoming;
      assert.deepEqual(remote, { type: 'ipv4', host: '192.0.2.7', port: 0x3333 });
      const [data] = (await once(socket, 'data')) as [Buffer];
      assert.equal(data.toString(), 'hi');
      socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('a failed second reply rejects `incoming` with SocksReplyError', async () => {
    const proxy = await proxyThat((s) => {
      s.write(Uint8Array.of(5, 0, 0, 1, 127, 0, 0, 1, 0x22, 0x22));
      s.write(Uint8Array.of(5, 0x04, 0, 1, 0, 0, 0, 0, 0, 0)); // REP 04 host unreachable
    });
    try {
      const b = await bind({ proxy: `socks5://127.0.0.1:${proxy.port}` });
      await assert.rejects(
        b.incoming,
        (e: unknown) => e instanceof SocksReplyError && e.reply === 4,
      );
    } finally {
      await proxy.close();
    }
  });

  it('acceptTimeout bounds the wait for the peer', async () => {
    const proxy = await proxyThat((s) => s.write(Uint8Array.of(5, 0, 0, 1, 127, 0, 0, 1, 0, 1)));
    try {
      const b = await bind({ proxy: `socks5://127.0.0.1:${proxy.port}`, acceptTimeout: 100 });
      await assert.rejects(b.incoming, SocksTimeoutError);
    } finally {
      await proxy.close();
    }
  });
});

describe('associate() with a scripted proxy and relay', () => {
  it('relay 0.0.0.0 → the proxy address; only well-formed unfragmented datagrams from the relay count', async () => {
    const relay = dgram.createSocket('udp4');
    await new Promise<void>((r) => relay.bind(0, '127.0.0.1', r));
    const relayPort = relay.address().port;
    let control: import('node:net').Socket | undefined;
    const proxy = await proxyThat((s) => {
      control = s;
      // VER 05, REP 00, RSV, ATYP 01, 0.0.0.0 ("use my address"), the relay's port
      s.write(Uint8Array.of(5, 0, 0, 1, 0, 0, 0, 0, relayPort >> 8, relayPort & 0xff));
    });
    const stranger = dgram.createSocket('udp4');
    try {
      const udp = await associate({ proxy: `socks5://127.0.0.1:${proxy.port}` });
      assert.deepEqual(udp.relay, { type: 'ipv4', host: '127.0.0.1', port: relayPort });
      const [datagram, rinfo] = (
        await Promise.all([once(relay, 'message'), udp.send('out', 7, '192.0.2.1')])
      )[0] as [Buffer, dgram.RemoteInfo];
      // RSV 0000, FRAG 00, ATYP 01, 192.0.2.1, port 7, "out"
      assert.deepEqual([...datagram], [0, 0, 0, 1, 192, 0, 2, 1, 0, 7, 0x6f, 0x75, 0x74]);
      const from = (frag: number, text: string) =>
        Buffer.from([0, 0, frag, 1, 198, 51, 100, 9, 0, 53, ...Buffer.from(text)]);
      const messages: string[] = [];
      udp.on('message', (data, info) =>
        messages.push(`${info.address}:${info.port} ${data.toString()}`),
      );
      stranger.send(from(0, 'spoofed'), rinfo.port, '127.0.0.1'); // not from the relay
      // Datagrams from two sockets may arrive in any order: wait until this one was dropped.
      for (let i = 0; i < 200 && udp.droppedDatagrams < 1; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      relay.send(from(1, 'fragment'), rinfo.port, '127.0.0.1'); // FRAG ≠ 0
      relay.send(Buffer.from([0, 0]), rinfo.port, '127.0.0.1'); // too short
      relay.send(from(0, 'answer'), rinfo.port, '127.0.0.1');
      await once(udp, 'message');
      assert.deepEqual(messages, ['198.51.100.9:53 answer']);
      assert.equal(udp.droppedDatagrams, 3);
      // The proxy ending the control connection ends the association.
      const closed = once(udp, 'close');
      control?.destroy();
      await closed;
      await assert.rejects(udp.send('x', 1, '127.0.0.1'), { code: 'ERR_SOCKS_INVALID_STATE' });
    } finally {
      relay.close();
      stranger.close();
      await proxy.close();
    }
  });

  it('refuses SOCKS4 before connecting', async () => {
    await assert.rejects(associate({ proxy: 'socks4a://127.0.0.1:9' }), /needs a SOCKS5 proxy/);
  });
});
