// The client session machine: whole handshakes against hand-written proxy transcripts, fed in
// one piece and one byte at a time; out-of-turn calls; garbage from the proxy.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ClientSession,
  NEED_DATA,
  PAUSED,
  type ClientEvent,
} from '../../src/protocol/client-session.js';
import { AuthMethod, Command } from '../../src/protocol/constants.js';
import { SocksProtocolError, SocksUsageError } from '../../src/errors.js';

const b = (...parts: (number | string)[]): Uint8Array =>
  Uint8Array.from(
    parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : [p])),
  );

/** Every event the session can produce from what it holds now. */
function drain(session: ClientSession): ClientEvent[] {
  const out: ClientEvent[] = [];
  for (let e = session.nextEvent(); typeof e === 'object'; e = session.nextEvent()) out.push(e);
  return out;
}

/** Feeds `wire` whole, or one octet at a time, and collects the events. */
function feed(session: ClientSession, wire: Uint8Array, byteByByte: boolean): ClientEvent[] {
  if (!byteByByte) {
    session.receiveData(wire);
    return drain(session);
  }
  const events: ClientEvent[] = [];
  for (const octet of wire) {
    if (session.state === 'failed') break; // it refuses everything after an error
    session.receiveData(Uint8Array.of(octet));
    events.push(...drain(session));
  }
  return events;
}

const target = { type: 'domain', host: 'example.com', port: 443 } as const;

// prettier-ignore
const connectExampleCom = b(
  0x05,             // VER
  0x01,             // CMD: CONNECT
  0x00,             // RSV
  0x03,             // ATYP: domain
  0x0b, 'example.com', // length 11, name
  0x01, 0xbb,       // DST.PORT: 443
);

// prettier-ignore
const successReplyWithPayload = b(
  0x05, 0x00, 0x00, // VER, REP: succeeded, RSV
  0x01, 127, 0, 0, 1, // ATYP: IPv4, BND.ADDR 127.0.0.1
  0x9c, 0x40,       // BND.PORT: 40000
  'HTTP/1.1',       // first bytes from the destination, in the same segment
);

