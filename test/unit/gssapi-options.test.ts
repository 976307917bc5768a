// GSS-API settings without a KDC: the server's choice of protection level (RFC 1961 §4), its
// options and config keys, the method preference, the client's URL form and options, and the
// CLI's level list.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseProtectionLevel } from '../../src/server/gssapi-method.js';
import { resolveGssapiOptions } from '../../src/server/gssapi-options.js';
import { resolveServerOptions } from '../../src/server/options.js';
import { parseConfig, serverOptionsFrom } from '../../src/config/load.js';
import { parseProxy } from '../../src/client/proxy.js';
import { gssapiMethod } from '../../src/client/gssapi.js';
import { parseGssapiLevels } from '../../src/cli/parse.js';
import { ProtectionLevel } from '../../src/protocol/gssapi.js';
import { GssFlag } from '../../src/gssapi/status.js';
import { SocksUsageError } from '../../src/errors.js';

const { Clear, Integrity, Confidentiality, SelectivePerMessage } = ProtectionLevel;
const BOTH = GssFlag.Integ | GssFlag.Conf;

describe('the protection level the server answers', () => {
  const table: [string, number, number[], number, number | undefined][] = [
    // name, proposed, allowed (in order), context flags, answer
    [
      'allowed proposal is echoed',
      Confidentiality,
      [Integrity, Confidentiality],
      BOTH,
      Confidentiality,
    ],
    [
      'allowed proposal is echoed (integrity)',
      Integrity,
      [Integrity, Confidentiality],
      BOTH,
      Integrity,
    ],
    [
      'curl 7.88 proposes clear: first allowed instead',
      Clear,
      [Integrity, Confidentiality],
      BOTH,
      Integrity,
    ],
    ['clear echoed when allowed', Clear, [Clear, Integrity], BOTH, Clear],
    [
      'newer curl proposes 02 where only clear/integrity are allowed',
      Confidentiality,
      [Clear, Integrity],
      BOTH,
      Clear,
    ],
    [
      'preference order decides the fallback',
      Clear,
      [Confidentiality, Integrity],
      BOTH,
      Confidentiality,
    ],
    [
      'selective (03) is never agreed',
      SelectivePerMessage,
      [Integrity, Confidentiality],
      BOTH,
      Integrity,
    ],
    [
      'a context without confidentiality cannot have it',
      Confidentiality,
      [Confidentiality, Integrity],
      GssFlag.Integ,
      Integrity,
    ],
    ['nothing usable', Confidentiality, [Confidentiality], GssFlag.Integ, undefined],
  ];
  for (const [name, proposed, allowed, flags, answer] of table) {
    it(name, () => {
      assert.equal(
        chooseProtectionLevel(proposed as ProtectionLevel, allowed as ProtectionLevel[], flags),
        answer,
      );
    });
  }
});

describe('server options', () => {
  it('defaults to integrity and confidentiality, no NEC, and offers nothing when unset', () => {
    assert.equal(resolveServerOptions({}).gssapi, undefined);
    const o = resolveGssapiOptions({});
    assert.ok(o);
    assert.deepEqual(o.levels, [Integrity, Confidentiality]);
    assert.equal(o.nec, false);
  });

  it('refuses bad values, naming the field', () => {
    const bad: [object, RegExp][] = [
      [{ levels: [] }, /^gssapi\.levels:/],
      [{ levels: ['integrity', 'secret'] }, /^gssapi\.levels: unknown level "secret"/],
      [{ levels: ['clear', 'clear'] }, /^gssapi\.levels: "clear" is listed twice/],
      [{ keytab: '' }, /^gssapi\.keytab:/],
      [{ serviceName: 'a\0b' }, /^gssapi\.serviceName:/],
      [{ nec: 'yes' }, /^gssapi\.nec:/],
    ];
    for (const [options, message] of bad) {
      assert.throws(
        () => resolveServerOptions({ gssapi: options }),
        (err: unknown) => err instanceof SocksUsageError && message.test(err.message),
        JSON.stringify(options),
      );
    }
  });

  it('config file keys map to the options', () => {
    const c = parseConfig(
      'gssapi:\n  keytab: /etc/ferry/socks.keytab\n  serviceName: rcmd\n  levels: [clear, integrity]\n  nec: true\n',
    );
    const o = resolveServerOptions(serverOptionsFrom(c, undefined)).gssapi;
    assert.ok(o);
    assert.equal(o.keytab, '/etc/ferry/socks.keytab');
    assert.equal(o.serviceName, 'rcmd');
    assert.deepEqual(o.levels, [Clear, Integrity]);
    assert.equal(o.nec, true);
    assert.throws(() => parseConfig('gssapi:\n  levels: [secret]\n'), /gssapi\.levels\.0/);
    assert.throws(() => parseConfig('gssapi:\n  service: rcmd\n'), /gssapi\.service: unknown key/);
  });

  it('an address beyond loopback is no open proxy when GSS-API authenticates', async () => {
    const { createServer } = await import('../../src/server/index.js');
    const server = createServer({
      gssapi: {
        binding: {
          acquireAcceptorCredential: () => Promise.reject(new Error('stop before listening')),
        } as never,
      },
    });
    // The open-proxy guard passes; the (fake) credential is what stops it.
    await assert.rejects(server.listen({ host: '0.0.0.0', port: 0 }), /stop before listening/);
    await server.close();
  });
});

