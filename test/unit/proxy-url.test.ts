// Proxy URLs and objects: schemes, defaults, credentials (percent-decoded, never printed),
// IPv6, and errors that name the field.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { parseProxy, parseProxies, SocksProxy } from '../../src/client/proxy.js';
import { SocksUsageError } from '../../src/errors.js';

describe('proxy URLs', () => {
  it('reads each scheme, with the default port 1080', () => {
    for (const scheme of ['socks5', 'socks5h', 'socks4', 'socks4a'] as const) {
      const p = parseProxy(`${scheme}://proxy.example`);
      assert.equal(p.protocol, scheme);
      assert.equal(p.host, 'proxy.example');
      assert.equal(p.port, 1080);
      assert.equal(p.version, scheme.startsWith('socks5') ? 5 : 4);
      assert.equal(p.remoteDns, scheme === 'socks5h' || scheme === 'socks4a');
    }
  });

  it('percent-decodes user and password, and never shows the password', () => {
    const p = parseProxy('socks5h://us%65r:p%40ss%3Aw0rd@127.0.0.1:9050');
    assert.equal(p.username, 'user');
    assert.deepEqual(p.credentials(), { username: 'user', password: 'p@ss:w0rd' });
    assert.equal(p.port, 9050);
    // eslint-disable-next-line @typescript-eslint/no-misused-spread -- on purpose: own fields only
    const spread = JSON.stringify({ ...p });
    for (const text of [String(p), JSON.stringify(p), inspect(p), spread]) {
      assert.ok(!text.includes('p@ss'), text);
      assert.ok(!text.includes('w0rd'), text);
    }
    assert.equal(String(p), 'socks5h://user@127.0.0.1:9050');
  });

  it('takes IPv6 in brackets', () => {
    const p = parseProxy('socks5://[::1]:1081');
    assert.equal(p.host, '::1');
    assert.equal(p.port, 1081);
    assert.equal(String(p), 'socks5://[::1]:1081');
  });

  it('SOCKS4: the user is the USERID; a password is an error', () => {
    assert.equal(parseProxy('socks4a://alice@h').username, 'alice');
    assert.equal(parseProxy('socks4a://alice@h').credentials(), undefined);
    assert.throws(() => parseProxy('socks4://alice:pw@h'), /SOCKS4 carries no password/);
  });

  const bad: [string, RegExp][] = [
    ['http://h:1080', /unsupported scheme "http:"/],
    ['socks://h', /unsupported scheme/],
    ['not a url', /not a URL/],
    ['socks5://h:0', /proxy.port/],
    ['socks5://h/path', /no path/],
    ['socks5://h?x=1', /no path, query/],
    ['socks5://user@h', /username and password go together/],
    ['socks5://u:%ZZ@h', /proxy.password: bad percent-encoding/],
    [`socks5://${'u'.repeat(256)}:p@h`, /proxy.username: must be 1-255 octets/],
  ];
  for (const [url, message] of bad) {
    it(`rejects ${url.slice(0, 40)}`, () => {
      assert.throws(
        () => parseProxy(url),
        (e: unknown) =>
          e instanceof SocksUsageError &&
          e.code === 'ERR_SOCKS_INVALID_OPTION' &&
          message.test(e.message),
      );
    });
  }

  it('never echoes a password in a parse error', () => {
    assert.throws(
      () => parseProxy('socks5://user:hunter2@'),
      (e: unknown) => e instanceof SocksUsageError && !e.message.includes('hunter2'),
    );
  });
});

describe('proxy objects', () => {
  it('defaults to socks5h on port 1080, frozen', () => {
    const p = parseProxy({ host: '[::1]' });
    assert.equal(p.protocol, 'socks5h');
    assert.equal(p.host, '::1');
    assert.equal(p.port, 1080);
    assert.ok(Object.isFrozen(p));
    assert.equal(parseProxy(p), p);
  });

  it('validates fields by name', () => {
    assert.throws(() => new SocksProxy({ host: '' }), /proxy.host: missing/);
    assert.throws(() => new SocksProxy({ host: 'h', port: 70000 }), /proxy.port/);
    assert.throws(
      () => new SocksProxy({ host: 'h', protocol: 'socks6' as 'socks5' }),
      /proxy.protocol/,
    );
    assert.throws(() => new SocksProxy({ host: 'a:b:c' }), /proxy.host/);
  });

  it('proxy or proxies, at least one', () => {
    assert.equal(parseProxies({ proxy: 'socks5://a' }).length, 1);
    assert.equal(parseProxies({ proxies: ['socks5://a', { host: 'b' }] }).length, 2);
    assert.throws(() => parseProxies({}), /at least one proxy/);
    assert.throws(() => parseProxies({ proxies: [] }), /at least one proxy/);
    assert.throws(
      () => parseProxies({ proxy: 'socks5://a', proxies: [] }),
      /either proxy or proxies/,
    );
  });
});
