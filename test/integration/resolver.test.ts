// DnsResolver against a fake DNS server on 127.0.0.1: caching by TTL (with a fake clock),
// clamps, negative caching, coalescing, family preference, failure mapping to reply 04, and the
// system fallback. The system resolver is only used for `localhost` (answered from /etc/hosts);
// elsewhere it is faked, so no query leaves loopback.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { DnsResolver, type ResolverOptions, type SystemLookup } from '../../src/dial/resolver.js';
import { replyForError, SocksDialError } from '../../src/errors.js';
import { Reply } from '../../src/protocol/constants.js';
import { FakeDns } from '../helpers/fake-dns.js';

let dns: FakeDns;
let clock = 0;
const systemCalls: string[] = [];
const noSystem: SystemLookup = (name) => {
  systemCalls.push(name);
  return Promise.reject(
    Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' }),
  );
};

function resolver(options: ResolverOptions = {}): DnsResolver {
  return new DnsResolver({
    servers: [dns.server],
    timeout: 300,
    tries: 1,
    now: () => clock,
    systemLookup: noSystem,
    ...options,
  });
}

async function addresses(r: DnsResolver, host: string): Promise<string[]> {
  return (await r.resolve(host)).map((a) => a.address);
}

async function rejection(p: Promise<unknown>): Promise<SocksDialError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SocksDialError, String(err));
    return err;
  }
  assert.fail('expected a rejection');
}

before(async () => {
  dns = await FakeDns.start();
  dns.zone.set('dual.test', {
    A: [{ address: '192.0.2.1', ttl: 30 }],
    AAAA: [{ address: '2001:db8::1', ttl: 60 }],
  });
  dns.zone.set('zero-ttl.test', { A: [{ address: '192.0.2.2', ttl: 0 }] });
  dns.zone.set('long-ttl.test', { A: [{ address: '192.0.2.3', ttl: 86400 }] });
  dns.zone.set('v4only.test', {
    A: [
      { address: '192.0.2.4', ttl: 30 },
      { address: '192.0.2.5', ttl: 20 },
    ],
  });
  dns.zone.set('mapped.test', { AAAA: [{ address: '::ffff:7f00:1', ttl: 30 }] });
  dns.zone.set('servfail.test', { servfail: ['A', 'AAAA'] });
  dns.zone.set('half.test', { A: [{ address: '192.0.2.6', ttl: 300 }], servfail: ['AAAA'] });
  dns.zone.set('dropped.test', { drop: true });
  dns.zone.set('slow.test', { A: [{ address: '192.0.2.7', ttl: 30 }] });
  for (const n of ['a', 'b', 'c'])
    dns.zone.set(`${n}.lru.test`, { A: [{ address: '192.0.2.8', ttl: 300 }] });
});
after(async () => {
  await dns.close();
});
beforeEach(() => {
  dns.questions.length = 0;
  systemCalls.length = 0;
  clock = 0;
});

describe('answers and family preference', () => {
  it('ipv4first (default): A then AAAA, both asked', async () => {
    assert.deepEqual(await addresses(resolver(), 'dual.test'), ['192.0.2.1', '2001:db8::1']);
    assert.equal(dns.asked('dual.test', 'A'), 1);
    assert.equal(dns.asked('dual.test', 'AAAA'), 1);
  });
  it('ipv6first: AAAA then A', async () => {
    assert.deepEqual(await addresses(resolver({ family: 'ipv6first' }), 'dual.test'), [
      '2001:db8::1',
      '192.0.2.1',
    ]);
  });
  it('ipv4only: AAAA is never asked', async () => {
    assert.deepEqual(await addresses(resolver({ family: 'ipv4only' }), 'dual.test'), ['192.0.2.1']);
    assert.equal(dns.asked('dual.test', 'AAAA'), 0);
  });
  it('ipv6only: A is never asked', async () => {
    assert.deepEqual(await addresses(resolver({ family: 'ipv6only' }), 'dual.test'), [
      '2001:db8::1',
    ]);
    assert.equal(dns.asked('dual.test', 'A'), 0);
  });
  it('a name with no AAAA records is fine', async () => {
    assert.deepEqual(await addresses(resolver(), 'v4only.test'), ['192.0.2.4', '192.0.2.5']);
  });
  it('an IPv4-mapped AAAA answer comes back as the IPv4 address it is', async () => {
    const found = await resolver().resolve('mapped.test');
    assert.deepEqual(
      found.map((a) => [a.address, a.family]),
      [['127.0.0.1', 4]],
    );
  });
  it('names are case-insensitive and a trailing dot is the same name (one cache entry)', async () => {
    const r = resolver();
    await r.resolve('Dual.TEST.');
    await r.resolve('dual.test');
    assert.equal(dns.asked('dual.test'), 2); // A + AAAA once
    assert.equal(r.size, 1);
  });
});

