// IP literal parsing: every spelling a resolver would accept becomes the address it reaches.
// Oracles: the WHATWG URL parser (pure, in Node) for IPv4 spellings, getaddrinfo for the
// inet_aton spellings glibc answers without any network traffic.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import {
  parseIpLiteral,
  parseObservedAddress,
  parseStrictAddress,
  type IpAddress,
} from '../../../src/rules/index.js';
import { formatIPv6, parseIPv6 } from '../../../src/protocol/address.js';

function literal(text: string): IpAddress {
  const r = parseIpLiteral(text);
  assert.ok(typeof r === 'object', `${text} should be an IP literal, got ${JSON.stringify(r)}`);
  return r;
}

// [spelling, canonical address, family, embedded kind, embedded IPv4]
const spellings: [string, string, 4 | 6, string?, string?][] = [
  ['127.0.0.1', '127.0.0.1', 4],
  ['127.1', '127.0.0.1', 4], // a.b: b fills 24 bits
  ['127.0.1', '127.0.0.1', 4], // a.b.c: c fills 16 bits
  ['0x7f.1', '127.0.0.1', 4], // hex part
  ['0X7F.0.0.1', '127.0.0.1', 4], // upper-case X
  ['0x7f000001', '127.0.0.1', 4], // one hex number
  ['017700000001', '127.0.0.1', 4], // one octal number
  ['0177.0.0.01', '127.0.0.1', 4], // octal parts
  ['2130706433', '127.0.0.1', 4], // one decimal number
  ['0', '0.0.0.0', 4],
  ['0x', '0.0.0.0', 4], // WHATWG: empty hex is 0 (glibc refuses; as an address it is checked)
  ['127.000.000.001', '127.0.0.1', 4], // zero-padded: octal, same value
  ['127.0.0.1.', '127.0.0.1', 4], // one trailing dot (WHATWG)
  ['0x0000000000000000007f.1', '127.0.0.1', 4], // long leading zeros lose no precision
  ['4294967295', '255.255.255.255', 4],
  ['169.254.43518', '169.254.169.254', 4], // metadata, a.b.c form
  ['0xa9fea9fe', '169.254.169.254', 4],
  ['::ffff:127.0.0.1', '127.0.0.1', 4], // IPv4-mapped folds to IPv4
  ['::ffff:7f00:1', '127.0.0.1', 4],
  ['0:0:0:0:0:FFFF:7F00:0001', '127.0.0.1', 4],
  ['[::ffff:7f00:1]', '127.0.0.1', 4],
  ['::1', '::1', 6],
  ['[::1]', '::1', 6],
  ['0:0:0:0:0:0:0:1', '::1', 6],
  ['::', '::', 6],
  ['FD00::1', 'fd00::1', 6],
  ['::127.0.0.1', '::7f00:1', 6, 'ipv4-compatible', '127.0.0.1'],
  ['::ffff:0:127.0.0.1', '::ffff:0:7f00:1', 6, 'ipv4-translated', '127.0.0.1'],
  ['64:ff9b::7f00:1', '64:ff9b::7f00:1', 6, 'nat64', '127.0.0.1'],
  ['64:ff9b::8.8.8.8', '64:ff9b::808:808', 6, 'nat64', '8.8.8.8'],
  ['2002:7f00:1::', '2002:7f00:1::', 6, '6to4', '127.0.0.1'],
  ['2002:a9fe:a9fe::1', '2002:a9fe:a9fe::1', 6, '6to4', '169.254.169.254'],
  [
    '2001:0:4136:e378:8000:63bf:80ff:fffe',
    '2001:0:4136:e378:8000:63bf:80ff:fffe',
    6,
    'teredo',
    '127.0.0.1',
  ],
];

describe('parseIpLiteral: every spelling to its canonical address', () => {
  for (const [text, address, family, kind, v4] of spellings) {
    it(`${text} -> ${address}${kind === undefined ? '' : ` (${kind} ${v4 ?? ''})`}`, () => {
      const ip = literal(text);
      assert.equal(ip.address, address);
      assert.equal(ip.family, family);
      assert.equal(ip.embedded?.kind, kind);
      assert.equal(ip.embedded?.ipv4.address, v4);
    });
  }
});

describe('parseIpLiteral: refused literals and names', () => {
  const refused: [string, string][] = [
    ['fe80::1%eth0', 'zone-id'],
    ['fe80::1%2', 'zone-id'],
    ['[fe80::1%25eth0]', 'zone-id'],
    ['1.2.3.256', 'bad-ipv4'],
    ['1.2.3.4.5', 'bad-ipv4'],
    ['08', 'bad-ipv4'], // 8 is not an octal digit
    ['4294967296', 'bad-ipv4'],
    ['256.1', 'bad-ipv4'],
    ['1..2', 'bad-ipv4'],
    ['example.123', 'bad-ipv4'],
    ['example.0x1', 'bad-ipv4'],
    ['::ffff:127.1', 'bad-ipv6'], // the embedded quad must be strict
    ['1:2:3:4:5:6:7:8:9', 'bad-ipv6'],
    ['[::1', 'bad-ipv6'],
    ['[127.0.0.1]', 'bad-ipv6'],
    [':::', 'bad-ipv6'],
  ];
  for (const [text, problem] of refused) {
    it(`${text} is refused (${problem})`, () => {
      assert.equal(parseIpLiteral(text), problem);
    });
  }
  for (const name of ['example.com', 'localhost', '0x1g', '1.2.3.4.nip.io', 'a.1b', '']) {
    it(`${JSON.stringify(name)} is not a literal (a name, validated elsewhere)`, () => {
      assert.equal(parseIpLiteral(name), undefined);
    });
  }
});

