/** The connection's light abort signal behaves like an AbortSignal where dial/resolve need it. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ClosingSignal } from '../../src/server/closing-signal.js';

describe('ClosingSignal', () => {
  it('runs each listener once, in order, and none that was removed', () => {
    const s = new ClosingSignal();
    const calls: string[] = [];
    const a = (): void => void calls.push('a');
    const b = (): void => void calls.push('b');
    const c = (): void => void calls.push('c');
    s.addEventListener('abort', a);
    s.addEventListener('abort', b, { once: true });
    s.addEventListener('abort', c);
    s.removeEventListener('abort', b);
    assert.equal(s.aborted, false);
    assert.equal(s.reason, undefined);
    s.throwIfAborted();
    s.abort();
    s.abort();
    assert.deepEqual(calls, ['a', 'c']);
    assert.equal(s.aborted, true);
  });

  it('gives an AbortError reason, the same one each time, and throws it', () => {
    const s = new ClosingSignal();
    s.abort();
    const reason = s.reason;
    assert.ok(reason instanceof DOMException);
    assert.equal(reason.name, 'AbortError');
    assert.equal(s.reason, reason);
    assert.throws(() => {
      s.throwIfAborted();
    }, reason);
  });

  it('a listener added after the abort never runs (like EventTarget)', () => {
    const s = new ClosingSignal();
    s.abort();
    let ran = false;
    s.addEventListener('abort', () => {
      ran = true;
    });
    assert.equal(ran, false);
  });

  it('its real AbortSignal aborts with it, whether asked for before or after', () => {
    const before = new ClosingSignal();
    const early = before.signal;
    assert.equal(early.aborted, false);
    let fired = 0;
    early.addEventListener('abort', () => fired++);
    before.abort();
    assert.equal(early.aborted, true);
    assert.equal(fired, 1);
    assert.equal(early.reason, before.reason);
    assert.equal(before.signal, early);

    const after = new ClosingSignal();
    after.abort();
    assert.equal(after.signal.aborted, true);
    assert.equal(after.signal.reason, after.reason);
  });
});