describe('no DNS for literals, special names and bad hosts', () => {
  it('IP literals in any spelling: canonical address, no query', async () => {
    const r = resolver();
    assert.deepEqual(await addresses(r, '0x7f.1'), ['127.0.0.1']);
    assert.deepEqual(await addresses(r, '::ffff:7f00:1'), ['127.0.0.1']);
    assert.deepEqual(await addresses(r, '[::1]'), ['::1']);
    assert.equal(dns.questions.length, 0);
  });
  it('*.invalid and *.onion fail at once, with no lookup of any kind', async () => {
    for (const name of ['nonexistent.invalid', 'invalid', 'x.onion']) {
      const err = await rejection(resolver().resolve(name));
      assert.equal(err.code, 'ERR_SOCKS_RESOLVE');
      assert.equal(replyForError(err), Reply.HostUnreachable);
    }
    assert.equal(dns.questions.length, 0);
    assert.equal(systemCalls.length, 0);
  });
  it('a host that is neither address nor name: ERR_SOCKS_BAD_HOST, reply 04', async () => {
    for (const host of ['exa mple.com', '1.2.3.256', 'fe80::1%eth0', '']) {
      const err = await rejection(resolver().resolve(host));
      assert.equal(err.code, 'ERR_SOCKS_BAD_HOST');
      assert.equal(replyForError(err), Reply.HostUnreachable);
    }
    assert.equal(dns.questions.length, 0);
  });
});

describe('cache', () => {
  it('respects the TTL: the smallest of the answers', async () => {
    const r = resolver();
    await r.resolve('dual.test'); // TTLs 30 (A) and 60 (AAAA): entry lives 30 s
    clock = 29_000;
    await r.resolve('dual.test');
    assert.equal(dns.asked('dual.test'), 2);
    clock = 30_001;
    await r.resolve('dual.test');
    assert.equal(dns.asked('dual.test'), 4);
  });
  it('clamps TTL 0 up to minTtl', async () => {
    const r = resolver({ minTtl: 2 });
    await r.resolve('zero-ttl.test');
    clock = 1_999;
    await r.resolve('zero-ttl.test');
    assert.equal(dns.asked('zero-ttl.test', 'A'), 1);
    clock = 2_001;
    await r.resolve('zero-ttl.test');
    assert.equal(dns.asked('zero-ttl.test', 'A'), 2);
  });
  it('clamps a long TTL down to maxTtl', async () => {
    const r = resolver({ maxTtl: 60 });
    await r.resolve('long-ttl.test');
    clock = 60_001;
    await r.resolve('long-ttl.test');
    assert.equal(dns.asked('long-ttl.test', 'A'), 2);
  });
  it('is bounded: the least recently used name goes first', async () => {
    const r = resolver({ cacheSize: 2 });
    await r.resolve('a.lru.test');
    await r.resolve('b.lru.test');
    await r.resolve('a.lru.test'); // a is now the most recently used
    await r.resolve('c.lru.test'); // evicts b
    assert.equal(r.size, 2);
    await r.resolve('a.lru.test');
    assert.equal(dns.asked('a.lru.test', 'A'), 1);
    await r.resolve('b.lru.test');
    assert.equal(dns.asked('b.lru.test', 'A'), 2);
  });
  it('caches "no such name" for negativeTtl', async () => {
    const r = resolver({ negativeTtl: 5 });
    const err = await rejection(r.resolve('nope.test'));
    assert.equal(err.code, 'ERR_SOCKS_RESOLVE');
    assert.match(err.message, /ENOTFOUND/);
    clock = 4_999;
    assert.match((await rejection(r.resolve('nope.test'))).message, /ENOTFOUND/);
    assert.equal(dns.asked('nope.test', 'A'), 1);
    clock = 5_001;
    await rejection(r.resolve('nope.test'));
    assert.equal(dns.asked('nope.test', 'A'), 2);
  });
  it('does not cache a server failure', async () => {
    const r = resolver();
    await rejection(r.resolve('servfail.test'));
    await rejection(r.resolve('servfail.test'));
    assert.equal(dns.asked('servfail.test', 'A'), 2);
  });
  it('a half answer (AAAA failed) is kept only for negativeTtl', async () => {
    const r = resolver({ negativeTtl: 3 });
    assert.deepEqual(await addresses(r, 'half.test'), ['192.0.2.6']);
    clock = 3_001;
    await r.resolve('half.test');
    assert.equal(dns.asked('half.test', 'A'), 2);
  });
  it('clear() forgets everything', async () => {
    const r = resolver();
    await r.resolve('dual.test');
    r.clear();
    await r.resolve('dual.test');
    assert.equal(dns.asked('dual.test', 'A'), 2);
  });
});

