/** The per-association name cache of the UDP relay: one lookup per name, bounded waiting queue. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NameCache, type PendingDatagram } from '../../src/relay/udp-names.js';
import type { IpAddress } from '../../src/rules/index.js';
import { parseObservedAddress } from '../../src/rules/index.js';

/** A resolver whose answers the test releases by hand. */
function manualResolver() {
  const calls: string[] = [];
  const pending = new Map<
    string,
    { resolve: (a: IpAddress[]) => void; reject: (e: Error) => void }
  >();
  return {
    calls,
    resolver: {
      resolve: (host: string) =>
        new Promise<readonly IpAddress[]>((resolve, reject) => {
          calls.push(host);
          pending.set(host, { resolve, reject });
        }),
    },
    answer: (host: string, ...ips: string[]) =>
      pending.get(host)!.resolve(ips.map((ip) => parseObservedAddress(ip)!)),
    fail: (host: string) =>
      pending.get(host)!.reject(Object.assign(new Error('nx'), { code: 'ENOTFOUND' })),
  };
}

const tick = () => new Promise((r) => setImmediate(r));
const d = (n: number, size = 1): PendingDatagram => ({ port: n, data: new Uint8Array(size) });

describe('UDP relay name cache', () => {
  it('one lookup per name while in flight; its datagrams are handed back in order', async () => {
    const m = manualResolver();
    const resolved: [string, string[] | undefined, number[]][] = [];
    const cache = new NameCache({
      resolver: m.resolver,
      onResolved: (name, answer, datagrams) =>
        resolved.push([name, answer?.map((a) => a.address), datagrams.map((x) => x.port)]),
    });
    assert.equal(cache.get('a.test'), undefined);
    assert.ok(cache.wait('a.test', d(1)));
    assert.ok(cache.wait('a.test', d(2)));
    assert.deepEqual(m.calls, ['a.test']);
    m.answer('a.test', '192.0.2.1');
    await tick();
    assert.deepEqual(resolved, [['a.test', ['192.0.2.1'], [1, 2]]]);
    assert.deepEqual(
      cache.get('a.test')?.map((a) => a.address),
      ['192.0.2.1'],
    );
  });

  it('a failure is remembered (null) so a flood to a bad name is not a flood of lookups', async () => {
    const m = manualResolver();
    const cache = new NameCache({ resolver: m.resolver, onResolved: () => undefined });
    cache.wait('nx.test', d(1));
    m.fail('nx.test');
    await tick();
    assert.equal(cache.get('nx.test'), null);
    assert.equal(m.calls.length, 1);
  });

  it('the waiting queue is capped in datagrams and in bytes; it frees up after the answer', async () => {
    const m = manualResolver();
    const cache = new NameCache({
      resolver: m.resolver,
      onResolved: () => undefined,
      maxPending: 3,
      maxPendingBytes: 100,
    });
    assert.ok(cache.wait('a.test', d(1)));
    assert.ok(cache.wait('b.test', d(2)));
    assert.ok(cache.wait('a.test', d(3)));
    assert.equal(cache.wait('c.test', d(4)), false, 'fourth datagram refused');
    assert.equal(m.calls.includes('c.test'), false, 'and no lookup started for it');
    m.answer('a.test', '192.0.2.1');
    await tick();
    assert.ok(cache.wait('c.test', d(5, 99)), 'room again');
    assert.equal(cache.wait('c.test', d(6, 2)), false, 'but not past the byte cap');
  });

  it('close() forgets waiting datagrams and ignores late answers', async () => {
    const m = manualResolver();
    let called = false;
    const cache = new NameCache({ resolver: m.resolver, onResolved: () => (called = true) });
    cache.wait('a.test', d(1));
    cache.wait('a.test', d(2));
    assert.equal(cache.close(), 2);
    m.answer('a.test', '192.0.2.1');
    await tick();
    assert.equal(called, false);
    assert.equal(cache.wait('a.test', d(3)), false);
  });

  it('remembers at most maxNames names (oldest out)', async () => {
    const m = manualResolver();
    const cache = new NameCache({ resolver: m.resolver, onResolved: () => undefined, maxNames: 2 });
    for (const name of ['a.test', 'b.test', 'c.test']) {
      cache.wait(name, d(1));
      m.answer(name, '192.0.2.1');
      await tick();
    }
    assert.equal(cache.get('a.test'), undefined);
    assert.ok(cache.get('b.test'));
    assert.ok(cache.get('c.test'));
  });
});
