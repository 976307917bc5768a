import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mergeConfig, parseConfig, serverOptionsFrom, ConfigError } from '../../src/config/load.js';
import { configJsonSchema } from '../../src/config/json-schema.js';
import { resolveServerOptions } from '../../src/server/options.js';

describe('configuration file', () => {
  it('parses and normalises a full file', () => {
    const c = parseConfig(
      [
        'listen: ["127.0.0.1:1080", "[::1]:1081"]',
        'users: /etc/ferry/users',
        'timeouts: { handshake: 5s, connect: 1500ms, idle: 0, drain: 1m }',
        'limits:',
        '  maxConnections: 100',
        '  maxConnectionsPerIp: 10',
        '  authFailureWindow: 2m',
        'log: { level: warn, file: /var/log/ferry.log }',
        'admin: 9090',
      ].join('\n'),
    );
    assert.deepEqual(c.listen, [
      { host: '127.0.0.1', port: 1080 },
      { host: '::1', port: 1081 },
    ]);
    assert.deepEqual(c.timeouts, { handshake: 5000, connect: 1500, idle: 0, drain: 60_000 });
    assert.equal(c.admin, 9090);
    const o = resolveServerOptions(serverOptionsFrom(c, undefined));
    assert.equal(o.maxConnections, 100);
    assert.equal(o.maxConnectionsPerIp, 10);
    assert.equal(o.authFailureWindow, 120_000);
    assert.equal(o.authFailureLimit, 10, 'unset keys take the server default');
  });

  it('an empty file is the default configuration', () => {
    assert.deepEqual(parseConfig(''), {});
  });

  it('names the field and line of each problem, unknown keys included', () => {
    const text = [
      'listen: ["nonsense"]',
      'timeouts:',
      '  handshake: 10 parsecs',
      'limitz: {}',
      'limits:',
      '  maxConnections: -1',
    ].join('\n');
    assert.throws(
      () => parseConfig(text, 'ferry.yaml'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, 'ERR_SOCKS_INVALID_OPTION');
        const joined = err.problems.join('\n');
        assert.match(joined, /^ferry\.yaml:1:\d+: listen\.0: expected host:port/m);
        assert.match(joined, /^ferry\.yaml:3:14: timeouts\.handshake: /m);
        assert.match(joined, /^ferry\.yaml:4:1: limitz: unknown key/m);
        assert.match(joined, /^ferry\.yaml:6:19: limits\.maxConnections: /m);
        return true;
      },
    );
  });

  it('balance is round-robin or kernel, and a flag overrides the file', () => {
    assert.equal(parseConfig('workers: 2\nbalance: kernel').balance, 'kernel');
    assert.throws(() => parseConfig('balance: fastest', 'f'), {
      message: /^f:1:\d+: balance: /,
    });
    const merged = mergeConfig(parseConfig('balance: kernel'), { balance: 'round-robin' });
    assert.equal(merged.balance, 'round-robin');
  });

  it('YAML syntax errors and duplicate keys are errors with a position', () => {
    assert.throws(() => parseConfig('a: [', 'f'), { message: /^f:\d+:\d+: / });
    assert.throws(() => parseConfig('admin: 1\nadmin: 2\n', 'f'), {
      message: /^f:\d+:\d+: Map keys must be unique/,
    });
  });

  it('flags override the file, section by section', () => {
    const file = parseConfig('timeouts: { handshake: 5s, idle: 1h }\nlog: { level: warn }');
    const merged = mergeConfig(file, {
      timeouts: { handshake: 1000, idle: undefined },
      log: { level: undefined },
    });
    assert.deepEqual(merged.timeouts, { handshake: 1000, idle: 3_600_000 });
    assert.deepEqual(merged.log, { level: 'warn' });
  });

  it('examples/ferry.yaml is a valid configuration', () => {
    const text = readFileSync(new URL('../../examples/ferry.yaml', import.meta.url), 'utf8');
    const c = parseConfig(text, 'examples/ferry.yaml');
    const o = resolveServerOptions(serverOptionsFrom(c, undefined));
    assert.equal(o.hasRules, true);
    assert.equal(c.access?.rules.length, 3);
  });

  it('the committed JSON Schema is the one the zod schema generates (npm run schema)', () => {
    const committed: unknown = JSON.parse(
      readFileSync(new URL('../../schema/ferry.schema.json', import.meta.url), 'utf8'),
    );
    assert.deepEqual(committed, JSON.parse(JSON.stringify(configJsonSchema())));
  });
});