describe('coalescing', () => {
  it('concurrent lookups of one name share one query per type', async () => {
    const r = resolver();
    dns.hold();
    const all = Array.from({ length: 5 }, () => r.resolve('slow.test'));
    // Wait (bounded) until the server has seen the questions, then let the answers go.
    for (let i = 0; i < 100 && dns.asked('slow.test') < 2; i++)
      await new Promise((res) => setTimeout(res, 10));
    dns.release();
    const results = await Promise.all(all);
    for (const res of results)
      assert.deepEqual(
        res.map((a) => a.address),
        ['192.0.2.7'],
      );
    assert.equal(dns.asked('slow.test', 'A'), 1);
    assert.equal(dns.asked('slow.test', 'AAAA'), 1);
  });
  it('an aborted caller gives up alone; the shared query still answers the others', async () => {
    const r = resolver();
    dns.hold();
    const controller = new AbortController();
    const aborted = r.resolve('slow.test', { signal: controller.signal });
    const patient = r.resolve('slow.test');
    controller.abort();
    await assert.rejects(aborted, { name: 'AbortError' });
    dns.release();
    assert.deepEqual(
      (await patient).map((a) => a.address),
      ['192.0.2.7'],
    );
  });
});

describe('failures map to reply 04, never to the errno table', () => {
  it('NXDOMAIN', async () => {
    const err = await rejection(resolver().resolve('nonexistent.test'));
    assert.equal(replyForError(err), Reply.HostUnreachable);
  });
  it('SERVFAIL', async () => {
    const err = await rejection(resolver().resolve('servfail.test'));
    assert.equal(replyForError(err), Reply.HostUnreachable);
    assert.match(err.message, /ESERVFAIL/);
  });
  it('timeout (c-ares ETIMEOUT would be 06 by the errno table)', async () => {
    const err = await rejection(resolver({ timeout: 100 }).resolve('dropped.test'));
    assert.equal(replyForError(err), Reply.HostUnreachable);
    assert.match(err.message, /ETIMEOUT/);
  });
  it('no DNS server listening (c-ares ECONNREFUSED would be 05 by the errno table)', async () => {
    const closed = createSocket('udp4');
    closed.bind(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = closed.address().port;
    closed.close();
    const err = await rejection(resolver({ servers: [`127.0.0.1:${port}`] }).resolve('dual.test'));
    assert.equal(err.code, 'ERR_SOCKS_RESOLVE');
    assert.equal(replyForError(err), Reply.HostUnreachable);
  });
  it('bad options name the field', () => {
    assert.throws(() => new DnsResolver({ servers: ['not an address'] }), {
      code: 'ERR_SOCKS_INVALID_OPTION',
      message: /^servers: /,
    });
    assert.throws(() => new DnsResolver({ minTtl: 10, maxTtl: 5 }), { message: /^minTtl: / });
    assert.throws(() => new DnsResolver({ cacheSize: -1 }), { message: /^cacheSize: / });
    assert.throws(() => new DnsResolver({ family: 'ipv5' as 'ipv4only' }), {
      message: /^family: /,
    });
  });
});

describe('system fallback', () => {
  it('a name DNS does not know is asked of the system resolver (e.g. /etc/hosts) and cached', async () => {
    const hosts: SystemLookup = (name, options) => {
      systemCalls.push(`${name}/${options.family}`);
      return Promise.resolve(name === 'printer' ? [{ address: '10.1.1.1', family: 4 }] : []);
    };
    const r = resolver({ systemLookup: hosts, systemTtl: 10 });
    assert.deepEqual(await addresses(r, 'printer'), ['10.1.1.1']);
    assert.deepEqual(systemCalls, ['printer/0']);
    clock = 9_000;
    await r.resolve('printer');
    assert.equal(systemCalls.length, 1);
  });
  it('is skipped when disabled', async () => {
    const r = resolver({ systemFallback: false });
    await rejection(r.resolve('printer'));
    assert.equal(systemCalls.length, 0);
  });
  it('localhost: straight from the real system resolver, never from DNS (RFC 6761 §6.3)', async () => {
    const r = new DnsResolver({
      servers: [dns.server],
      timeout: 300,
      tries: 1,
      systemFallback: false,
    });
    const found = await r.resolve('localhost');
    assert.ok(found.length > 0);
    for (const a of found)
      assert.ok(a.address === '::1' || a.address.startsWith('127.'), a.address);
    assert.ok(
      found.some((a) => a.address.startsWith('127.')),
      'an IPv4 loopback address',
    );
    assert.equal(dns.asked('localhost'), 0);
  });
});
