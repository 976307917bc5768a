import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { replyForError, SocksDialError, SocksProtocolError } from '../../src/errors.js';

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });

describe('replyForError — the one errno → REP table (SOCKS.md §3)', () => {
  const table: [string, number][] = [
    ['ECONNREFUSED', 0x05],
    ['ENETUNREACH', 0x03],
    ['ENETDOWN', 0x03],
    ['EHOSTUNREACH', 0x04],
    ['EHOSTDOWN', 0x04],
    ['ENOTFOUND', 0x04],
    ['EAI_AGAIN', 0x04],
    ['ETIMEDOUT', 0x06],
    ['EACCES', 0x02],
    ['EPERM', 0x02],
    ['EAFNOSUPPORT', 0x08],
    ['ECONNRESET', 0x01],
    ['EWHATEVER', 0x01],
  ];
  for (const [code, rep] of table) {
    it(`${code} → ${rep.toString(16).padStart(2, '0')}`, () => {
      assert.equal(replyForError(errno(code)), rep);
    });
  }
  it('no code, or not an error at all → 01', () => {
    assert.equal(replyForError(new Error('x')), 0x01);
    assert.equal(replyForError('string'), 0x01);
    assert.equal(replyForError(null), 0x01);
  });
  it('ferry errors carry their own reply', () => {
    assert.equal(replyForError(new SocksDialError('ERR_SOCKS_CONNECT_TIMEOUT', 't', 0x06)), 0x06);
    assert.equal(
      replyForError(new SocksProtocolError('ERR_SOCKS_UNSUPPORTED_COMMAND', 'c', 0x07)),
      0x07,
    );
  });
  it('folds Happy Eyeballs AggregateErrors: refused, then host, then network, then timeout', () => {
    assert.equal(
      replyForError(new AggregateError([errno('ETIMEDOUT'), errno('ECONNREFUSED')])),
      0x05,
    );
    assert.equal(
      replyForError(new AggregateError([errno('ENETUNREACH'), errno('EHOSTUNREACH')])),
      0x04,
    );
    assert.equal(
      replyForError(new AggregateError([errno('ETIMEDOUT'), errno('ENETUNREACH')])),
      0x03,
    );
    assert.equal(replyForError(new AggregateError([errno('ETIMEDOUT'), errno('ETIMEDOUT')])), 0x06);
    assert.equal(replyForError(new AggregateError([errno('EBOGUS')])), 0x01);
  });
});