describe('IPv4 spellings agree with the WHATWG URL parser', () => {
  // Arbitrary 32-bit values written with 1-4 parts, each in a random base, sometimes with a
  // trailing dot. WHATWG URL host parsing (pure) is the oracle.
  const spelled = fc
    .tuple(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.constantFrom<'d' | 'o' | 'x' | 'X'>('d', 'o', 'x', 'X'), {
        minLength: 4,
        maxLength: 4,
      }),
      fc.boolean(),
    )
    .map(([value, parts, bases, dot]) => {
      const nums: number[] = [];
      for (let i = 0; i < parts - 1; i++) nums.push((value >>> (24 - 8 * i)) & 0xff);
      nums.push(parts === 1 ? value : value % 2 ** (8 * (5 - parts)));
      const text = nums
        .map((n, i) => {
          const b = bases[i] ?? 'd';
          return b === 'd' ? String(n) : b === 'o' ? `0${n.toString(8)}` : `0${b}${n.toString(16)}`;
        })
        .join('.');
      return { value: value >>> 0, text: dot ? `${text}.` : text };
    });
  it('property: every generated spelling parses to its value, as WHATWG says', () => {
    fc.assert(
      fc.property(spelled, ({ value, text }) => {
        const ip = literal(text);
        assert.equal(ip.words[0], value);
        assert.equal(new URL(`http://${text}/`).hostname, ip.address);
      }),
      { numRuns: 500 },
    );
  });
  it('property: a dotted string of digits is either the WHATWG address or refused', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^(0x[0-9a-f]{0,3}|[0-9]{1,4})$/), {
          minLength: 1,
          maxLength: 5,
        }),
        (parts) => {
          const text = parts.join('.');
          const ours = parseIpLiteral(text);
          let theirs: string | undefined;
          try {
            theirs = new URL(`http://${text}/`).hostname;
          } catch {
            theirs = undefined;
          }
          if (typeof ours === 'object') assert.equal(ours.address, theirs);
          else
            assert.equal(
              theirs,
              undefined,
              `${text}: WHATWG accepts ${String(theirs)}, we say ${String(ours)}`,
            );
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('getaddrinfo agrees on the inet_aton spellings (numeric, no network)', () => {
  for (const text of [
    '127.1',
    '0x7f.1',
    '017700000001',
    '2130706433',
    '0',
    '127.000.000.001',
    '0x7f000001',
    '10.1.0x1',
  ]) {
    it(text, async () => {
      const [first] = await lookup(text, { all: true, family: 4 });
      assert.equal(literal(text).address, first?.address);
    });
  }
});

describe('parseStrictAddress: config-file forms only', () => {
  it('accepts dotted quads and RFC 4291 text', () => {
    assert.equal(parseStrictAddress('10.0.0.1')?.address, '10.0.0.1');
    assert.equal(parseStrictAddress('2001:DB8::1')?.address, '2001:db8::1');
    assert.equal(parseStrictAddress('::ffff:10.0.0.1')?.family, 4);
  });
  for (const text of [
    '127.1',
    '010.0.0.1',
    '0x7f.0.0.1',
    '2130706433',
    '[::1]',
    'fe80::1%eth0',
    '1.2.3.4.',
  ]) {
    it(`refuses ${text}`, () => {
      assert.equal(parseStrictAddress(text), undefined);
    });
  }
});

describe('parseObservedAddress: what sockets and resolvers report', () => {
  it('folds IPv4-mapped and drops a zone id', () => {
    assert.equal(parseObservedAddress('::ffff:192.168.1.2')?.address, '192.168.1.2');
    assert.equal(parseObservedAddress('fe80::1%eth0')?.address, 'fe80::1');
    assert.equal(parseObservedAddress('localhost'), undefined);
  });
});

describe('the fast IPv6 scanner agrees with the codec and with net.isIPv6', () => {
  const group = fc.integer({ min: 0, max: 0xffff });
  // Many spellings of random addresses: full, compressed anywhere, upper case, leading zeros,
  // trailing dotted quad; plus raw strings from the IPv6 alphabet.
  const spelling = fc
    .tuple(
      fc.array(fc.oneof(group, fc.constant(0)), { minLength: 8, maxLength: 8 }),
      fc.integer({ min: -1, max: 7 }),
      fc.integer({ min: 0, max: 7 }),
      fc.boolean(),
      fc.boolean(),
      fc.boolean(),
    )
    .map(([g, cut, len, upper, pad, quad]) => {
      let parts = g.map((x) => (pad ? x.toString(16).padStart(4, '0') : x.toString(16)));
      if (quad)
        parts = [
          ...parts.slice(0, 6),
          `${g[6]! >> 8}.${g[6]! & 0xff}.${g[7]! >> 8}.${g[7]! & 0xff}`,
        ];
      let text = parts.join(':');
      if (cut >= 0) {
        const end = Math.min(parts.length, cut + Math.max(1, len));
        text = `${parts.slice(0, cut).join(':')}::${parts.slice(end).join(':')}`;
      }
      return upper ? text.toUpperCase() : text;
    });
  const raw = fc.stringMatching(/^[0-9a-fA-F:.]{0,46}$/);
  it('property: same acceptance, same canonical text', () => {
    fc.assert(
      fc.property(fc.oneof(spelling, raw), (text) => {
        const codec = parseIPv6(text);
        const ours = parseStrictAddress(text);
        if (text.includes(':')) {
          assert.equal(ours !== undefined, codec !== undefined, `${text}: accepted differently`);
          assert.equal(ours !== undefined, isIPv6(text), `${text}: net.isIPv6 differs`);
        }
        if (codec !== undefined && ours !== undefined)
          assert.equal(ours.address, formatIPv6(codec).replace(/^::ffff:(?=\d+\.)/, ''));
      }),
      { numRuns: 3000 },
    );
  });
});
