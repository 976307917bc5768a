// lookupFor(): net.connect runs Happy Eyeballs among exactly the checked addresses and never asks
// DNS. Real loopback sockets; the hostname is a *.invalid name that no resolver would answer.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  connect,
  createServer,
  type AddressInfo,
  type LookupFunction,
  type Server,
  type Socket,
} from 'node:net';
import { lookupFor } from '../../src/dial/lookup.js';
import { replyForError } from '../../src/errors.js';
import { Reply } from '../../src/protocol/constants.js';
import { parseObservedAddress, type IpAddress } from '../../src/rules/index.js';

function ips(...texts: string[]): IpAddress[] {
  return texts.map((t) => parseObservedAddress(t)!);
}

/** Wraps a lookup to record the options Node passes. */
function spy(
  lookup: LookupFunction,
  calls: { all?: boolean | undefined; family?: unknown }[],
): LookupFunction {
  return (hostname, options, callback) => {
    calls.push({ all: options.all, family: options.family });
    lookup(hostname, options, callback);
  };
}

async function hasIPv6Loopback(): Promise<boolean> {
  const s = createServer();
  try {
    s.listen(0, '::1');
    await once(s, 'listening');
    return true;
  } catch {
    return false;
  } finally {
    s.close();
  }
}

let v4: Server;
let port: number;
let ipv6: boolean;

before(async () => {
  v4 = createServer((s) => s.end());
  v4.listen(0, '127.0.0.1');
  await once(v4, 'listening');
  port = (v4.address() as AddressInfo).port;
  ipv6 = await hasIPv6Loopback();
});
after(() => {
  v4.close();
});

async function connected(socket: Socket): Promise<string | undefined> {
  await once(socket, 'connect');
  const remote = socket.remoteAddress;
  socket.destroy();
  return remote;
}

describe('lookupFor with net.connect', () => {
  it('autoSelectFamily: Node asks for all addresses and tries them in order (Happy Eyeballs)', async (t) => {
    if (!ipv6) {
      t.skip('no IPv6 loopback on this machine');
      return;
    }
    const calls: { all?: boolean | undefined; family?: unknown }[] = [];
    // ::1 has nothing listening on this port (the server is IPv4 only): Node falls over to 127.0.0.1.
    const socket = connect({
      host: 'checked.invalid',
      port,
      lookup: spy(lookupFor(ips('::1', '127.0.0.1')), calls),
      autoSelectFamily: true,
    });
    assert.equal(await connected(socket), '127.0.0.1');
    assert.deepEqual(
      calls.map((c) => c.all),
      [true],
    );
    assert.deepEqual(socket.autoSelectFamilyAttemptedAddresses, [
      `::1:${port}`,
      `127.0.0.1:${port}`,
    ]);
  });
  it('one address: a plain connect to it', async () => {
    const calls: { all?: boolean | undefined; family?: unknown }[] = [];
    const socket = connect({
      host: 'checked.invalid',
      port,
      lookup: spy(lookupFor(ips('127.0.0.1')), calls),
      autoSelectFamily: true,
    });
    assert.equal(await connected(socket), '127.0.0.1');
    assert.equal(calls.length, 1);
  });
  it('without autoSelectFamily (e.g. with localAddress): the first address of the requested family', async () => {
    const socket = connect({
      host: 'checked.invalid',
      port,
      family: 4,
      localAddress: '127.0.0.1',
      lookup: lookupFor(ips('::1', '127.0.0.1')),
    });
    assert.equal(await connected(socket), '127.0.0.1');
  });
  it('a family with no checked address fails with ERR_SOCKS_RESOLVE (reply 04), no fallback to DNS', async () => {
    const socket = connect({
      host: 'checked.invalid',
      port,
      family: 6,
      lookup: lookupFor(ips('127.0.0.1')),
    });
    const [err] = (await once(socket, 'error')) as [Error & { code?: string }];
    assert.equal(err.code, 'ERR_SOCKS_RESOLVE');
    assert.equal(replyForError(err), Reply.HostUnreachable);
  });
});
