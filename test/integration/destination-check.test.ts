// resolveAllowed() + dialTcp(): a denied destination is refused with no connection attempt,
// and an allowed name is connected to exactly the addresses that were checked — DNS is not asked
// again at connect time, so it cannot rebind the name in between. Loopback only: listeners on
// 127.0.0.1 and 127.0.0.2 count every connection they see; a fake DNS server answers names.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { dialTcp } from '../../src/dial/connect.js';
import { resolveAllowed } from '../../src/dial/destination.js';
import { DnsResolver } from '../../src/dial/resolver.js';
import { replyForError, SocksError } from '../../src/errors.js';
import { Reply } from '../../src/protocol/constants.js';
import { compilePolicy, type PolicySpec, type SessionPolicy } from '../../src/rules/index.js';
import { FakeDns } from '../helpers/fake-dns.js';

let dns: FakeDns;
let port: number;
const seen = { '127.0.0.1': 0, '127.0.0.2': 0 };
const servers: Server[] = [];

async function listen(address: '127.0.0.1' | '127.0.0.2', onPort: number): Promise<number> {
  const s = createServer((socket) => {
    seen[address]++;
    socket.end();
  });
  s.listen(onPort, address);
  await once(s, 'listening');
  servers.push(s);
  return (s.address() as AddressInfo).port;
}

function session(spec: PolicySpec): SessionPolicy {
  return compilePolicy(spec).session({
    client: '127.0.0.1',
    command: 'connect',
    dialect: 'socks5',
  });
}

function resolver(): DnsResolver {
  return new DnsResolver({
    servers: [dns.server],
    timeout: 300,
    tries: 1,
    systemLookup: () =>
      Promise.reject(
        Object.assign(new Error('no system lookups in this test'), { code: 'ENOTFOUND' }),
      ),
  });
}

async function refusal(p: Promise<unknown>): Promise<SocksError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SocksError, String(err));
    return err;
  }
  assert.fail('expected a refusal');
}

before(async () => {
  dns = await FakeDns.start();
  port = await listen('127.0.0.1', 0);
  await listen('127.0.0.2', port);
  dns.zone.set('internal.test', { A: [{ address: '127.0.0.1', ttl: 60 }] });
  dns.zone.set('split.test', {
    A: [
      { address: '127.0.0.2', ttl: 60 },
      { address: '127.0.0.1', ttl: 60 },
    ],
  });
});
after(async () => {
  for (const s of servers) s.close();
  await dns.close();
});
beforeEach(() => {
  seen['127.0.0.1'] = 0;
  seen['127.0.0.2'] = 0;
  dns.questions.length = 0;
});

const denyPrivate: PolicySpec = {
  rules: [{ name: 'no-private', action: 'deny', destination: 'private' }],
  default: 'allow',
};

describe('denied: reply 02 and no connection attempted', () => {
  for (const host of [
    '127.0.0.1',
    '127.1',
    '0x7f.1',
    '2130706433',
    '017700000001',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '0',
  ]) {
    it(`${host}: denied without DNS`, async () => {
      const err = await refusal(resolveAllowed(session(denyPrivate), resolver(), host, port));
      assert.equal(err.code, 'ERR_SOCKS_NOT_ALLOWED');
      assert.equal(replyForError(err), Reply.NotAllowed);
      assert.equal(dns.questions.length, 0);
    });
  }
  it('a name resolving to loopback: denied after DNS, never connected', async () => {
    const err = await refusal(
      resolveAllowed(session(denyPrivate), resolver(), 'internal.test', port),
    );
    assert.match(err.message, /internal\.test:\d+: not allowed by rule "no-private"/);
    assert.equal(dns.asked('internal.test', 'A'), 1);
  });
  it('a name denied by its pattern: no DNS query at all', async () => {
    const spec: PolicySpec = {
      rules: [{ action: 'deny', destination: '*.test' }],
      default: 'allow',
    };
    await refusal(resolveAllowed(session(spec), resolver(), 'internal.test', port));
    assert.equal(dns.questions.length, 0);
  });
  it("mixedResolution 'deny': one denied address refuses the name", async () => {
    const spec: PolicySpec = {
      rules: [{ action: 'deny', destination: '127.0.0.2' }],
      default: 'allow',
      mixedResolution: 'deny',
    };
    const err = await refusal(resolveAllowed(session(spec), resolver(), 'split.test', port));
    assert.equal(err.code, 'ERR_SOCKS_NOT_ALLOWED');
  });
  it('an invalid host: reply 04, no DNS', async () => {
    const err = await refusal(resolveAllowed(session(denyPrivate), resolver(), '1.2.3.256', port));
    assert.equal(replyForError(err), Reply.HostUnreachable);
    assert.equal(dns.questions.length, 0);
  });
  after(() => {
    // Nothing above may have reached a listener.
    assert.deepEqual(seen, { '127.0.0.1': 0, '127.0.0.2': 0 });
  });
});

describe('allowed: connect to exactly the checked addresses', () => {
  it('an odd spelling connects to the canonical address it was checked as', async () => {
    const checked = await resolveAllowed(
      session({ rules: [], default: 'allow' }),
      resolver(),
      '0x7f.1',
      port,
    );
    assert.equal(checked.host, '127.0.0.1');
    assert.equal(checked.lookup, undefined);
    const socket = await dialTcp(checked.host, port, { timeout: 5000 });
    assert.equal(socket.remoteAddress, '127.0.0.1');
    socket.destroy();
  });
  it('a name with one denied address: the connection goes to the allowed one, DNS is not asked again', async () => {
    const spec: PolicySpec = {
      rules: [{ name: 'not-two', action: 'deny', destination: '127.0.0.2' }],
      default: 'allow',
    };
    const checked = await resolveAllowed(session(spec), resolver(), 'split.test', port);
    assert.deepEqual(
      checked.addresses.map((a) => a.address),
      ['127.0.0.1'],
    );
    assert.deepEqual(
      checked.denied.map((d) => [d.ip.address, d.verdict.rule.name]),
      [['127.0.0.2', 'not-two']],
    );
    // DNS "rebinds" the name to the denied address before the connect: it must not matter.
    dns.zone.set('split.test', { A: [{ address: '127.0.0.2', ttl: 0 }] });
    const asked = dns.questions.length;
    const socket = await dialTcp(checked.host, port, { timeout: 5000, lookup: checked.lookup });
    assert.equal(socket.remoteAddress, '127.0.0.1');
    socket.destroy();
    assert.equal(dns.questions.length, asked);
    await new Promise((r) => setImmediate(r));
    assert.equal(seen['127.0.0.2'], 0);
  });
});