for (const byteByByte of [false, true]) {
  const how = byteByByte ? 'one byte at a time' : 'in one piece';

  describe(`SOCKS5 client session, proxy bytes ${how}`, () => {
    it('no authentication, CONNECT, and keeps the bytes after the reply', () => {
      const s = new ClientSession();
      assert.equal(s.state, 'greeting');
      assert.equal(s.nextEvent(), PAUSED);
      // VER 05, NMETHODS 1, METHOD 00
      assert.deepEqual(s.send({ type: 'greeting', methods: [AuthMethod.NoAuth] }), b(5, 1, 0));
      assert.equal(s.nextEvent(), NEED_DATA);
      assert.deepEqual(feed(s, b(0x05, 0x00), byteByByte), [{ type: 'method', method: 0 }]);
      assert.equal(s.state, 'request');
      assert.equal(s.method, AuthMethod.NoAuth);
      assert.deepEqual(
        s.send({ type: 'request', command: Command.Connect, destination: target }),
        connectExampleCom,
      );
      assert.deepEqual(feed(s, successReplyWithPayload, byteByByte), [
        {
          type: 'reply',
          reply: 0,
          succeeded: true,
          final: true,
          bound: { type: 'ipv4', host: '127.0.0.1', port: 40000 },
        },
      ]);
      assert.equal(s.state, 'established');
      assert.equal(s.nextEvent(), PAUSED);
      assert.deepEqual(s.takeTrailingData(), b('HTTP/1.1'));
      assert.equal(s.bufferedLength, 0);
    });

    it('username/password accepted', () => {
      const s = new ClientSession();
      s.send({ type: 'greeting', methods: [AuthMethod.NoAuth, AuthMethod.UserPass] });
      assert.deepEqual(feed(s, b(0x05, 0x02), byteByByte), [{ type: 'method', method: 2 }]);
      assert.equal(s.state, 'user-pass');
      // VER 01, ULEN 3 "bob", PLEN 2 "pw"
      assert.deepEqual(
        s.send({ type: 'credentials', username: 'bob', password: 'pw' }),
        b(0x01, 3, 'bob', 2, 'pw'),
      );
      // VER 01, STATUS 00
      assert.deepEqual(feed(s, b(0x01, 0x00), byteByByte), [
        { type: 'auth-result', success: true, status: 0 },
      ]);
      assert.equal(s.state, 'request');
    });

    it('username/password rejected: closed', () => {
      const s = new ClientSession();
      s.send({ type: 'greeting', methods: [AuthMethod.UserPass] });
      feed(s, b(0x05, 0x02), byteByByte);
      s.send({ type: 'credentials', username: 'bob', password: 'wrong' });
      // VER 01, STATUS 01 (any non-zero is failure)
      assert.deepEqual(feed(s, b(0x01, 0x01), byteByByte), [
        { type: 'auth-result', success: false, status: 1 },
      ]);
      assert.equal(s.state, 'closed');
      assert.throws(() => s.send({ type: 'request', command: 1, destination: target }));
    });

    it('no acceptable methods (FF): closed', () => {
      const s = new ClientSession();
      s.send({ type: 'greeting', methods: [AuthMethod.NoAuth] });
      assert.deepEqual(feed(s, b(0x05, 0xff), byteByByte), [{ type: 'method', method: 0xff }]);
      assert.equal(s.state, 'closed');
    });

    it('a failure reply closes the session and reports the code', () => {
      const s = new ClientSession();
      s.send({ type: 'greeting', methods: [AuthMethod.NoAuth] });
      feed(s, b(5, 0), byteByByte);
      s.send({ type: 'request', command: Command.Connect, destination: target });
      // VER 05, REP 05 connection refused, RSV, ATYP 01, 0.0.0.0, port 0
      const events = feed(s, b(5, 5, 0, 1, 0, 0, 0, 0, 0, 0), byteByByte);
      assert.deepEqual(events, [
        {
          type: 'reply',
          reply: 5,
          succeeded: false,
          final: true,
          bound: { type: 'ipv4', host: '0.0.0.0', port: 0 },
        },
      ]);
      assert.equal(s.state, 'closed');
    });

    it('BIND: two replies, the second names the peer (IPv6)', () => {
      const s = new ClientSession();
      s.send({ type: 'greeting', methods: [AuthMethod.NoAuth] });
      feed(s, b(5, 0), byteByByte);
      s.send({
        type: 'request',
        command: Command.Bind,
        destination: { type: 'ipv4', host: '0.0.0.0', port: 0 },
      });
      // VER 05, REP 00, RSV, ATYP 01, 127.0.0.1, port 0x1234
      const first = feed(s, b(5, 0, 0, 1, 127, 0, 0, 1, 0x12, 0x34), byteByByte);
      assert.deepEqual(first, [
        {
          type: 'reply',
          reply: 0,
          succeeded: true,
          final: false,
          bound: { type: 'ipv4', host: '127.0.0.1', port: 0x1234 },
        },
      ]);
      assert.equal(s.state, 'bind-waiting');
      // VER 05, REP 00, RSV, ATYP 04, ::1, port 0x5678, then data from the peer
      const v6 = [...new Array<number>(15).fill(0), 1];
      const second = feed(s, b(5, 0, 0, 4, ...v6, 0x56, 0x78, 'hello'), byteByByte);
      assert.deepEqual(second, [
        {
          type: 'reply',
          reply: 0,
          succeeded: true,
          final: true,
          bound: { type: 'ipv6', host: '::1', port: 0x5678 },
        },
      ]);
      assert.deepEqual(s.takeTrailingData(), b('hello'));
    });

    it('a method of its own (e.g. GSS-API) owns the bytes, then the session resumes', () => {
      const s = new ClientSession();
      s.send({ type: 'greeting', methods: [AuthMethod.GssApi] });
      // VER 05, METHOD 01, then the first bytes of the method's own exchange
      const events = feed(s, b(5, 1, 0x01, 0x01, 0x00, 0x02, 0xaa), byteByByte);
      assert.deepEqual(events, [{ type: 'method', method: AuthMethod.GssApi }]);
      assert.equal(s.state, 'method-specific');
      assert.equal(s.nextEvent(), PAUSED);
      assert.deepEqual(s.takeMethodData(), b(0x01, 0x01, 0x00, 0x02, 0xaa));
      // The method read one byte too many: the start of... nothing yet; it hands back none.
      s.authenticated();
      assert.equal(s.state, 'request');
      s.send({ type: 'request', command: Command.UdpAssociate, destination: target });
      const reply = feed(s, b(5, 0, 0, 1, 10, 0, 0, 1, 0, 53), byteByByte);
      assert.equal(reply.length, 1);
      assert.equal(s.state, 'established');
    });

    it('bytes read past the end of a method are decoded as the reply', () => {
      const s = new ClientSession();
      s.send({ type: 'greeting', methods: [0x80] });
      feed(s, b(5, 0x80), byteByByte);
      s.authenticated(b(5, 0));
      s.send({ type: 'request', command: Command.Connect, destination: target });
      s.receiveData(b(0, 1, 1, 2, 3, 4, 0, 80));
      assert.deepEqual(drain(s), [
        {
          type: 'reply',
          reply: 0,
          succeeded: true,
          final: true,
          bound: { type: 'ipv4', host: '1.2.3.4', port: 80 },
        },
      ]);
    });

    it('a method that was not offered is a protocol error, and then everything is refused', () => {
      const s = new ClientSession();
      s.send({ type: 'greeting', methods: [AuthMethod.NoAuth] });
      const events = feed(s, b(5, 2), byteByByte);
      assert.equal(events.length, 1);
      const [e] = events;
      assert.ok(e?.type === 'protocol-error');
      assert.equal(e.error.code, 'ERR_SOCKS_UNEXPECTED_METHOD');
      assert.equal(s.state, 'failed');
      assert.throws(() => {
        s.receiveData(b(0));
      }, SocksUsageError);
      assert.throws(() => s.send({ type: 'request', command: 1, destination: target }));
      assert.throws(() => s.takeTrailingData(), SocksUsageError);
    });
  });

  describe(`SOCKS4 client session, proxy bytes ${how}`, () => {
    it('SOCKS4a CONNECT to a name, with the bytes after the reply', () => {
      const s = new ClientSession({ version: 4 });
      assert.equal(s.state, 'request');
      const wire = s.send({
        type: 'request',
        command: Command.Connect,
        destination: target,
        userId: 'me',
      });
      // VN 04, CD 01, port 443, 0.0.0.1, "me" NUL, "example.com" NUL
      assert.deepEqual(wire, b(4, 1, 0x01, 0xbb, 0, 0, 0, 1, 'me', 0, 'example.com', 0));
      // VN 00, CD 5A granted, port, address (ignored for CONNECT), then payload
      const events = feed(s, b(0, 0x5a, 0, 0, 0, 0, 0, 0, 'SSH-2.0'), byteByByte);
      assert.deepEqual(events, [
        {
          type: 'reply',
          reply: 0x5a,
          succeeded: true,
          final: true,
          bound: { type: 'ipv4', host: '0.0.0.0', port: 0 },
        },
      ]);
      assert.deepEqual(s.takeTrailingData(), b('SSH-2.0'));
    });

    it('SOCKS4 CONNECT rejected (5B)', () => {
      const s = new ClientSession({ version: 4 });
      s.send({
        type: 'request',
        command: Command.Connect,
        destination: { type: 'ipv4', host: '10.1.2.3', port: 80 },
      });
      const [e] = feed(s, b(0, 0x5b, 0, 0, 0, 0, 0, 0), byteByByte);
      assert.ok(e?.type === 'reply' && !e.succeeded && e.reply === 0x5b);
      assert.equal(s.state, 'closed');
    });

    it('SOCKS4 BIND: two replies', () => {
      const s = new ClientSession({ version: 4 });
      s.send({
        type: 'request',
        command: Command.Bind,
        destination: { type: 'ipv4', host: '10.1.2.3', port: 21 },
      });
      const first = feed(s, b(0, 0x5a, 0x10, 0x00, 127, 0, 0, 1), byteByByte);
      assert.ok(first[0]?.type === 'reply' && !first[0].final);
      assert.equal(s.state, 'bind-waiting');
      const second = feed(s, b(0, 0x5a, 0x04, 0x00, 10, 1, 2, 3), byteByByte);
      assert.deepEqual(second[0], {
        type: 'reply',
        reply: 0x5a,
        succeeded: true,
        final: true,
        bound: { type: 'ipv4', host: '10.1.2.3', port: 1024 },
      });
      assert.equal(s.state, 'established');
    });

    it('a SOCKS5 reply to a SOCKS4 request is a protocol error', () => {
      const s = new ClientSession({ version: 4 });
      s.send({ type: 'request', command: Command.Connect, destination: target });
      const [e] = feed(s, b(5, 0, 0, 1, 0, 0, 0, 0, 0, 0), byteByByte);
      assert.ok(e?.type === 'protocol-error');
      assert.equal(e.error.code, 'ERR_SOCKS_BAD_VERSION');
    });
  });
}

