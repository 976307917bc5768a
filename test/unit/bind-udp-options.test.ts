/** BIND/UDP server options: defaults, and every bad value refused with the field named. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveServerOptions, type ServerOptions } from '../../src/server/options.js';

function refused(options: ServerOptions, field: string): void {
  assert.throws(
    () => resolveServerOptions(options),
    (err: unknown) => {
      const e = err as { code: string; message: string };
      assert.equal(e.code, 'ERR_SOCKS_INVALID_OPTION');
      assert.ok(e.message.startsWith(`${field}:`), e.message);
      return true;
    },
  );
}

describe('BIND and UDP options', () => {
  it('defaults', () => {
    const o = resolveServerOptions();
    assert.equal(o.bindTimeout, 120_000);
    assert.deepEqual(o.externalAddress, { ipv4: undefined, ipv6: undefined });
    assert.equal(o.udpPorts, undefined);
    assert.equal(o.udpIdleTimeout, 120_000);
    assert.equal(o.udpReassembly, true);
    assert.equal(o.udpReassemblyTimeout, 5_000);
    assert.equal(o.udpMaxDatagramSize, 65_536);
    assert.equal(o.udpReassemblyMemory, 16 * 1024 * 1024);
  });

  it('externalAddress: one per family, IPv6 in RFC 5952 form', () => {
    const o = resolveServerOptions({ externalAddress: ['2001:DB8:0:0::7', '192.0.2.1'] });
    assert.deepEqual(o.externalAddress, { ipv4: '192.0.2.1', ipv6: '2001:db8::7' });
    assert.deepEqual(resolveServerOptions({ externalAddress: '192.0.2.1' }).externalAddress, {
      ipv4: '192.0.2.1',
      ipv6: undefined,
    });
  });

  it('refuses bad values, naming the field', () => {
    refused({ bindTimeout: 0 }, 'bindTimeout');
    refused({ bindTimeout: 1.5 }, 'bindTimeout');
    refused({ externalAddress: 'proxy.example' }, 'externalAddress');
    refused({ externalAddress: '192.0.2.1:1080' }, 'externalAddress');
    refused({ externalAddress: ['192.0.2.1', '192.0.2.2'] }, 'externalAddress');
    refused({ externalAddress: [] }, 'externalAddress');
    refused({ udpPorts: { from: 2000, to: 1000 } }, 'udpPorts');
    refused({ udpPorts: { from: 0, to: 10 } }, 'udpPorts');
    refused({ udpPorts: { from: 1, to: 70000 } }, 'udpPorts');
    refused({ udpIdleTimeout: -1 }, 'udpIdleTimeout');
    refused({ udpReassemblyTimeout: 4999 }, 'udpReassemblyTimeout');
    refused({ udpMaxDatagramSize: 0 }, 'udpMaxDatagramSize');
    refused({ udpReassemblyMemory: -5 }, 'udpReassemblyMemory');
    refused({ udpReassembly: 'yes' as unknown as boolean }, 'udpReassembly');
  });

  it('accepts the edges', () => {
    const o = resolveServerOptions({
      udpPorts: { from: 1, to: 65535 },
      udpIdleTimeout: 0,
      udpReassemblyTimeout: 5000,
      udpReassembly: false,
    });
    assert.deepEqual(o.udpPorts, { from: 1, to: 65535 });
    assert.equal(o.udpIdleTimeout, 0);
    assert.equal(o.udpReassembly, false);
  });
});
