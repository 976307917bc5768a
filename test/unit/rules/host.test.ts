// normalizeHost: one classification per host string — ip, name (canonical form) or invalid.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normalizeHost } from '../../../src/rules/index.js';

describe('normalizeHost', () => {
  const names: [string, string][] = [
    ['example.com', 'example.com'],
    ['Example.COM', 'example.com'],
    ['example.com.', 'example.com'], // one trailing dot: same name
    ['localhost', 'localhost'],
    ['_dmarc.example.com', '_dmarc.example.com'],
    ['a-b.example', 'a-b.example'],
    ['1.2.3.4.nip.io', '1.2.3.4.nip.io'], // a name (resolves to 1.2.3.4; the address is checked)
    ['0x1g', '0x1g'],
    ['bücher.example', 'xn--bcher-kva.example'], // IDN → punycode (UTS #46)
    ['ＥＸＡＭＰＬＥ.com', 'example.com'], // full-width letters map to ASCII
    ['a'.repeat(63) + '.com', 'a'.repeat(63) + '.com'],
  ];
  for (const [host, name] of names) {
    it(`name: ${host} -> ${name}`, () => {
      assert.deepEqual(normalizeHost(host), { kind: 'name', name });
    });
  }

  const ips: [string, string, boolean][] = [
    ['127.0.0.1', '127.0.0.1', true],
    ['127.1', '127.0.0.1', false],
    ['::1', '::1', true],
    ['[::1]', '::1', false],
    ['::ffff:127.0.0.1', '127.0.0.1', false],
    ['１２７．０．０．１', '127.0.0.1', false], // full-width digits and dots: still the IP
    ['０ｘ７ｆ．１', '127.0.0.1', false],
  ];
  for (const [host, address, canonical] of ips) {
    it(`ip: ${host} -> ${address}${canonical ? '' : ' (odd spelling)'}`, () => {
      const n = normalizeHost(host);
      assert.equal(n.kind, 'ip');
      assert.equal(n.ip.address, address);
      assert.equal(n.canonical, canonical);
    });
  }

  const invalid = [
    '',
    '.',
    'example..com',
    'example.com..',
    '.example.com',
    'exa mple.com',
    'ex%41mple.com', // no percent-decoding: that would be a second spelling of example.com
    'bü%41cher.de',
    'exa\0mple.com',
    'example.com\n',
    'a/b',
    'user@example.com',
    'example.com:80',
    '*.example.com',
    'a'.repeat(64) + '.com', // label > 63
    `${'a.'.repeat(127)}com`, // > 253 octets
    'fe80::1%eth0',
    '1.2.3.256',
    '127.0.0.1 foo', // older glibc inet_aton accepted trailing garbage
    '[127.0.0.1]',
  ];
  for (const host of invalid) {
    it(`invalid: ${JSON.stringify(host)}`, () => {
      const n = normalizeHost(host);
      assert.equal(n.kind, 'invalid', JSON.stringify(n));
    });
  }

  it('property: never throws; names are lower-case ASCII labels without trailing dot', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (host) => {
        const n = normalizeHost(host);
        if (n.kind === 'name') {
          assert.match(n.name, /^[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*$/);
          assert.ok(n.name.length <= 253);
          // The canonical form is a fixed point: normalising it again changes nothing.
          assert.deepEqual(normalizeHost(n.name), n);
        }
        if (n.kind === 'ip')
          assert.deepEqual(normalizeHost(n.ip.address), { kind: 'ip', ip: n.ip, canonical: true });
      }),
      { numRuns: 2000 },
    );
  });
});
