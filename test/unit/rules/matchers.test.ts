// Address sets (against net.BlockList as the oracle), CIDR parsing, domain patterns, ports.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import fc from 'fast-check';
import {
  AddressSet,
  DomainMatcher,
  parseDomainPattern,
  parsePortRange,
  parsePrefix,
  PortSet,
  type Prefix,
} from '../../../src/rules/index.js';
import { ipv4FromNumber, ipv6FromWords } from '../../../src/rules/ip.js';

function p(text: string): Prefix {
  const r = parsePrefix(text);
  assert.ok(typeof r === 'object', `${text}: ${JSON.stringify(r)}`);
  return r;
}

describe('parsePrefix', () => {
  const good: [string, 4 | 6, number][] = [
    ['10.0.0.0/8', 4, 8],
    ['0.0.0.0/0', 4, 0],
    ['192.168.1.1', 4, 32],
    ['fd00::/8', 6, 8],
    ['::/0', 6, 0],
    ['2001:db8::1', 6, 128],
    ['::ffff:10.0.0.0/104', 4, 8], // IPv4-mapped prefix becomes the IPv4 prefix
  ];
  for (const [text, family, length] of good) {
    it(text, () => {
      const r = p(text);
      assert.equal(r.family, family);
      assert.equal(r.length, length);
    });
  }
  const bad: [string, RegExp][] = [
    ['10.0.0.1/8', /host bits set; did you mean 10\.0\.0\.0\/8\?/],
    ['fd00::1/8', /did you mean fd00::\/8\?/],
    ['127.1', /not an IP address/],
    ['010.0.0.0/8', /not an IP address/],
    ['10.0.0.0/33', /longer than 32/],
    ['::/129', /longer than 128/],
    ['10.0.0.0/08', /bad prefix length/],
    ['10.0.0.0/', /bad prefix length/],
    ['::ffff:0:0/95', /IPv4-mapped/],
    ['fe80::/10%eth0', /bad prefix length/],
  ];
  for (const [text, message] of bad) {
    it(`refuses ${text}`, () => {
      const r = parsePrefix(text);
      assert.equal(typeof r, 'string');
      assert.match(r as string, message);
    });
  }
});

