import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConcurrencyCounter, FailureThrottle } from '../../src/server/limits.js';

describe('ConcurrencyCounter', () => {
  it('caps per key and forgets empty keys', () => {
    const c = new ConcurrencyCounter();
    assert.ok(c.tryAcquire('a', 2));
    assert.ok(c.tryAcquire('a', 2));
    assert.ok(!c.tryAcquire('a', 2));
    assert.ok(c.tryAcquire('b', 2));
    c.release('a');
    assert.ok(c.tryAcquire('a', 2));
    c.release('a');
    c.release('a');
    c.release('b');
    assert.equal(c.size, 0);
    assert.ok(c.tryAcquire('x', 0) && c.tryAcquire('x', 0), '0 = unlimited');
  });
});

describe('FailureThrottle', () => {
  it('trips at maxFailures within the window and clears when it ends', () => {
    const t = new FailureThrottle({ maxFailures: 3, window: 1000 });
    assert.equal(t.fail('ip', 0), false);
    assert.equal(t.fail('ip', 10), false);
    assert.equal(t.blocked('ip', 20), false);
    assert.equal(t.fail('ip', 20), true, 'the third failure trips it');
    assert.equal(t.blocked('ip', 999), true);
    assert.equal(t.blocked('other', 999), false);
    assert.equal(t.blocked('ip', 1000), false, 'the window ended');
    assert.equal(t.fail('ip', 1001), false, 'a fresh window');
  });
  it('is bounded in size', () => {
    const t = new FailureThrottle({ maxFailures: 5, window: 1000, maxKeys: 10 });
    for (let i = 0; i < 100; i++) t.fail(`k${i}`, i);
    assert.equal(t.size, 10);
  });
  it('0 disables it', () => {
    const t = new FailureThrottle({ maxFailures: 0, window: 1000 });
    for (let i = 0; i < 10; i++) assert.equal(t.fail('ip', i), false);
    assert.equal(t.blocked('ip', 5), false);
  });
});
