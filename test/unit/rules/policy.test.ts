// Policy evaluation, table-driven: conditions, first match, default, the two phases around DNS,
// names that resolve to private addresses (fake resolver), and config errors with their paths.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  compilePolicy,
  findPolicyIssues,
  invalidHostError,
  NotAllowedError,
  PolicyError,
  type EvaluationContext,
  type PolicySpec,
  type SessionFacts,
} from '../../../src/rules/index.js';
import { replyForError } from '../../../src/errors.js';
import { Reply } from '../../../src/protocol/constants.js';

const anon: SessionFacts = { client: '192.0.2.10', command: 'connect', dialect: 'socks5' };

function ctx(
  host: string,
  port = 443,
  facts: Partial<SessionFacts> = {},
  addresses?: string[],
): EvaluationContext {
  return { ...anon, ...facts, destination: { host, port, addresses } };
}

/** A fake resolver: names and what they resolve to. */
const fakeDns = new Map<string, string[]>([
  ['public.example', ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946']],
  ['localtest.me', ['127.0.0.1']],
  ['metadata.evil', ['169.254.169.254']],
  ['mapped.evil', ['::ffff:127.0.0.1']],
  ['nat64.evil', ['64:ff9b::a9fe:a9fe']],
  ['ula.evil', ['fd00::1']],
  ['rebind.evil', ['93.184.216.34', '10.0.0.1']],
  ['zero.evil', ['0.0.0.0']],
]);

/** Runs the two phases as the dialer will: evaluate, resolve if asked, evaluate again. */
function decide(
  spec: PolicySpec,
  c: EvaluationContext,
): { decision: string; rule?: string; addresses?: string[] } {
  const policy = compilePolicy(spec);
  let e = policy.evaluate(c);
  if (e.decision === 'resolve') {
    const addresses = fakeDns.get(e.name);
    assert.ok(addresses, `fake DNS has no ${e.name}`);
    e = policy.evaluate({ ...c, destination: { ...c.destination, addresses } });
  }
  switch (e.decision) {
    case 'allow':
      return { decision: 'allow', rule: e.rule.name, addresses: e.addresses.map((a) => a.address) };
    case 'deny':
      return { decision: 'deny', rule: e.rule.name };
    default:
      return { decision: e.decision };
  }
}

const denyPrivate: PolicySpec = {
  rules: [{ name: 'no-private', action: 'deny', destination: 'private' }],
  default: 'allow',
};

describe('deny private: every SSRF form is denied, public stays allowed', () => {
  const denied = [
    '127.1',
    '0x7f.1',
    '017700000001',
    '2130706433',
    '0',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '169.254.169.254',
    'fd00::1',
    '[::1]',
    '64:ff9b::7f00:1',
    'localtest.me',
    'metadata.evil',
    'mapped.evil',
    'nat64.evil',
    'ula.evil',
    'zero.evil',
  ];
  for (const host of denied) {
    it(`${host} -> deny (no-private)`, () => {
      assert.deepEqual(decide(denyPrivate, ctx(host)), { decision: 'deny', rule: 'no-private' });
    });
  }
  it('public.example -> allow, both addresses', () => {
    assert.deepEqual(decide(denyPrivate, ctx('public.example')), {
      decision: 'allow',
      rule: 'default',
      addresses: ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    });
  });
  it('rebind.evil (public + private) -> allowed-only: connect to the public address alone', () => {
    assert.deepEqual(decide(denyPrivate, ctx('rebind.evil')), {
      decision: 'allow',
      rule: 'default',
      addresses: ['93.184.216.34'],
    });
  });
  it("rebind.evil with mixedResolution 'deny' -> deny", () => {
    assert.deepEqual(decide({ ...denyPrivate, mixedResolution: 'deny' }, ctx('rebind.evil')), {
      decision: 'deny',
      rule: 'no-private',
    });
  });
  it('invalid hosts are neither allowed nor denied: invalid (reply 04)', () => {
    for (const host of ['1.2.3.256', 'fe80::1%eth0', 'exa mple.com', '']) {
      assert.equal(decide(denyPrivate, ctx(host)).decision, 'invalid', host);
    }
  });
});

describe('conditions', () => {
  const spec: PolicySpec = {
    rules: [
      { name: 'lan-only-admin', action: 'allow', client: '10.0.0.0/8', user: 'admin' },
      { name: 'no-udp-for-guests', action: 'deny', command: 'udp', group: 'guests' },
      { name: 'http-web', action: 'allow', dialect: 'http', port: [80, 443] },
      { name: 'web', action: 'allow', destination: ['*.example.com', 'example.com'], port: '443' },
      {
        name: 'v6-net',
        action: 'allow',
        destination: '2001:db8:1::/48',
        command: ['connect', 'bind'],
      },
      { name: 'any-user-ssh', action: 'allow', user: '*', port: 22 },
    ],
    default: 'deny',
  };
  const groups: Record<string, string[]> = { guest1: ['guests'], bob: ['staff'] };
  const policy = compilePolicy(spec, { groupsOf: (u) => groups[u] });
  const table: [string, EvaluationContext, string, string][] = [
    [
      'client+user both match',
      ctx('203.0.113.5', 9, { client: '10.1.2.3', user: 'admin' }),
      'allow',
      'lan-only-admin',
    ],
    [
      'client matches, user does not',
      ctx('203.0.113.5', 9, { client: '10.1.2.3', user: 'bob' }),
      'deny',
      'default',
    ],
    [
      'IPv4-mapped client address is IPv4',
      ctx('203.0.113.5', 9, { client: '::ffff:10.1.2.3', user: 'admin' }),
      'allow',
      'lan-only-admin',
    ],
    [
      'anonymous never matches user',
      ctx('203.0.113.5', 9, { client: '10.1.2.3' }),
      'deny',
      'default',
    ],
    [
      'group matches for udp',
      ctx('8.8.8.8', 53, { user: 'guest1', command: 'udp' }),
      'deny',
      'no-udp-for-guests',
    ],
    [
      'group rule skipped for another group',
      ctx('example.com', 443, { user: 'bob', command: 'udp' }),
      'resolve',
      '',
    ],
    ['dialect+port', ctx('8.8.8.8', 80, { dialect: 'http' }), 'allow', 'http-web'],
    [
      'dialect matches, port does not',
      ctx('8.8.8.8', 8080, { dialect: 'http' }),
      'deny',
      'default',
    ],
    ['glob + port, decided by name', ctx('www.example.com', 443), 'resolve', ''],
    ['apex listed separately', ctx('example.com', 443), 'resolve', ''],
    // example.org matches no pattern, but v6-net could still allow it by address: resolve.
    ['glob does not match other names', ctx('example.org', 443), 'resolve', ''],
    [
      '... and no address rule applies on port 443 for udp',
      ctx('example.org', 443, { command: 'udp' }),
      'deny',
      'default',
    ],
    ['CIDR + command', ctx('2001:db8:1::5', 443, { command: 'bind' }), 'allow', 'v6-net'],
    ['CIDR, wrong command', ctx('2001:db8:1::5', 443, { command: 'udp' }), 'deny', 'default'],
    [
      'user * is any authenticated user',
      ctx('8.8.8.8', 22, { user: 'bob' }),
      'allow',
      'any-user-ssh',
    ],
  ];
  for (const [what, c, decision, rule] of table) {
    it(what, () => {
      const e = policy.evaluate(c);
      assert.equal(e.decision, decision);
      if (e.decision === 'allow' || e.decision === 'deny') assert.equal(e.rule.name, rule);
    });
  }
  it('a name allowed by its pattern is allowed for every address it resolves to', () => {
    const e = policy.evaluate(ctx('www.example.com', 443, {}, ['127.0.0.1', '8.8.8.8']));
    assert.equal(e.decision, 'allow');
    assert.deepEqual(
      e.addresses.map((a) => a.address),
      ['127.0.0.1', '8.8.8.8'],
    );
  });
});

describe('first match wins: order decides between a name allow and deny private', () => {
  it('deny private first: a whitelisted name resolving to a private address is denied', () => {
    const spec: PolicySpec = {
      rules: [
        { name: 'no-private', action: 'deny', destination: 'private' },
        { name: 'corp', action: 'allow', destination: '*.corp.example' },
      ],
      default: 'deny',
    };
    const policy = compilePolicy(spec);
    const e = policy.evaluate(ctx('git.corp.example', 443, {}, ['10.0.0.7']));
    assert.equal(e.decision, 'deny');
    assert.equal(e.rule.name, 'no-private');
  });
  it('allow by name first: the operator chose to let it through', () => {
    const spec: PolicySpec = {
      rules: [
        { name: 'corp', action: 'allow', destination: '*.corp.example' },
        { name: 'no-private', action: 'deny', destination: 'private' },
      ],
      default: 'deny',
    };
    const e = compilePolicy(spec).evaluate(ctx('git.corp.example', 443));
    // Decided by the name before DNS; the dialer still resolves to connect.
    assert.equal(e.decision, 'resolve');
    const check = compilePolicy(spec).session(anon).checkDestination('git.corp.example', 443);
    assert.equal(check.kind, 'name');
    assert.equal(check.verdict?.rule.name, 'corp');
  });
});

describe('two phases', () => {
  it('a name that every path denies is denied before DNS', () => {
    const policy = compilePolicy({
      rules: [
        { action: 'deny', destination: 'private' },
        { action: 'allow', port: 443 },
      ],
      default: 'deny',
    });
    const e = policy.evaluate(ctx('anything.example', 80));
    assert.deepEqual(e, { decision: 'deny', rule: { index: -1, name: 'default' }, denied: [] });
  });
  it('a name whose fate depends on its address asks for DNS', () => {
    const policy = compilePolicy({
      rules: [{ action: 'deny', destination: '10.0.0.0/8' }],
      default: 'allow',
    });
    assert.deepEqual(policy.evaluate(ctx('anything.example')), {
      decision: 'resolve',
      name: 'anything.example',
    });
  });
  it('an odd IP spelling is decided at once, on the canonical address', () => {
    const policy = compilePolicy({
      rules: [{ action: 'allow', destination: '127.0.0.1' }],
      default: 'deny',
    });
    const e = policy.evaluate(ctx('0x7f.1'));
    assert.equal(e.decision, 'allow');
    assert.deepEqual(
      e.addresses.map((a) => a.address),
      ['127.0.0.1'],
    );
  });
  it('SessionPolicy.fixed: a UDP association no rule can allow is refused up front', () => {
    const policy = compilePolicy({
      rules: [
        { name: 'no-udp', action: 'deny', command: 'udp' },
        { action: 'allow', destination: '8.8.8.8', port: 53 },
      ],
      default: 'deny',
    });
    assert.equal(policy.session({ ...anon, command: 'udp' }).fixed?.rule.name, 'no-udp');
    assert.equal(policy.session({ ...anon, command: 'connect' }).fixed, undefined);
  });
  it('per-datagram checks on one session: address, port, embedded IPv4', () => {
    const session = compilePolicy({
      rules: [
        { action: 'deny', destination: 'private' },
        { action: 'allow', port: [53, 123] },
      ],
      default: 'deny',
    }).session({ ...anon, command: 'udp' });
    assert.equal(session.checkAddress('8.8.8.8', 53).action, 'allow');
    assert.equal(session.checkAddress('8.8.8.8', 54).action, 'deny');
    assert.equal(session.checkAddress('::ffff:10.0.0.1', 53).action, 'deny');
    assert.equal(session.checkAddress('64:ff9b::a00:1', 53).action, 'deny');
    assert.throws(() => session.checkAddress('not-an-ip', 53), {
      code: 'ERR_SOCKS_INVALID_ARGUMENT',
    });
  });
});

describe('anonymous rules: clients let in without credentials while users are configured', () => {
  const spec: PolicySpec = {
    rules: [
      { name: 'no-private', action: 'deny', destination: '10.0.0.0/8' },
      { name: 'lab', action: 'allow', anonymous: true, client: '192.0.2.0/24', port: 80 },
      { name: 'staff', action: 'allow', user: '*' },
      { name: 'ordinary', action: 'allow', destination: '198.51.100.0/24' },
    ],
    default: 'allow',
  };
  const policy = compilePolicy(spec);
  const asAnonymous = { anonymous: true };
  const cases: [string, number, Partial<SessionFacts>, string, string][] = [
    // host, port, facts, decision, rule
    ['203.0.113.5', 80, asAnonymous, 'allow', 'lab'],
    ['10.1.2.3', 80, asAnonymous, 'deny', 'no-private'], // deny rules still apply first
    ['198.51.100.7', 443, asAnonymous, 'deny', 'default'], // an ordinary allow does not count
    ['203.0.113.5', 443, asAnonymous, 'deny', 'default'], // nor does the allow default
    ['203.0.113.5', 443, { user: 'alice' }, 'allow', 'staff'],
    ['203.0.113.5', 443, {}, 'allow', 'default'], // no users configured: not an exception
  ];
  for (const [host, port, facts, decision, rule] of cases) {
    it(`${host}:${port} ${JSON.stringify(facts)} -> ${decision} by ${rule}`, () => {
      assert.deepEqual(
        (({ decision: d, rule: r }) => ({ decision: d, rule: r }))(
          decide(spec, ctx(host, port, facts)),
        ),
        { decision, rule },
      );
    });
  }

  it('admitsAnonymous: an anonymous rule must match the client, command and dialect', () => {
    assert.equal(policy.admitsAnonymous({ ...anon, client: '192.0.2.99' }), true);
    assert.equal(policy.admitsAnonymous({ ...anon, client: '198.51.100.1' }), false);
    const socks4Only = compilePolicy({
      rules: [{ action: 'allow', anonymous: true, dialect: 'socks4', command: 'connect' }],
      default: 'deny',
    });
    assert.equal(socks4Only.admitsAnonymous({ ...anon, dialect: 'socks4' }), true);
    assert.equal(socks4Only.admitsAnonymous({ ...anon, dialect: 'http' }), false);
    assert.equal(
      socks4Only.admitsAnonymous({ ...anon, dialect: 'socks4', command: 'bind' }),
      false,
    );
    assert.equal(compilePolicy(denyPrivate).admitsAnonymous(anon), false);
  });
});

describe('config errors name the field', () => {
  const cases: [unknown, RegExp][] = [
    [
      { rules: [{ action: 'deny', anonymous: true }], default: 'deny' },
      /^rules\[0\]\.anonymous: only an allow rule/,
    ],
    [
      { rules: [{ action: 'allow', anonymous: true, user: 'bob' }], default: 'deny' },
      /^rules\[0\]\.anonymous: cannot be combined with user or group/,
    ],
    [
      { rules: [{ action: 'allow', anonymous: 'yes' }], default: 'deny' },
      /^rules\[0\]\.anonymous: expected true or false/,
    ],
    [{ rules: [], default: 'maybe' }, /^default: required/],
    [{ rules: [] }, /^default: required/],
    [
      { rules: [{ action: 'allow', destination: ['ok.example', '10.0.0.1/8'] }], default: 'deny' },
      /^rules\[0\]\.destination\[1\]: .*did you mean 10\.0\.0\.0\/8/,
    ],
    [
      { rules: [{ action: 'allow', destination: '127.1' }], default: 'deny' },
      /^rules\[0\]\.destination: "127\.1" is not an IP address/,
    ],
    [
      { rules: [{ action: 'allow', destination: 'a.*.com' }], default: 'deny' },
      /^rules\[0\]\.destination: .*only allowed as a whole first label/,
    ],
    [
      { rules: [{ action: 'allow', client: 'private', port: '99999' }], default: 'deny' },
      /^rules\[0\]\.port: .*0-65535/,
    ],
    [
      { rules: [{ action: 'allow', command: 'ftp' }], default: 'deny' },
      /^rules\[0\]\.command: "ftp" is not one of connect, bind, udp/,
    ],
    [
      { rules: [{ action: 'allow', dialect: ['socks5', 'socks6'] }], default: 'deny' },
      /^rules\[0\]\.dialect\[1\]/,
    ],
    [
      { rules: [{ action: 'allow', destinations: 'x' }], default: 'deny' },
      /^rules\[0\]\.destinations: unknown condition/,
    ],
    [
      { rules: [{ action: 'permit' }], default: 'deny' },
      /^rules\[0\]\.action: must be "allow" or "deny"/,
    ],
    [
      { rules: [{ action: 'allow', user: [] }], default: 'deny' },
      /^rules\[0\]\.user: an empty list matches nothing/,
    ],
    [
      { rules: [{ action: 'allow', group: 'admins' }], default: 'deny' },
      /^rules\[0\]\.group: groups need a users file/,
    ],
    [
      { rules: [{ action: 'allow', client: 'example.com' }], default: 'deny' },
      /^rules\[0\]\.client: "example\.com" is not an IP address/,
    ],
    [{ rules: [], default: 'deny', mixed: 'x' }, /^mixed: unknown key/],
  ];
  for (const [spec, message] of cases) {
    it(message.source, () => {
      assert.throws(
        () => compilePolicy(spec as PolicySpec),
        (err: unknown) =>
          err instanceof PolicyError &&
          err.code === 'ERR_SOCKS_INVALID_OPTION' &&
          message.test(err.message),
      );
    });
  }
  it('findPolicyIssues lists every problem with its path', () => {
    const issues = findPolicyIssues({
      rules: [{ action: 'allow', destination: ['127.1', 'a*.b'], port: 'x' }],
      default: 'deny',
    });
    assert.deepEqual(
      issues.map((i) => i.path),
      [
        ['rules', 0, 'destination', 0],
        ['rules', 0, 'destination', 1],
        ['rules', 0, 'port'],
      ],
    );
  });
});

describe('errors for decisions', () => {
  it('NotAllowedError: reply 02, names the rule', () => {
    const e = compilePolicy(denyPrivate).evaluate(ctx('127.1'));
    assert.equal(e.decision, 'deny');
    const err = new NotAllowedError(e.rule, '127.1:443');
    assert.equal(err.code, 'ERR_SOCKS_NOT_ALLOWED');
    assert.equal(replyForError(err), Reply.NotAllowed);
    assert.match(err.message, /rule "no-private"/);
    assert.match(
      new NotAllowedError({ index: -1, name: 'default' }, 'x:1').message,
      /the default action/,
    );
  });
  it('invalidHostError: reply 04', () => {
    const err = invalidHostError('bad');
    assert.equal(err.code, 'ERR_SOCKS_BAD_HOST');
    assert.equal(replyForError(err), Reply.HostUnreachable);
  });
});

describe('named sets', () => {
  it('work as client and destination; a trailing dot makes "private." a domain name', () => {
    const policy = compilePolicy({
      rules: [
        { name: 'internal-clients', action: 'allow', client: 'private', destination: 'private.' },
        { name: 'lo', action: 'deny', destination: 'loopback' },
      ],
      default: 'allow',
    });
    assert.equal(policy.evaluate(ctx('private', 443, { client: '10.0.0.5' })).decision, 'resolve');
    const byName = policy.session({ ...anon, client: '10.0.0.5' }).checkDestination('private', 443);
    assert.equal(
      byName.kind === 'name' ? byName.verdict?.rule.name : undefined,
      'internal-clients',
    );
    assert.equal(policy.evaluate(ctx('[::1]', 443)).decision, 'deny');
  });
});
