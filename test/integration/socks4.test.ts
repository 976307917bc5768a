/** SOCKS4 and SOCKS4a over real loopback sockets, with hand-written client bytes. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import {
  closedPort,
  connectTo,
  Reader,
  startEcho,
  startFerry,
  startTripwire,
} from '../helpers/net.js';
import { parseSocks4Reply, socks4aRequest, socks4Request } from '../helpers/socks4.js';
import { ChannelLog } from '../helpers/events.js';
import { hex } from '../helpers/socks5.js';
import {
  channelNames,
  type AuthEvent,
  type SessionEvent,
} from '../../src/observability/channels.js';
import { UserDatabase } from '../../src/auth/users.js';
import { compilePolicy } from '../../src/rules/index.js';
import { hashPassword } from '../../src/auth/password.js';
import type { SessionRecord } from '../../src/server/session-record.js';
import { createServer } from '../../src/server/index.js';
import { connect } from '../../src/client/connect.js';
import { SocksReplyError } from '../../src/errors.js';

const CONNECT = 0x01;
const BIND = 0x02;

async function request(
  port: number,
  bytes: Buffer,
): Promise<{ reader: Reader; reply: ReturnType<typeof parseSocks4Reply> }> {
  const socket = await connectTo(port);
  const reader = new Reader(socket);
  socket.write(bytes);
  return { reader, reply: parseSocks4Reply(await reader.read(8)) };
}

describe('SOCKS4 / SOCKS4a', () => {
  let ferry: Awaited<ReturnType<typeof startFerry>>;
  let echo: Awaited<ReturnType<typeof startEcho>>;
  before(async () => {
    ferry = await startFerry();
    echo = await startEcho();
  });
  after(async () => {
    await ferry.close();
    await echo.close();
  });

  it('CONNECT to an IPv4 address: 5A, data flows, USERID recorded (not trusted)', async () => {
    using ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    const { reader, reply } = await request(
      ferry.port,
      socks4Request(CONNECT, '127.0.0.1', echo.port, 'root'),
    );
    assert.deepEqual([reply.vn, reply.cd], [0x00, 0x5a]);
    assert.equal(reply.ip, '127.0.0.1', 'the outgoing socket address');
    reader.socket.write('ping');
    assert.equal((await reader.read(4)).toString(), 'ping');
    reader.socket.end();
    await reader.readToEnd();
    const { session } = await ended.waitFor((m) => m.session.dialect === 'socks4');
    assert.equal(session.userId, 'root');
    assert.equal(session.user, undefined, 'USERID is not an authenticated user');
    assert.equal(session.command, 'connect');
    assert.equal(session.destination, `127.0.0.1:${echo.port}`);
    assert.equal(session.reply, 0x00, 'the record speaks SOCKS5 REP for every dialect');
    assert.equal(session.bytesUp, 4);
    assert.equal(session.endReason, 'closed');
  });

  it('SOCKS4a: ferry resolves the name', async () => {
    const { reader, reply } = await request(
      ferry.port,
      socks4aRequest(CONNECT, 'localhost', echo.port, 'u'),
    );
    assert.equal(reply.cd, 0x5a);
    reader.socket.write('4a');
    assert.equal((await reader.read(2)).toString(), '4a');
    reader.socket.destroy();
  });

  it('request + payload + FIN in one write: the payload arrives, then the FIN', async () => {
    const socket = await connectTo(ferry.port);
    const reader = new Reader(socket);
    socket.end(
      Buffer.concat([socks4Request(CONNECT, '127.0.0.1', echo.port), Buffer.from('early')]),
    );
    const all = await reader.readToEnd();
    assert.equal(parseSocks4Reply(all.subarray(0, 8)).cd, 0x5a);
    assert.equal(all.subarray(8).toString(), 'early');
  });

  it('every failure is a full 8-octet 5B; the record keeps the cause', async () => {
    using ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    const refused = await request(
      ferry.port,
      socks4Request(CONNECT, '127.0.0.1', await closedPort()),
    );
    assert.deepEqual(refused.reply, { vn: 0, cd: 0x5b, port: 0, ip: '0.0.0.0' });
    assert.ok(await refused.reader.closed());
    const unknown = await request(ferry.port, socks4aRequest(CONNECT, 'nonexistent.invalid', 80));
    assert.equal(unknown.reply.cd, 0x5b);
    const records = [
      await ended.waitFor((m) => m.session.error === 'ECONNREFUSED'),
      await ended.waitFor((m) => m.session.destination === 'nonexistent.invalid:80'),
    ];
    // On the wire both are 5B; the record keeps the SOCKS5 meaning (05 refused, 04 unreachable).
    assert.deepEqual(
      records.map(({ session }) => [session.reply, session.endReason]),
      [
        [0x05, 'refused'],
        [0x04, 'refused'],
      ],
    );
  });

  it('a malformed request (unknown CD) gets 5B and a close', async () => {
    const { reader, reply } = await request(ferry.port, hex('04 09 0050 7f000001 00'));
    assert.equal(reply.cd, 0x5b);
    assert.ok(await reader.closed());
  });

  it('BIND: two replies, then the peer and the client talk', async () => {
    const socket = await connectTo(ferry.port);
    const reader = new Reader(socket);
    // DSTIP names the application server, i.e. the peer expected to connect: 127.0.0.1.
    socket.write(socks4Request(BIND, '127.0.0.1', 21, 'ftp'));
    const first = parseSocks4Reply(await reader.read(8));
    assert.equal(first.cd, 0x5a);
    assert.ok(first.port > 0, 'the listening port');
    const host = first.ip === '0.0.0.0' ? '127.0.0.1' : first.ip;
    const peer = await connectTo(first.port, host);
    const second = parseSocks4Reply(await reader.read(8));
    assert.deepEqual([second.cd, second.ip, second.port], [0x5a, '127.0.0.1', peer.localPort]);
    const peerReader = new Reader(peer);
    peer.write('from peer');
    assert.equal((await reader.read(9)).toString(), 'from peer');
    socket.write('from client');
    assert.equal((await peerReader.read(11)).toString(), 'from client');
    socket.destroy();
    peer.destroy();
  });

  it('the handshake deadline applies to a SOCKS4 request that never ends', async () => {
    const slow = await startFerry({ handshakeTimeout: 300 });
    try {
      const socket = await connectTo(slow.port);
      const reader = new Reader(socket);
      socket.write(hex('04 01 0050 7f000001 6162')); // USERID without its NUL
      assert.ok(await reader.closed(5000));
      assert.equal(reader.buffered, 0, 'no reply for an unfinished request');
    } finally {
      await slow.close();
    }
  });
});

describe('SOCKS4 when authentication is required', () => {
  let users: UserDatabase;
  before(async () => {
    users = UserDatabase.parse(`alice:${await hashPassword('pw')}\n`);
  });

  it('is refused with 5B and no outbound connection', async () => {
    const target = await startTripwire();
    const ferry = await startFerry({ users });
    using ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    using auth = new ChannelLog<AuthEvent>(channelNames.auth);
    try {
      const { reader, reply } = await request(
        ferry.port,
        socks4Request(CONNECT, '127.0.0.1', target.port, 'alice'),
      );
      assert.equal(reply.cd, 0x5b);
      assert.ok(await reader.closed());
      const { session } = await ended.waitFor();
      assert.equal(session.endReason, 'auth-required');
      assert.equal(session.error, 'ERR_SOCKS_AUTH_REQUIRED');
      assert.equal(session.user, undefined, 'a USERID that names a user grants nothing');
      assert.equal((await auth.waitFor()).success, false);
      assert.equal(target.hits(), 0);
    } finally {
      await target.close();
      await ferry.close();
    }
  });

  it('passes when allowUnauthenticated lets that client through', async () => {
    const echo = await startEcho();
    const seen: SessionRecord[] = [];
    const ferry = await startFerry({
      users,
      allowUnauthenticated: (s) => {
        seen.push({ ...s });
        return s.clientAddress === '127.0.0.1' && s.dialect === 'socks4';
      },
    });
    try {
      const { reader, reply } = await request(
        ferry.port,
        socks4aRequest(CONNECT, 'localhost', echo.port, 'ident'),
      );
      assert.equal(reply.cd, 0x5a);
      reader.socket.destroy();
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.destination, `localhost:${echo.port}`);
      assert.equal(seen[0]!.userId, 'ident');
      assert.equal(seen[0]!.command, 'connect');
    } finally {
      await ferry.close();
      await echo.close();
    }
  });

  it('an anonymous: true rule lets a client in, only where anonymous rules allow', async () => {
    const echo = await startEcho();
    const target = await startTripwire();
    const ferry = await startFerry({
      users,
      rules: compilePolicy({
        rules: [
          {
            name: 'lab',
            action: 'allow',
            anonymous: true,
            client: '127.0.0.1',
            dialect: 'socks4',
            port: echo.port,
          },
        ],
        default: 'allow', // meant for authenticated users: never for the anonymous
      }),
    });
    using ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    try {
      const ok = await request(ferry.port, socks4Request(CONNECT, '127.0.0.1', echo.port, 'x'));
      assert.equal(ok.reply.cd, 0x5a);
      ok.reader.socket.write('ping');
      assert.equal((await ok.reader.read(4)).toString(), 'ping');
      ok.reader.socket.destroy();
      // Another port: the anonymous rule does not match, the allow default does not count.
      const other = await request(ferry.port, socks4Request(CONNECT, '127.0.0.1', target.port));
      assert.equal(other.reply.cd, 0x5b);
      const denied = await ended.waitFor((m) => m.session.reply === 0x02);
      assert.equal(denied.session.endReason, 'denied');
      assert.equal(denied.session.rule, 'default');
      // Another client address: no anonymous rule matches, so credentials are required.
      const stranger = net.connect({
        port: ferry.port,
        host: '127.0.0.1',
        localAddress: '127.0.0.2',
      });
      await once(stranger, 'connect');
      const reader = new Reader(stranger);
      stranger.write(socks4Request(CONNECT, '127.0.0.1', echo.port));
      assert.equal(parseSocks4Reply(await reader.read(8)).cd, 0x5b);
      const refused = await ended.waitFor((m) => m.session.clientAddress === '127.0.0.2');
      assert.equal(refused.session.endReason, 'auth-required');
      assert.equal(target.hits(), 0);
    } finally {
      await target.close();
      await ferry.close();
      await echo.close();
    }
  });

  it('a hook that throws denies', async () => {
    const ferry = await startFerry({
      users,
      allowUnauthenticated: () => {
        throw new Error('rules engine broke');
      },
    });
    try {
      const { reply } = await request(ferry.port, socks4Request(CONNECT, '127.0.0.1', 9));
      assert.equal(reply.cd, 0x5b);
    } finally {
      await ferry.close();
    }
  });
});

describe('protocols option', () => {
  it('a disabled dialect is closed unanswered and recorded', async () => {
    const ferry = await startFerry({ protocols: ['socks5', 'http'] });
    using ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    try {
      const socket = await connectTo(ferry.port);
      const reader = new Reader(socket);
      socket.write(socks4Request(CONNECT, '127.0.0.1', 9));
      assert.equal((await reader.readToEnd()).length, 0);
      const { session } = await ended.waitFor();
      assert.equal(session.endReason, 'protocol-disabled');
      assert.equal(session.dialect, 'socks4');
    } finally {
      await ferry.close();
    }
  });

  it('bad values are refused naming the option', () => {
    for (const protocols of [[], ['socks6']] as unknown as ('socks5' | 'http')[][]) {
      assert.throws(() => createServer({ protocols }), /protocols:/);
    }
  });
});

describe("ferry's own client over SOCKS4 and SOCKS4a", () => {
  it('socks4a:// (the server resolves) and socks4:// (the client resolves) reach the echo', async () => {
    const ferry = await startFerry();
    const echo = await startEcho();
    try {
      for (const scheme of ['socks4a', 'socks4']) {
        const { socket } = await connect({
          proxy: `${scheme}://127.0.0.1:${ferry.port}`,
          destination: { host: 'localhost', port: echo.port },
          timeout: 5000,
        });
        const reader = new Reader(socket);
        socket.write(scheme);
        assert.equal((await reader.read(scheme.length)).toString(), scheme);
        socket.destroy();
      }
    } finally {
      await ferry.close();
      await echo.close();
    }
  });

  it('a refusal surfaces as SocksReplyError version 4, 5B', async () => {
    const ferry = await startFerry({
      users: UserDatabase.parse(`alice:${await hashPassword('pw')}\n`),
    });
    try {
      await assert.rejects(
        connect({
          proxy: `socks4a://127.0.0.1:${ferry.port}`,
          destination: { host: 'localhost', port: 9 },
          timeout: 5000,
        }),
        (err: unknown) => err instanceof SocksReplyError && err.version === 4 && err.reply === 0x5b,
      );
    } finally {
      await ferry.close();
    }
  });
});