describe('AddressSet agrees with net.BlockList', () => {
  const v4prefix = fc
    .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }))
    .map(([w, len]) => {
      const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
      return { family: 4 as const, words: [(w & mask) >>> 0], length: len };
    });
  const word = fc.integer({ min: 0, max: 0xffffffff });
  const v6prefix = fc
    .tuple(fc.array(word, { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 128 }))
    .map(([ws, len]) => {
      const words = ws.map((w, i) => {
        const keep = Math.max(0, Math.min(32, len - 32 * i));
        return keep === 0 ? 0 : keep === 32 ? w : (w & (0xffffffff << (32 - keep))) >>> 0;
      });
      // Keep IPv4-mapped space out: the policy folds it into IPv4, BlockList does its own thing.
      if (words[0] === 0 && words[1] === 0 && (words[2] ?? 0) >>> 0 === 0xffff) words[2] = 0xfffe;
      return { family: 6 as const, words, length: len };
    });
  const v6address = fc
    .array(word, { minLength: 4, maxLength: 4 })
    .map((w) => ipv6FromWords(w))
    .filter((a) => a.family === 6);

  it('property: IPv4', () => {
    fc.assert(
      fc.property(
        fc.array(v4prefix, { maxLength: 8 }),
        fc.array(word, { minLength: 1, maxLength: 8 }),
        (prefixes, addrs) => {
          const set = new AddressSet(prefixes);
          const oracle = new BlockList();
          for (const q of prefixes)
            oracle.addSubnet(ipv4FromNumber(q.words[0]!).address, q.length, 'ipv4');
          // Probe random addresses and every prefix's first address and its neighbour below.
          const probes = [
            ...addrs,
            ...prefixes.flatMap((q) => [q.words[0]!, (q.words[0]! - 1) >>> 0]),
          ];
          for (const a of probes) {
            const ip = ipv4FromNumber(a);
            assert.equal(set.has(ip), oracle.check(ip.address, 'ipv4'), ip.address);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
  it('property: IPv6', () => {
    fc.assert(
      fc.property(
        fc.array(v6prefix, { maxLength: 6 }),
        fc.array(v6address, { minLength: 1, maxLength: 6 }),
        (prefixes, addrs) => {
          const set = new AddressSet(prefixes);
          const oracle = new BlockList();
          for (const q of prefixes)
            oracle.addSubnet(ipv6FromWords(q.words).address, q.length, 'ipv6');
          const probes = [
            ...addrs,
            ...prefixes.map((q) => ipv6FromWords(q.words)).filter((a) => a.family === 6),
          ];
          for (const ip of probes)
            assert.equal(set.has(ip), oracle.check(ip.address, 'ipv6'), ip.address);
        },
      ),
      { numRuns: 300 },
    );
  });
  it('an empty set matches nothing; /0 matches its whole family only', () => {
    assert.ok(!new AddressSet([]).has(ipv4FromNumber(0)));
    const all4 = new AddressSet([p('0.0.0.0/0')]);
    assert.ok(all4.has(ipv4FromNumber(0xffffffff)));
    assert.ok(!all4.has(ipv6FromWords([0x20010db8, 0, 0, 1])));
  });
  it('matches() also tests the embedded IPv4 (NAT64, 6to4, Teredo ...)', () => {
    const set = new AddressSet([p('10.0.0.0/8')]);
    const nat64 = ipv6FromWords([0x0064ff9b, 0, 0, 0x0a000001]);
    assert.ok(!set.has(nat64));
    assert.ok(set.matches(nat64));
  });
});

describe('domain patterns', () => {
  const table: [string, string, boolean][] = [
    ['example.com', 'example.com', true],
    ['example.com', 'www.example.com', false],
    ['*.example.com', 'www.example.com', true],
    ['*.example.com', 'a.b.example.com', true], // any depth
    ['*.example.com', 'example.com', false], // not the apex: list both
    ['*.example.com', 'badexample.com', false], // label boundary
    ['*.example.com', 'example.com.evil', false],
    ['EXAMPLE.com.', 'example.com', true], // patterns normalised like names
    ['*.Bücher.example', 'shop.xn--bcher-kva.example', true],
    ['*.com', 'example.com', true],
  ];
  for (const [pattern, name, expected] of table) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${name}`, () => {
      const parsed = parseDomainPattern(pattern);
      assert.equal(typeof parsed, 'string');
      assert.equal(new DomainMatcher([parsed as string]).matches(name), expected);
    });
  }
  for (const bad of [
    'a*.com',
    'a.*.com',
    '*',
    '*.',
    '*.127.0.0.1',
    '127.0.0.1',
    'exa mple.com',
    '**.com',
  ]) {
    it(`refuses pattern ${JSON.stringify(bad)}`, () => {
      assert.equal(typeof parseDomainPattern(bad), 'object');
    });
  }
});

describe('ports', () => {
  it('parses numbers and ranges', () => {
    assert.deepEqual(parsePortRange(443), [443, 443]);
    assert.deepEqual(parsePortRange('8000-8999'), [8000, 8999]);
    assert.deepEqual(parsePortRange(' 1 - 2 '), [1, 2]);
    for (const bad of ['65536', '2-1', 'http', '-1', '1-', '', 1.5]) {
      assert.equal(typeof parsePortRange(bad), 'string', String(bad));
    }
  });
  it('PortSet: merged ranges, edges', () => {
    const s = new PortSet([
      [443, 443],
      [8000, 8999],
      [9000, 9000],
      [1, 2],
    ]);
    const yes = [1, 2, 443, 8000, 8999, 9000];
    const no = [0, 3, 442, 444, 7999, 9001, 65535];
    for (const port of yes) assert.ok(s.has(port), String(port));
    for (const port of no) assert.ok(!s.has(port), String(port));
  });
});
