// The GSS-API binding without a KDC: frames and tokens that the system library made (fixtures
// captured once, see test/fixtures/capture-gssapi-fixtures.ts) decoded with our framing code
// and unwrapped with contexts imported from gss_export_sec_context; and what happens when the
// binding is unavailable.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadGssapiForTests } from '../helpers/gssapi.js';
import {
  acceptorContext,
  acceptorName,
  gssapiFrameFixtures,
  initiatorContext,
  initiatorName,
} from '../fixtures/gssapi-wrapped.js';
import {
  ProtectionLevel,
  decodeGssapiMessage,
  decodeProtectionLevel,
  type GssapiMessage,
} from '../../src/protocol/gssapi.js';
import { NEED_MORE } from '../../src/protocol/decode.js';
import { SocksGssapiError, loadGssapi } from '../../src/gssapi/index.js';

const loaded = await loadGssapiForTests();

function tokenOf(message: GssapiMessage): Uint8Array {
  if (message.type === 'abort') assert.fail('fixtures hold no abort');
  return message.token;
}

describe('library-made RFC 1961 vectors', { skip: loaded.skip ?? false }, () => {
  const gss = loaded.binding!;

  it('imports both exported contexts and unwraps every frame in order', () => {
    const server = gss.importContext(acceptorContext);
    const client = gss.importContext(initiatorContext);
    assert.equal(server.role, 'acceptor');
    assert.equal(client.role, 'initiator');
    for (const side of [server, client]) {
      assert.equal(side.complete, true);
      assert.equal(side.sourceName, initiatorName);
      assert.equal(side.targetName, acceptorName);
    }
    const levels: ProtectionLevel[] = [];
    for (const fixture of gssapiFrameFixtures) {
      const decoded = decodeGssapiMessage(fixture.wire);
      assert.ok(decoded !== NEED_MORE && decoded.length === fixture.wire.length, fixture.name);
      assert.ok(decoded.value.type !== 'abort' && decoded.value.type !== 'context');
      const receiver = fixture.from === 'client' ? server : client;
      const unwrapped = receiver.unwrap(decoded.value.token);
      assert.deepEqual(unwrapped.data, fixture.plaintext, fixture.name);
      assert.equal(unwrapped.confidential, fixture.confidential, fixture.name);
      assert.equal(unwrapped.supplementary, 0, fixture.name);
      if (decoded.value.type === 'protection-level') {
        levels.push(decodeProtectionLevel(unwrapped.data));
      }
    }
    // RFC 1961 §4.3: the client asked for confidentiality and the server agreed.
    assert.deepEqual(levels, [ProtectionLevel.Confidentiality, ProtectionLevel.Confidentiality]);
    server.dispose();
    client.dispose();
  });

  it('rejects a library-made token with one bit flipped, and out-of-order tokens', () => {
    const server = gss.importContext(acceptorContext);
    const [level, connect] = gssapiFrameFixtures.filter((f) => f.from === 'client');
    assert.ok(level !== undefined && connect !== undefined);
    const tampered = tokenOf(connect.message).slice();
    tampered[20] = (tampered[20] ?? 0) ^ 0x80;
    // Skipping the level token: strict unwrap refuses the gap; a tampered token fails outright.
    assert.throws(
      () => server.unwrap(tokenOf(connect.message)),
      (err: unknown) => err instanceof SocksGssapiError && err.routine === 'GSS_S_GAP_TOKEN',
    );
    assert.throws(
      () => server.unwrap(tampered, { allowOutOfSequence: true }),
      (err: unknown) => err instanceof SocksGssapiError && err.routine === 'GSS_S_BAD_SIG',
    );
    server.dispose();
  });

  it('rejects a truncated exported context', () => {
    assert.throws(
      () => gss.importContext(acceptorContext.subarray(0, 40)),
      (err: unknown) =>
        err instanceof SocksGssapiError && err.operation === 'gss_import_sec_context',
    );
    assert.deepEqual(gss.liveHandles(), { credentials: 0, contexts: 0 });
  });
});

describe('GSS-API unavailable', () => {
  it('says why in one line when the library cannot be loaded', async (t) => {
    if (loaded.skip !== undefined) {
      t.skip(loaded.skip); // koffi itself is missing: that is the reason given, tested below
      return;
    }
    await assert.rejects(
      loadGssapi({ library: 'libferry-no-such-gssapi.so.9' }),
      (err: unknown) => {
        assert.ok(err instanceof SocksGssapiError);
        assert.equal(err.code, 'ERR_SOCKS_GSSAPI_UNAVAILABLE');
        assert.match(
          err.message,
          /^GSS-API unavailable: cannot load libferry-no-such-gssapi\.so\.9/,
        );
        assert.ok(!err.message.includes('\n'));
        return true;
      },
    );
  });

  it('says why in one line when the library is not MIT GSS-API', async (t) => {
    if (loaded.skip !== undefined) {
      t.skip(loaded.skip);
      return;
    }
    await assert.rejects(loadGssapi({ library: 'libc.so.6' }), (err: unknown) => {
      assert.ok(err instanceof SocksGssapiError);
      assert.equal(err.code, 'ERR_SOCKS_GSSAPI_UNAVAILABLE');
      assert.match(err.message, /^GSS-API unavailable: libc\.so\.6 is not a usable MIT Kerberos/);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  });

  it('leaves the rest of ferry working when koffi is not installed', async () => {
    const helper = (name: string) => fileURLToPath(new URL(`../helpers/${name}`, import.meta.url));
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [
          '--import',
          helper('hide-koffi.mjs'),
          '--import',
          'tsx',
          helper('gssapi-without-koffi.ts'),
        ],
        { timeout: 20_000 },
        (err, out, stderr) => {
          if (err) reject(new Error(`${err.message}\n${stderr}`));
          else resolve(out);
        },
      );
    });
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 1, stdout);
    const result = JSON.parse(lines[0]!) as {
      codecWorks: boolean;
      error?: { code: string; message: string };
    };
    assert.equal(result.codecWorks, true);
    assert.deepEqual(result.error, {
      code: 'ERR_SOCKS_GSSAPI_UNAVAILABLE',
      message:
        'GSS-API unavailable: the optional dependency "koffi" is not installed (npm install koffi)',
    });
  });
});
