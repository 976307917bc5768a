/** The CLI's BIND/UDP flags: validation naming the flag, and the access line of an association. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { run, serve } from '../helpers/cli.js';
import { CMD_BIND, CMD_UDP, command, request, udpDatagram } from '../helpers/socks5-commands.js';
import { startUdpEcho, UdpEndpoint } from '../helpers/udp.js';

describe('ferry serve: BIND and UDP flags', () => {
  for (const [args, flag] of [
    [['--udp-reassembly-timeout', '1s'], '--udp-reassembly-timeout'],
    [['--udp-ports', '5000-4000'], '5000-4000'],
    [['--external-address', 'localhost'], '--external-address'],
    [['--external-address', '10.0.0.1', '--external-address', '10.0.0.2'], 'externalAddress'],
    [['--udp-max-datagram-size', '12 parsecs'], '12 parsecs'],
    [['--bind-timeout', 'soon'], 'soon'],
  ] as const) {
    it(`rejects ${args.join(' ')} naming it (exit 2)`, async () => {
      const { code, stderr } = await run(['serve', '--listen', '127.0.0.1:0', ...args]);
      assert.equal(code, 2, stderr);
      assert.ok(stderr.includes(flag), stderr);
    });
  }

  it('one access line per association, with datagrams, bytes and drops; the port range and the advertised address', async () => {
    const echo = await startUdpEcho('127.0.0.1');
    const probe = await UdpEndpoint.open('127.0.0.1');
    const base = probe.port;
    probe.close();
    const { child, port, logs } = await serve([
      '--udp-ports',
      `${base}-${base}`,
      '--external-address',
      '192.0.2.9',
    ]);
    const client = await UdpEndpoint.open('127.0.0.1');
    try {
      const { reader, reply } = await command(port, request(CMD_UDP, '127.0.0.1', client.port));
      assert.deepEqual([reply.rep, reply.host, reply.port], [0, '192.0.2.9', base]);
      // The advertised address is for clients beyond the NAT; here the socket is reached directly.
      await client.send(udpDatagram('127.0.0.1', echo.port, 'hello'), base, '127.0.0.1');
      assert.equal((await client.receive()).msg.subarray(10).toString(), 'hello');
      await client.send(Buffer.from('junk'), base, '127.0.0.1');
      // Datagrams of one socket are handled in order: once this one is back, the junk was counted.
      await client.send(udpDatagram('127.0.0.1', echo.port, 'again'), base, '127.0.0.1');
      await client.receive();
      reader.socket.destroy();
      const line = await logs.waitFor((l) => l.event === 'access' && l.command === 'udp');
      assert.equal(line.reply, 0);
      assert.equal(line.remote, `127.0.0.1:${base}`);
      assert.equal(line.datagramsUp, 2);
      assert.equal(line.datagramsDown, 2);
      assert.equal(line.udpBytesUp, 10);
      assert.equal(line.udpBytesDown, 10);
      assert.deepEqual(line.dropped, { malformed: 1 });
      assert.equal(line.end, 'client-closed');
      assert.equal(typeof line.durationMs, 'number');
    } finally {
      client.close();
      echo.close();
      child.kill('SIGKILL');
    }
  });

  it('--bind-timeout: a BIND nobody connects to ends with 06, logged as bind-timeout', async () => {
    const { child, port, logs } = await serve(['--bind-timeout', '200ms']);
    try {
      const { reader, reply } = await command(port, request(CMD_BIND, '127.0.0.1', 0));
      assert.equal(reply.rep, 0);
      assert.equal((await reader.read(10)).readUInt8(1), 0x06);
      reader.socket.destroy();
      const line = await logs.waitFor((l) => l.event === 'access' && l.command === 'bind');
      assert.equal(line.reply, 6);
      assert.equal(line.end, 'bind-timeout');
      assert.equal(line.error, 'ERR_SOCKS_BIND_TIMEOUT');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
