// The binding releases what the library hands it: C heap growth per operation, measured in a
// child process (it needs --expose-gc) against a live KDC. See test/helpers/gssapi-leak-probe.ts.
// This found a real leak: a gss_name_t per accepted context (src_name asked for, never freed).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { kdcSkipReason, startKdc, type Kdc } from '../helpers/kdc.js';
import { loadGssapiForTests } from '../helpers/gssapi.js';

const kdcSkip = kdcSkipReason();
const loaded = await loadGssapiForTests();
const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
const glibc = report.header?.glibcVersionRuntime !== undefined;
const skip = loaded.skip ?? kdcSkip ?? (glibc ? false : 'needs glibc mallinfo2()');

describe('GSS-API binding memory', { skip }, () => {
  let kdc: Kdc;
  before(async () => {
    kdc = await startKdc();
  });
  after(async () => {
    await kdc.stop();
  });

  it('does not grow the C heap per wrap/unwrap or per established context', async () => {
    const probe = fileURLToPath(new URL('../helpers/gssapi-leak-probe.ts', import.meta.url));
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--expose-gc', '--import', 'tsx', probe],
        { env: { ...process.env, ...kdc.env }, timeout: 60_000 },
        (err, out, stderr) => {
          if (err) reject(new Error(`${err.message}\n${stderr}`));
          else resolve(out);
        },
      );
    });
    const result = JSON.parse(stdout) as {
      control: number;
      wrap: number;
      contexts: number;
      live: { credentials: number; contexts: number };
    };
    // The meter works: 256-octet blocks leaked on purpose show up as such.
    assert.ok(result.control >= 256, `control ${result.control} B/run`);
    // Noise is a few octets per run; one leaked token is 200+, a name or context ~1000.
    assert.ok(result.wrap < 32, `wrap/unwrap grew the C heap by ${result.wrap} B/run`);
    assert.ok(result.contexts < 300, `each context grew the C heap by ${result.contexts} B/run`);
    assert.deepEqual(result.live, { credentials: 0, contexts: 0 });
  });
});
