// GSS-API on the wire, against ferry's server with a live MIT KDC: RFC 1961 messages written by
// hand (headers spelled out in test/helpers/gssapi-wire.ts, tokens from an in-test initiator),
// so that the server's answers can be checked octet by octet — the abort both ways, the
// zero-length context token, pipelining, the handshake deadline — and so that wrapped messages
// can be tampered with, replayed or sent unencrypted. Also: ferry's client detects a message
// tampered with on the way from the server (a man in the middle flips one bit).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { kdcSkipReason, startKdc, type Kdc } from '../helpers/kdc.js';
import { loadGssapiForTests } from '../helpers/gssapi.js';
import { connectTo, Reader, startFerry } from '../helpers/net.js';
import { startEchoServer, type Closable } from '../helpers/servers.js';
import { ChannelLog } from '../helpers/events.js';
import {
  establishRaw,
  frame,
  negotiateLevel,
  readFrame,
  readWrapped,
  wrapped,
  type RawGssapiSession,
} from '../helpers/gssapi-wire.js';
import { GssFlag } from '../../src/gssapi/index.js';
import { connect } from '../../src/client/connect.js';
import type { SessionEvent } from '../../src/observability/channels.js';

const kdcSkip = kdcSkipReason();
const loaded = await loadGssapiForTests();
const skip = loaded.skip ?? kdcSkip ?? false;

type Ferry = Awaited<ReturnType<typeof startFerry>>;

/** `05 01 00 01 7f 00 00 01 PORT`: CONNECT 127.0.0.1:port, by hand. */
function connectRequest(port: number): Buffer {
  return Buffer.from([0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, port >> 8, port & 0xff]);
}

