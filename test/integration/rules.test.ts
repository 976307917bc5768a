/**
 * Access rules on the wire: a denied destination gets 02 and no outbound connection is attempted
 * (a listener that must see nothing proves it), for every odd spelling of a private address.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectTo, Reader, startFerry, startTripwire } from '../helpers/net.js';
import { ChannelLog } from '../helpers/events.js';
import { connectDomain, connectIPv4, GREETING_NOAUTH, hex, parseReply } from '../helpers/socks5.js';
import { compilePolicy } from '../../src/rules/index.js';
import {
  channelNames,
  type DialStartEvent,
  type SessionEvent,
} from '../../src/observability/channels.js';
import { DnsResolver } from '../../src/dial/resolver.js';
import { FakeDns } from '../helpers/fake-dns.js';

async function request(port: number, req: Buffer): Promise<number> {
  const socket = await connectTo(port);
  const reader = new Reader(socket);
  socket.write(Buffer.concat([GREETING_NOAUTH, req]));
  assert.deepEqual(await reader.read(2), hex('05 00'));
  const head = await reader.read(4);
  await reader.read(head[3] === 0x04 ? 18 : 6);
  socket.destroy();
  return head[1]!;
}

/** CONNECT to an IPv6 literal given as 16 octets. */
function connectIPv6(bytes: string, port: number): Buffer {
  const b = Buffer.concat([hex('05 01 00 04'), hex(bytes), Buffer.alloc(2)]);
  b.writeUInt16BE(port, 20);
  return b;
}

describe('access rules: deny private', () => {
  let ferry: Awaited<ReturnType<typeof startFerry>>;
  let wire: Awaited<ReturnType<typeof startTripwire>>;
  let allowed: Awaited<ReturnType<typeof startTripwire>>;
  /** Every outbound connection attempt, to any address (not only the tripwire's). */
  let dials: ChannelLog<DialStartEvent>;
  before(async () => {
    dials = new ChannelLog<DialStartEvent>(channelNames.dialStart);
    wire = await startTripwire('127.0.0.1');
    allowed = await startTripwire('127.0.0.2');
    const rules = compilePolicy({
      default: 'allow',
      rules: [
        { name: 'lab-host', action: 'allow', destination: '127.0.0.2/32' },
        { name: 'no-private', action: 'deny', destination: 'private' },
      ],
    });
    ferry = await startFerry({ rules });
  });
  after(async () => {
    dials.close();
    await ferry.close();
    await wire.close();
    await allowed.close();
  });

  const spellings = [
    '127.0.0.1',
    '127.1',
    '0x7f.1',
    '0x7f000001',
    '017700000001',
    '2130706433',
    '127.000.000.001',
    '0',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '[::1]',
    'localhost',
    'LOCALHOST.',
  ];
  for (const host of spellings) {
    it(`"${host}" as a domain → 02, nothing dialled`, async () => {
      assert.equal(await request(ferry.port, connectDomain(host, wire.port)), 0x02);
    });
  }

  it('IPv4-mapped and ::1 as IPv6 addresses → 02', async () => {
    assert.equal(
      await request(ferry.port, connectIPv6('00000000000000000000ffff7f000001', wire.port)),
      0x02,
    );
    assert.equal(
      await request(ferry.port, connectIPv6('00000000000000000000000000000001', wire.port)),
      0x02,
    );
  });

  it('169.254.169.254 (cloud metadata) and fd00::1 → 02', async () => {
    assert.equal(await request(ferry.port, connectIPv4('169.254.169.254', 80)), 0x02);
    assert.equal(
      await request(ferry.port, connectIPv6('fd000000000000000000000000000001', 80)),
      0x02,
    );
  });

  it('the tripwire saw no connection at all, and no connection was attempted anywhere', () => {
    assert.equal(wire.hits(), 0);
    assert.deepEqual(dials.messages, []);
  });

  it('an earlier allow rule still reaches its host, and the log names the rules', async () => {
    const ended = new ChannelLog<SessionEvent>(channelNames.sessionEnd);
    try {
      const socket = await connectTo(ferry.port);
      const reader = new Reader(socket);
      socket.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.2', allowed.port)]));
      await reader.read(2);
      assert.equal(parseReply(await reader.read(10)).rep, 0);
      await reader.closed(); // the tripwire hangs up; we end our half too
      socket.end();
      assert.equal(allowed.hits(), 1);
      const ok = await ended.waitFor((e) => e.session.reply === 0);
      assert.equal(ok.session.rule, 'lab-host');
      await request(ferry.port, connectDomain('127.1', wire.port));
      const denied = await ended.waitFor((e) => e.session.reply === 2);
      assert.equal(denied.session.rule, 'no-private');
      assert.equal(denied.session.endReason, 'denied');
      assert.equal(denied.session.error, 'ERR_SOCKS_NOT_ALLOWED');
    } finally {
      ended.close();
    }
  });

  it('a host that is neither an address nor a name → 04', async () => {
    assert.equal(await request(ferry.port, connectDomain('1.2.3.256', 80)), 0x04);
    assert.equal(await request(ferry.port, connectDomain('fe80::1%eth0', 80)), 0x04);
  });
});