describe('client: URL form and options', () => {
  it('socks5h+gssapi:// with service, level, nec, principal, ccache', () => {
    const p = parseProxy(
      'socks5h+gssapi://proxy.example:1081?service=socks&level=integrity&nec=1&principal=alice%40EXAMPLE.COM&ccache=FILE%3A%2Ftmp%2Fcc',
    );
    assert.equal(p.protocol, 'socks5h');
    assert.equal(p.port, 1081);
    assert.deepEqual(
      { ...p.gssapi },
      {
        service: 'socks',
        level: 'integrity',
        nec: true,
        principal: 'alice@EXAMPLE.COM',
        ccache: 'FILE:/tmp/cc',
      },
    );
    const [method] = p.methods;
    assert.ok(method);
    assert.equal(method.method, 0x01);
    assert.equal(method.required, true);
    assert.equal(
      String(p),
      'socks5h+gssapi://proxy.example:1081?service=socks&level=integrity&nec=1',
    );
    assert.equal(String(parseProxy('socks5+gssapi://[::1]')), 'socks5+gssapi://[::1]:1080');
  });

  it('refuses what would be silently meaningless', () => {
    const bad: [string, RegExp][] = [
      ['socks4+gssapi://h', /unsupported scheme "socks4\+gssapi:"/],
      ['socks5h+gssapi://h?lvl=integrity', /unknown parameter "lvl"/],
      ['socks5h+gssapi://h?level=integrity&level=clear', /"level" given twice/],
      [
        'socks5h+gssapi://h?level=secret',
        /gssapi\.level: expected clear, integrity or confidentiality/,
      ],
      ['socks5h+gssapi://h?nec=maybe', /nec must be 1, 0, true or false/],
      ['socks5h://h?service=rcmd', /no path, query or fragment/],
      ['socks5h+gssapi://h/path', /no path or fragment/],
    ];
    for (const [url, message] of bad) {
      assert.throws(
        () => parseProxy(url),
        (e: unknown) => e instanceof SocksUsageError && message.test(e.message),
        url,
      );
    }
    assert.throws(
      () => parseProxy({ protocol: 'socks4', host: 'h', gssapi: true }),
      /GSS-API is a SOCKS5 method/,
    );
    assert.throws(() => gssapiMethod({ service: '' }), /gssapi\.service/);
  });

  it('an object with gssapi: true gets the defaults (confidentiality, rcmd)', () => {
    const p = parseProxy({ host: 'proxy.example', gssapi: true });
    assert.ok(p.gssapi);
    assert.equal(p.gssapi.level, 'confidentiality');
    assert.equal(p.gssapi.service, 'rcmd');
    assert.equal(String(p), 'socks5h+gssapi://proxy.example:1080');
  });
});

describe('CLI --gssapi-levels', () => {
  it('reads a comma-separated list in order and refuses unknown or repeated levels', () => {
    assert.deepEqual(parseGssapiLevels('integrity,confidentiality,clear'), [
      'integrity',
      'confidentiality',
      'clear',
    ]);
    assert.throws(
      () => parseGssapiLevels('integrity,foo'),
      /"foo" is not a GSS-API protection level/,
    );
    assert.throws(() => parseGssapiLevels('clear,clear'), /lists a level twice/);
  });
});
