// The dialect keys of the configuration file: `protocols` and `http.maxHeaderSize`.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig, serverOptionsFrom } from '../../src/config/load.js';
import { effectiveConfig } from '../../src/config/effective.js';
import { resolveServerOptions } from '../../src/server/options.js';

describe('configuration: dialects', () => {
  it('protocols and http.maxHeaderSize reach the server options', () => {
    const c = parseConfig('protocols: [socks5, http]\nhttp: { maxHeaderSize: 8192 }\n');
    const o = resolveServerOptions(serverOptionsFrom(c, undefined));
    assert.deepEqual(o.protocols, ['socks5', 'http']);
    assert.equal(o.httpMaxHeaderSize, 8192);
    const e = effectiveConfig(c, undefined);
    assert.deepEqual(e.protocols, ['socks5', 'http']);
    assert.deepEqual(e.http, { maxHeaderSize: 8192 });
  });

  it('defaults: every dialect, a 16 KiB head', () => {
    const e = effectiveConfig(parseConfig(''), undefined);
    assert.deepEqual(e.protocols, ['socks5', 'socks4', 'http']);
    assert.deepEqual(e.http, { maxHeaderSize: 16384 });
  });

  it('bad values name the field and line', () => {
    for (const [text, pattern] of [
      ['protocols: [socks6]', /^f:1:\d+: protocols\.0: /m],
      ['protocols: []', /^f:1:\d+: protocols: /m],
      ['http:\n  maxHeaderSize: 10', /^f:2:\d+: http\.maxHeaderSize: /m],
      ['http: { cap: 1 }', /^f:1:\d+: http\.cap: unknown key/m],
    ] as const) {
      assert.throws(
        () => parseConfig(text, 'f'),
        (err: unknown) => err instanceof ConfigError && pattern.test(err.problems.join('\n')),
        text,
      );
    }
  });
});
