// The built-in `private` set: every SSRF spelling from issue 8, every listed range at its edges,
// and public addresses that must stay reachable.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  namedSets,
  normalizeHost,
  parsePrefix,
  PRIVATE_IPV4,
  PRIVATE_IPV6,
  ipv4FromNumber,
  type IpAddress,
} from '../../../src/rules/index.js';
import { ipv6FromWords } from '../../../src/rules/ip.js';

const privateSet = namedSets.get('private')!;
const loopback = namedSets.get('loopback')!;

function ip(host: string): IpAddress {
  const n = normalizeHost(host);
  assert.equal(n.kind, 'ip', `${host} should be an IP literal`);
  return n.ip;
}

describe('private: the SSRF spellings of issue 8', () => {
  const ssrf = [
    '127.1',
    '0x7f.1',
    '017700000001',
    '2130706433',
    '0',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '169.254.169.254',
    'fd00::1',
    // and more of the same family
    '0x7f000001',
    '127.000.000.001',
    '127.0.0.1.',
    '[::1]',
    '::1',
    '::',
    '0.0.0.0',
    '::127.0.0.1',
    '::ffff:0:127.0.0.1',
    '64:ff9b::7f00:1',
    '64:ff9b::a9fe:a9fe',
    '64:ff9b:1::a00:1',
    '2002:7f00:1::',
    '2002:a00:1::1',
    '2001:0:4136:e378:8000:63bf:80ff:fffe',
    '169.254.43518',
    '0xa9fea9fe',
    '2852039166', // 169.254.169.254 as one number
    '10.1',
    '0xc0.0xa8.1.1',
    '100.64.0.1',
    '198.18.0.1',
    'fe80::1',
    'ff02::1',
    '224.0.0.1',
    '255.255.255.255',
    '１２７．０．０．１',
  ];
  for (const host of ssrf) {
    it(`${host} is private`, () => {
      assert.ok(privateSet.matches(ip(host)));
    });
  }
});

describe('private: public addresses stay reachable', () => {
  const reachable = [
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '100.63.255.255', // just below CGNAT
    '100.128.0.0', // just above CGNAT
    '172.15.255.255',
    '172.32.0.0',
    '192.167.255.255',
    '192.169.0.0',
    '169.253.255.255',
    '223.255.255.255', // just below multicast
    '2606:4700:4700::1111',
    '2001:4860:4860::8888',
    '2001:200::1', // just above 2001::/23
    '64:ff9b::808:808', // NAT64 of a public address
    '::ffff:8.8.8.8',
  ];
  for (const host of reachable) {
    it(`${host} is not private`, () => {
      assert.ok(!privateSet.matches(ip(host)));
    });
  }
});

/** The first and last address of a prefix, and the neighbours just outside it. */
function edges(cidr: string): { inside: IpAddress[]; outside: IpAddress[] } {
  const p = parsePrefix(cidr);
  assert.ok(typeof p === 'object', cidr);
  const bits = p.family === 4 ? 32 : 128;
  let start = 0n;
  for (const w of p.words) start = (start << 32n) | BigInt(w);
  const end = start + (1n << BigInt(bits - p.length)) - 1n;
  const make = (v: bigint): IpAddress => {
    if (p.family === 4) return ipv4FromNumber(Number(v));
    return ipv6FromWords([3, 2, 1, 0].map((i) => Number((v >> BigInt(32 * i)) & 0xffffffffn)));
  };
  const max = (1n << BigInt(bits)) - 1n;
  return {
    inside: [make(start), make(end)],
    outside: [...(start > 0n ? [make(start - 1n)] : []), ...(end < max ? [make(end + 1n)] : [])],
  };
}

describe('private: each listed range, at its edges', () => {
  for (const range of [...PRIVATE_IPV4, ...PRIVATE_IPV6]) {
    it(`${range.cidr} (${range.what})`, () => {
      for (const a of edges(range.cidr).inside)
        assert.ok(privateSet.has(a), `${a.address} in ${range.cidr}`);
    });
  }
  it('the IPv4-mapped form of every IPv4 range is in the set too (unfolded words)', () => {
    for (const range of PRIVATE_IPV4) {
      const first = edges(range.cidr).inside[0]!;
      const mappedWords = [0, 0, 0xffff, first.words[0]!];
      const mapped: IpAddress = {
        family: 6,
        address: 'unfolded',
        words: mappedWords,
        embedded: undefined,
      };
      assert.ok(privateSet.has(mapped), range.cidr);
    }
  });
  it('the neighbours of the public-facing ranges are outside', () => {
    for (const cidr of [
      '10.0.0.0/8',
      '100.64.0.0/10',
      '172.16.0.0/12',
      '192.168.0.0/16',
      '198.18.0.0/15',
      'fc00::/7',
    ]) {
      for (const a of edges(cidr).outside)
        assert.ok(!privateSet.matches(a), `${a.address} is outside ${cidr}`);
    }
  });
});

describe('loopback', () => {
  it('is 127/8 and ::1 in every spelling, nothing else', () => {
    for (const h of ['127.0.0.1', '127.255.255.254', '127.1', '::1', '::ffff:7f00:1'])
      assert.ok(loopback.matches(ip(h)), h);
    for (const h of ['128.0.0.1', '::2', '10.0.0.1']) assert.ok(!loopback.matches(ip(h)), h);
  });
});