describe('access rules: the safe default', () => {
  it('rules count as a safeguard: a non-loopback listener is allowed with rules and no users', async () => {
    const rules = compilePolicy({
      default: 'deny',
      rules: [{ action: 'allow', client: 'loopback' }],
    });
    const ferry = await startFerry({ rules }, '0.0.0.0');
    assert.ok(ferry.port > 0);
    await ferry.close();
  });
});

describe('access rules: names that resolve to private addresses', () => {
  let dns: FakeDns;
  let ferry: Awaited<ReturnType<typeof startFerry>>;
  let wire: Awaited<ReturnType<typeof startTripwire>>;
  let dials: ChannelLog<DialStartEvent>;
  const zone: Record<string, { A?: string[]; AAAA?: string[] }> = {
    'loop.test': { A: ['127.0.0.1'] },
    'intranet.test': { A: ['10.0.0.5'] },
    'metadata.test': { A: ['169.254.169.254'] },
    'ula.test': { AAAA: ['fd00::1'] },
    'mapped.test': { AAAA: ['::ffff:7f00:1'] },
    'nat64.test': { AAAA: ['64:ff9b::7f00:1'] },
    'sixtofour.test': { AAAA: ['2002:7f00:1::1'] },
    'both-families.test': { A: ['127.0.0.1'], AAAA: ['::1'] },
  };
  before(async () => {
    dns = await FakeDns.start();
    for (const [name, records] of Object.entries(zone)) {
      dns.zone.set(name, {
        A: (records.A ?? []).map((address) => ({ address, ttl: 60 })),
        AAAA: (records.AAAA ?? []).map((address) => ({ address, ttl: 60 })),
      });
    }
    wire = await startTripwire('127.0.0.1');
    dials = new ChannelLog<DialStartEvent>(channelNames.dialStart);
    const resolver = new DnsResolver({
      servers: [dns.server],
      timeout: 500,
      tries: 1,
      systemFallback: false,
    });
    const rules = compilePolicy({
      default: 'allow',
      rules: [{ name: 'no-private', action: 'deny', destination: 'private' }],
    });
    ferry = await startFerry({ rules, resolver });
  });
  after(async () => {
    dials.close();
    await ferry.close();
    await wire.close();
    await dns.close();
  });

  for (const name of Object.keys(zone)) {
    it(`${name} (${[...(zone[name]?.A ?? []), ...(zone[name]?.AAAA ?? [])].join(', ')}) → 02 after DNS, nothing dialled`, async () => {
      assert.equal(await request(ferry.port, connectDomain(name, wire.port)), 0x02);
      assert.ok(dns.asked(name) > 0, 'the name was not even resolved');
    });
  }

  it('no connection was attempted to any of them', () => {
    assert.equal(wire.hits(), 0);
    assert.deepEqual(dials.messages, []);
  });
});
