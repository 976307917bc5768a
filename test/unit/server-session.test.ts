import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  NEED_DATA,
  PAUSED,
  ServerSession,
  type ServerEvent,
} from '../../src/protocol/server-session.js';
import { hex } from '../helpers/vectors.js';

type Next = ReturnType<ServerSession['nextEvent']>;

/** Feeds bytes one at a time, collecting events until PAUSED. */
function feedBytewise(session: ServerSession, bytes: Uint8Array): Next[] {
  const out: Next[] = [];
  for (const b of bytes) {
    session.receiveData(Uint8Array.of(b));
    for (;;) {
      const e = session.nextEvent();
      if (e === NEED_DATA) break;
      out.push(e);
      if (e === PAUSED) return out;
      if (e.type === 'protocol-error') return out;
    }
  }
  return out;
}

describe('ServerSession', () => {
  it('no-auth CONNECT, fed one byte at a time', () => {
    const s = new ServerSession();
    const [greeting] = feedBytewise(s, hex('05 02 00 02'));
    assert.deepEqual(greeting, { type: 'greeting', methods: [0, 2] });
    assert.equal(s.nextEvent(), PAUSED);
    assert.deepEqual(s.send({ type: 'method', method: 0 }), hex('05 00'));
    assert.equal(s.state, 'request');
    const [request] = feedBytewise(s, hex('05 01 00 03 09 6c6f63616c686f7374 0050'));
    assert.deepEqual(request, {
      type: 'request',
      command: 1,
      destination: { type: 'domain', host: 'localhost', port: 80 },
    });
    assert.equal(s.nextEvent(), PAUSED);
    assert.deepEqual(
      s.send({ type: 'reply', reply: 0, bound: { type: 'ipv4', host: '127.0.0.1', port: 4242 } }),
      hex('05 00 00 01 7f000001 1092'),
    );
    assert.equal(s.state, 'established');
    assert.equal(s.takeTrailingData().length, 0);
  });

  it('keeps a pipelined greeting + auth + request + payload, in order', () => {
    const s = new ServerSession();
    s.receiveData(hex('05 01 02 | 01 01 61 01 62 | 05 01 00 01 7f000001 0016 | 53 53 48 2d'));
    assert.deepEqual(s.nextEvent(), { type: 'greeting', methods: [2] });
    assert.equal(s.nextEvent(), PAUSED, 'the next message depends on the method the server picks');
    s.send({ type: 'method', method: 2 });
    const cred = s.nextEvent() as Extract<ServerEvent, { type: 'credentials' }>;
    assert.equal(cred.type, 'credentials');
    assert.deepEqual(Buffer.from(cred.username), Buffer.from('a'));
    assert.deepEqual(Buffer.from(cred.password), Buffer.from('b'));
    assert.equal(s.nextEvent(), PAUSED);
    assert.deepEqual(s.send({ type: 'auth-result', success: true }), hex('01 00'));
    assert.equal((s.nextEvent() as ServerEvent).type, 'request');
    s.send({ type: 'reply', reply: 0, bound: { type: 'ipv4', host: '0.0.0.0', port: 0 } });
    assert.deepEqual(Buffer.from(s.takeTrailingData()), Buffer.from('SSH-'));
  });

  it('zero methods → protocol error answered with 05 FF', () => {
    const s = new ServerSession();
    const [e] = feedBytewise(s, hex('05 00'));
    assert.ok(e !== undefined && typeof e === 'object' && e.type === 'protocol-error');
    assert.equal(e.error.code, 'ERR_SOCKS_NO_METHODS');
    assert.deepEqual(e.response, hex('05 ff'));
    assert.equal(s.state, 'failed');
    assert.throws(() => s.receiveData(hex('05')), { code: 'ERR_SOCKS_INVALID_STATE' });
    assert.throws(() => s.send({ type: 'method', method: 0 }), { code: 'ERR_SOCKS_INVALID_STATE' });
  });

  it('wrong version in the greeting → error with nothing to send', () => {
    const s = new ServerSession();
    const [e] = feedBytewise(s, hex('04 01 00 50'));
    assert.ok(e !== undefined && typeof e === 'object' && e.type === 'protocol-error');
    assert.equal(e.error.code, 'ERR_SOCKS_BAD_VERSION');
    assert.equal(e.response.length, 0);
  });

  for (const [name, request, code, reply] of [
    [
      'unknown CMD',
      '05 09 00 01 7f000001 0050',
      'ERR_SOCKS_UNSUPPORTED_COMMAND',
      '05 07 00 01 00000000 0000',
    ],
    [
      'unknown ATYP',
      '05 01 00 02 7f000001 0050',
      'ERR_SOCKS_UNSUPPORTED_ADDRESS_TYPE',
      '05 08 00 01 00000000 0000',
    ],
    [
      'zero-length domain',
      '05 01 00 03 00 0050',
      'ERR_SOCKS_BAD_ADDRESS',
      '05 01 00 01 00000000 0000',
    ],
  ] as const) {
    it(`${name} → full-length reply ${reply.slice(3, 5)}`, () => {
      const s = new ServerSession();
      s.receiveData(hex('05 01 00'));
      s.nextEvent();
      s.send({ type: 'method', method: 0 });
      const [e] = feedBytewise(s, hex(request));
      assert.ok(e !== undefined && typeof e === 'object' && e.type === 'protocol-error');
      assert.equal(e.error.code, code);
      assert.deepEqual(e.response, hex(reply));
    });
  }

  it('bad RFC 1929 version → 01 01', () => {
    const s = new ServerSession();
    s.receiveData(hex('05 01 02'));
    s.nextEvent();
    s.send({ type: 'method', method: 2 });
    s.receiveData(hex('05 01 61 01 62'));
    const e = s.nextEvent();
    assert.ok(typeof e === 'object' && e.type === 'protocol-error');
    assert.deepEqual(e.response, hex('01 01'));
  });

  it('failed authentication closes; 05 FF closes', () => {
    const a = new ServerSession();
    a.receiveData(hex('05 01 02 01 01 61 01 62'));
    a.nextEvent();
    a.send({ type: 'method', method: 2 });
    a.nextEvent();
    assert.deepEqual(a.send({ type: 'auth-result', success: false }), hex('01 01'));
    assert.equal(a.state, 'closed');
    assert.equal(a.nextEvent(), PAUSED);
    const b = new ServerSession();
    b.receiveData(hex('05 01 02'));
    b.nextEvent();
    assert.deepEqual(b.send({ type: 'method', method: 0xff }), hex('05 ff'));
    assert.equal(b.state, 'closed');
  });

  it('BIND sends two replies, then is established', () => {
    const s = new ServerSession();
    s.receiveData(hex('05 01 00 05 02 00 01 0a000001 0015'));
    s.nextEvent();
    s.send({ type: 'method', method: 0 });
    assert.equal((s.nextEvent() as ServerEvent).type, 'request');
    s.send({ type: 'reply', reply: 0, bound: { type: 'ipv4', host: '10.0.0.9', port: 5000 } });
    assert.equal(s.state, 'bind-accepting');
    s.send({ type: 'reply', reply: 0, bound: { type: 'ipv4', host: '10.0.0.1', port: 20 } });
    assert.equal(s.state, 'established');
  });

  it('refuses messages out of turn', () => {
    const s = new ServerSession();
    assert.throws(
      () => s.send({ type: 'reply', reply: 0, bound: { type: 'ipv4', host: '0.0.0.0', port: 0 } }),
      {
        code: 'ERR_SOCKS_INVALID_STATE',
      },
    );
    assert.throws(() => s.send({ type: 'auth-result', success: true }), {
      code: 'ERR_SOCKS_INVALID_STATE',
    });
    assert.throws(() => s.takeTrailingData(), { code: 'ERR_SOCKS_INVALID_STATE' });
  });

  it('a method-specific sub-negotiation hands over the bytes and resumes at the request', () => {
    const s = new ServerSession();
    s.receiveData(hex('05 01 01 | 01 01 0002 abcd'));
    s.nextEvent();
    s.send({ type: 'method', method: 1 });
    assert.equal(s.state, 'method-specific');
    assert.equal(s.nextEvent(), PAUSED);
    assert.deepEqual(s.takeMethodData(), hex('01 01 0002 abcd'));
    s.authenticated(hex('05 01 00 01 7f000001 0050'));
    assert.equal((s.nextEvent() as ServerEvent).type, 'request');
  });
});