describe('GSS-API on the wire', { skip }, () => {
  let kdc: Kdc;
  let echo: Closable;
  let server: Ferry;
  let shortDeadline: Ferry;
  const sessions = new ChannelLog<SessionEvent>('ferry:session:end');
  const gss = () => loaded.binding!;
  const endOf = async (raw: RawGssapiSession | net.Socket) => {
    const port = (raw instanceof net.Socket ? raw : raw.socket).localPort;
    return (await sessions.waitFor((m) => m.session.clientPort === port)).session;
  };

  before(async () => {
    kdc = await startKdc();
    Object.assign(process.env, kdc.env);
    echo = await startEchoServer();
    const gssapi = { keytab: kdc.keytab, serviceName: 'rcmd' };
    server = await startFerry({ gssapi: { ...gssapi, levels: ['integrity', 'confidentiality'] } });
    shortDeadline = await startFerry({ gssapi, handshakeTimeout: 300 });
  });
  after(async () => {
    sessions.close();
    await Promise.all([server.close(), shortDeadline.close(), echo.close()]);
    await kdc.stop();
  });

  it('a wrapped request and reply at integrity, with data pipelined behind the level message', async () => {
    const session = await establishRaw(gss(), server.port);
    const { initiator, socket } = session;
    // Level message, request and first data in one write: nothing may be lost in the hand-over.
    socket.write(
      Buffer.concat([
        frame(0x02, initiator.wrap(Uint8Array.of(0x01), { confidential: false }).token),
        wrapped(initiator, 1, connectRequest(echo.port)),
        wrapped(initiator, 1, Buffer.from('early bytes')),
      ]),
    );
    const [mtyp, token] = await readFrame(session.reader);
    assert.equal(mtyp, 0x02);
    assert.deepEqual(initiator.unwrap(token).data, Uint8Array.of(0x01), 'integrity agreed');
    const reply = await readWrapped(session);
    assert.deepEqual(reply.subarray(0, 4), Uint8Array.of(0x05, 0x00, 0x00, 0x01), 'succeeded');
    // At integrity the token shows the data (RFC 4121 does not encrypt it); the check is real.
    assert.equal(Buffer.from(await readWrapped(session)).toString(), 'early bytes');
    socket.destroy();
    initiator.dispose();
  });

  it('a tampered request: the server closes at once with ERR_SOCKS_GSSAPI_PROTECTION', async () => {
    const session = await establishRaw(gss(), server.port);
    assert.equal(await negotiateLevel(session, 0x01), 0x01);
    const message = wrapped(session.initiator, 1, connectRequest(echo.port));
    message[message.length - 1]! ^= 0x01; // one bit of the checksum
    session.socket.write(message);
    assert.ok(await session.reader.closed(), 'closed');
    assert.equal(session.reader.buffered, 0, 'no reply of any kind');
    const record = await endOf(session);
    assert.equal(record.error, 'ERR_SOCKS_GSSAPI_PROTECTION');
    assert.equal(record.endReason, 'protection-error');
    assert.equal(record.command, undefined, 'the request never counted');
    session.initiator.dispose();
  });

  it('tampered relay data, then a replay, at confidentiality: the session and the upstream close', async () => {
    for (const attack of ['tamper', 'replay'] as const) {
      const session = await establishRaw(gss(), server.port);
      const { initiator, socket, reader } = session;
      assert.equal(await negotiateLevel(session, 0x02), 0x02);
      socket.write(wrapped(initiator, 2, connectRequest(echo.port)));
      assert.equal((await readWrapped(session))[1], 0x00);
      const good = wrapped(initiator, 2, Buffer.from('one'));
      socket.write(good);
      assert.equal(Buffer.from(await readWrapped(session)).toString(), 'one');
      const bad = attack === 'replay' ? good : wrapped(initiator, 2, Buffer.from('two'));
      if (attack === 'tamper') bad[20]! ^= 0x80;
      socket.write(bad);
      assert.ok(await reader.closed(), `${attack}: closed`);
      const record = await endOf(session);
      assert.equal(record.error, 'ERR_SOCKS_GSSAPI_PROTECTION', attack);
      assert.equal(record.endReason, 'error', `${attack}: the relay ended on the error`);
      assert.equal(record.bytesUp, 3, `${attack}: only 'one' reached the destination`);
      initiator.dispose();
    }
  });

  it('at confidentiality a message without confidentiality is refused', async () => {
    const session = await establishRaw(gss(), server.port);
    assert.equal(await negotiateLevel(session, 0x02), 0x02);
    session.socket.write(wrapped(session.initiator, 1, connectRequest(echo.port)));
    assert.ok(await session.reader.closed());
    assert.equal((await endOf(session)).error, 'ERR_SOCKS_GSSAPI_PROTECTION');
    session.initiator.dispose();
  });

  it('abort from the client: closed without an answer (RFC 1961 §3.8)', async () => {
    const socket = await connectTo(server.port);
    const reader = new Reader(socket);
    socket.write(Buffer.from([0x05, 0x01, 0x01])); // GSS-API only
    assert.deepEqual(await reader.read(2), Buffer.from([0x05, 0x01]));
    socket.write(Buffer.from([0x01, 0xff])); // VER 1, MTYP FF: abort
    assert.ok(await reader.closed());
    assert.equal(reader.buffered, 0);
    socket.end();
    const record = await endOf(socket);
    assert.equal(record.endReason, 'client-aborted');
    assert.equal(record.error, 'ERR_SOCKS_GSSAPI_ABORTED');
  });

  it('a context token the library rejects, or a message out of turn, is answered 01 FF', async () => {
    const cases: [string, Buffer, string][] = [
      // VER 1, MTYP 01 (context), LEN 4, four octets that are no Kerberos token
      [
        'garbage token',
        Buffer.from([0x01, 0x01, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef]),
        'ERR_SOCKS_GSSAPI',
      ],
      // VER 1, MTYP 03 (data) before any context
      ['data first', Buffer.from([0x01, 0x03, 0x00, 0x01, 0x00]), 'ERR_SOCKS_UNEXPECTED_DATA'],
      // VER 2: not RFC 1961
      ['bad version', Buffer.from([0x02, 0x01, 0x00, 0x00]), 'ERR_SOCKS_BAD_VERSION'],
    ];
    for (const [name, bytes, code] of cases) {
      const socket = await connectTo(server.port);
      const reader = new Reader(socket);
      socket.write(Buffer.concat([Buffer.from([0x05, 0x01, 0x01]), bytes]));
      assert.deepEqual(await reader.read(2), Buffer.from([0x05, 0x01]), name);
      assert.deepEqual(
        await reader.readToEnd(),
        Buffer.from([0x01, 0xff]),
        `${name}: abort, then EOF`,
      );
      socket.end();
      assert.equal((await endOf(socket)).error, code, name);
    }
  });

  it('a context complete with no token of the server: a zero-length token (01 01 00 00)', async () => {
    // Without GSS_C_MUTUAL_FLAG the acceptor has no AP-REP to send.
    const session = await establishRaw(gss(), server.port, {
      flags: GssFlag.Replay | GssFlag.Sequence | GssFlag.Integ | GssFlag.Conf,
    });
    assert.deepEqual(session.serverTokens, [Buffer.alloc(0)]);
    assert.equal(await negotiateLevel(session, 0x01), 0x01);
    session.socket.destroy();
    session.initiator.dispose();
  });

  it('the handshake deadline covers the GSS-API exchange', async () => {
    const socket = await connectTo(shortDeadline.port);
    const reader = new Reader(socket);
    socket.write(Buffer.from([0x05, 0x01, 0x01, 0x01, 0x01])); // greeting, then half a header
    assert.deepEqual(await reader.read(2), Buffer.from([0x05, 0x01]));
    assert.ok(await reader.closed(3000));
    assert.equal((await endOf(socket)).endReason, 'handshake-timeout');
  });

  it("ferry's client detects a reply tampered with on the way (one bit flipped by a man in the middle)", async () => {
    // The relay between client and server parses RFC 1961 frames after the SOCKS5 method
    // selection and flips one bit in the first MTYP 03 message from the server: the reply.
    const mitm = net.createServer((client) => {
      const upstream = net.connect(server.port, '127.0.0.1');
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
      client.pipe(upstream);
      let buffered = Buffer.alloc(0);
      let skipped = false;
      let tampered = false;
      upstream.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (!skipped && buffered.length >= 2) {
          client.write(buffered.subarray(0, 2)); // 05 01
          buffered = buffered.subarray(2);
          skipped = true;
        }
        while (skipped && buffered.length >= 4) {
          const total = 4 + buffered.readUInt16BE(2);
          if (buffered.length < total) break;
          const message = Buffer.from(buffered.subarray(0, total));
          if (message[1] === 0x03 && !tampered) {
            message[total - 1]! ^= 0x01;
            tampered = true;
          }
          client.write(message);
          buffered = buffered.subarray(total);
        }
      });
      upstream.on('end', () => client.end());
      client.on('close', () => upstream.destroy());
    });
    mitm.listen(0, '127.0.0.1');
    await once(mitm, 'listening');
    const port = (mitm.address() as net.AddressInfo).port;
    try {
      await assert.rejects(
        connect({
          proxy: `socks5h+gssapi://localhost:${port}?level=integrity`,
          destination: { host: '127.0.0.1', port: echo.port },
        }),
        (err: unknown) => {
          assert.equal((err as { code?: string }).code, 'ERR_SOCKS_GSSAPI_PROTECTION', String(err));
          return true;
        },
      );
    } finally {
      mitm.close();
    }
  });
});
