// `ferry serve` with GSS-API configured where it cannot work: one line on stderr and exit 2,
// nothing listening — and without GSS-API configured, a machine without koffi serves as usual.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { MAIN, LogLines } from '../helpers/cli.js';
import { loadGssapiForTests } from '../helpers/gssapi.js';

const loaded = await loadGssapiForTests();

const HIDE_KOFFI = fileURLToPath(new URL('../helpers/hide-koffi.mjs', import.meta.url));

/** Runs `ferry serve ARGS` from source, koffi hidden when asked; kills it after `ms` if alive. */
async function serveOnce(
  args: string[],
  options: { hideKoffi?: boolean; untilListening?: boolean } = {},
): Promise<{ code: number | null; stderr: string; listening: boolean }> {
  const imports = [
    '--import',
    'tsx',
    ...(options.hideKoffi === true ? ['--import', HIDE_KOFFI] : []),
  ];
  const child = spawn(process.execPath, [
    ...imports,
    MAIN,
    'serve',
    '--listen',
    '127.0.0.1:0',
    ...args,
  ]);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const logs = new LogLines(child);
  let listening = false;
  if (options.untilListening === true) {
    await logs.waitFor((l) => l.event === 'listening');
    listening = true;
    child.kill('SIGTERM');
  }
  const [code] = (await once(child, 'exit')) as [number | null];
  listening ||= logs.lines.some((l) => l.event === 'listening');
  return { code, stderr, listening };
}

describe('ferry serve --gssapi-* where GSS-API cannot work', () => {
  it('koffi missing: "GSS-API unavailable" in one line, exit 2, nothing listens', async () => {
    const r = await serveOnce(['--gssapi-keytab', '/etc/ferry/socks.keytab'], { hideKoffi: true });
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'ferry: GSS-API unavailable: the optional dependency "koffi" is not installed (npm install koffi).\n',
    );
    assert.equal(r.listening, false);
  });

  it('an unusable keytab: one line naming it, exit 2', { skip: loaded.skip ?? false }, async () => {
    const r = await serveOnce([
      '--gssapi-keytab',
      '/nonexistent/ferry.keytab',
      '--gssapi-service',
      'rcmd',
    ]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^ferry: cannot acquire the GSS-API credential: .*\/nonexistent\/ferry\.keytab.*\.\n$/,
    );
    assert.equal(r.stderr.split('\n').length, 2, 'one line');
    assert.equal(r.listening, false);
  });

  it('without GSS-API configured, a machine without koffi serves as usual', async () => {
    const r = await serveOnce([], { hideKoffi: true, untilListening: true });
    assert.ok(r.listening);
    assert.equal(r.stderr, '');
  });
});
