/** The `socks` npm package's BIND and UDP ASSOCIATE (an independent client) against ferry. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { SocksClient } from 'socks';
import { connectTo, Reader, startFerry } from '../helpers/net.js';
import { startUdpEcho, UdpEndpoint } from '../helpers/udp.js';

/** What 'bound' and 'established' carry (the package does not export the type from its root). */
interface SocksClientEstablishedEvent {
  readonly socket: import('node:net').Socket;
  readonly remoteHost?: { host: string; port: number };
}

describe('the socks npm client: BIND and ASSOCIATE', () => {
  let ferry: Awaited<ReturnType<typeof startFerry>>;
  let echo: Awaited<ReturnType<typeof startUdpEcho>>;
  before(async () => {
    ferry = await startFerry();
    echo = await startUdpEcho('127.0.0.1');
  });
  after(async () => {
    await ferry.close();
    echo.close();
  });

  it('BIND: bound (first reply), the peer connects, established (second reply), data both ways', async () => {
    const client = new SocksClient({
      proxy: { host: '127.0.0.1', port: ferry.port, type: 5 },
      command: 'bind',
      destination: { host: '127.0.0.1', port: 0 },
      timeout: 5000,
    });
    const bound = once(client, 'bound') as Promise<[SocksClientEstablishedEvent]>;
    const established = once(client, 'established') as Promise<[SocksClientEstablishedEvent]>;
    client.connect();
    const [{ remoteHost: listening }] = await bound;
    assert.ok(listening !== undefined);
    assert.equal(listening.host, '127.0.0.1');
    const peer = new Reader(await connectTo(listening.port, listening.host));
    const [{ socket, remoteHost: who }] = await established;
    assert.deepEqual(who, { host: '127.0.0.1', port: peer.socket.localPort });
    socket.write('to peer');
    assert.equal((await peer.read(7)).toString(), 'to peer');
    peer.socket.write('to client');
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    assert.equal(chunk.toString(), 'to client');
    socket.destroy();
    peer.socket.destroy();
  });

  it('ASSOCIATE: createUDPFrame to the relay, parseUDPFrame on the way back', async () => {
    const udp = await UdpEndpoint.open('127.0.0.1');
    try {
      const client = new SocksClient({
        proxy: { host: '127.0.0.1', port: ferry.port, type: 5 },
        command: 'associate',
        destination: { host: '127.0.0.1', port: udp.port },
        timeout: 5000,
      });
      const established = once(client, 'established') as Promise<[SocksClientEstablishedEvent]>;
      client.connect();
      const [{ socket, remoteHost: relay }] = await established;
      assert.ok(relay !== undefined);
      const frame = SocksClient.createUDPFrame({
        remoteHost: { host: '127.0.0.1', port: echo.port },
        data: Buffer.from('via socks'),
      });
      await udp.send(frame, relay.port, relay.host);
      const parsed = SocksClient.parseUDPFrame((await udp.receive()).msg);
      assert.equal(parsed.data.toString(), 'via socks');
      assert.deepEqual(parsed.remoteHost, { host: '127.0.0.1', port: echo.port });
      socket.destroy();
    } finally {
      udp.close();
    }
  });
});