describe('client session misuse', () => {
  it('refuses messages out of turn, and leaves the state alone', () => {
    const s = new ClientSession();
    assert.throws(
      () => s.send({ type: 'request', command: 1, destination: target }),
      (e: unknown) => e instanceof SocksUsageError && e.code === 'ERR_SOCKS_INVALID_STATE',
    );
    assert.throws(() => s.send({ type: 'credentials', username: 'a', password: 'b' }));
    assert.throws(() => s.takeMethodData(), SocksUsageError);
    assert.throws(() => {
      s.authenticated();
    }, SocksUsageError);
    assert.equal(s.state, 'greeting');
  });

  it('SOCKS4 has no UDP ASSOCIATE and no IPv6; the session is unchanged after refusing', () => {
    const s = new ClientSession({ version: 4 });
    assert.throws(
      () => s.send({ type: 'request', command: Command.UdpAssociate, destination: target }),
      SocksUsageError,
    );
    assert.throws(
      () =>
        s.send({
          type: 'request',
          command: Command.Connect,
          destination: { type: 'ipv6', host: '::1', port: 1 },
        }),
      SocksUsageError,
    );
    assert.equal(s.state, 'request');
  });

  it('rejects an unknown version', () => {
    assert.throws(() => new ClientSession({ version: 3 as 4 }), SocksUsageError);
  });
});

describe('client session properties', () => {
  it('garbage from the proxy ends in an event or NEED_DATA, never a throw', () => {
    const scenario = fc.record({
      version: fc.constantFrom(4 as const, 5 as const),
      command: fc.constantFrom(Command.Connect, Command.Bind),
      chunks: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }),
    });
    fc.assert(
      fc.property(scenario, ({ version, command, chunks }) => {
        const s = new ClientSession({ version });
        if (version === 5) s.send({ type: 'greeting', methods: [0, 2, 0x80] });
        for (const chunk of chunks) {
          if (s.state === 'failed') break;
          s.receiveData(chunk);
          for (let i = 0; i < 10; i++) {
            const e = s.nextEvent();
            if (typeof e !== 'object') break;
            if (e.type === 'protocol-error') assert.ok(e.error instanceof SocksProtocolError);
            if (s.state === 'user-pass')
              s.send({ type: 'credentials', username: 'u', password: 'p' });
            if (s.state === 'method-specific') s.authenticated(s.takeMethodData().subarray(1));
            if (s.state === 'request') s.send({ type: 'request', command, destination: target });
          }
        }
      }),
    );
  });
});
