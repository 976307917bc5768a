// Child process for test/integration/gssapi-library.test.ts, run with hide-koffi.mjs: imports
// the protocol codec and the GSS-API module statically, uses the codec, then asks for the
// binding, and prints what happened as one JSON line.
import { encodeGssapiMessage, encodeGreeting, AuthMethod } from '../../src/protocol/index.js';
import { loadGssapi } from '../../src/gssapi/index.js';

const codecWorks =
  encodeGssapiMessage({ type: 'abort' }).length === 2 &&
  encodeGreeting({ methods: [AuthMethod.GssApi] }).length === 3;
let error: { code: unknown; message: string } | undefined;
try {
  await loadGssapi();
} catch (err) {
  error = { code: (err as { code?: unknown }).code, message: (err as Error).message };
}
process.stdout.write(`${JSON.stringify({ codecWorks, error })}\n`);
