// Child process for test/integration/gssapi-leaks.test.ts, run as
//   node --expose-gc --import tsx gssapi-leak-probe.ts   (with a KDC's KRB5_* environment)
// It measures the C heap (glibc mallinfo2: bytes in use, including mmapped chunks) around many
// iterations of each binding operation and prints the growth per iteration as one JSON line.
// V8's GC is forced (and given a moment: backing stores are freed off-thread) so that JS-owned
// buffers do not count, and each operation is warmed up first: JIT tiers and allocator caches
// settle after a few hundred runs, leaving a few octets per run of noise, whereas a leaked
// token is hundreds of octets per run and a leaked name or context about a kilobyte. A positive
// control (deliberately leaked malloc()s) shows that the meter sees a leak of that size.
import { loadGssapi } from '../../src/gssapi/index.js';
import { establish } from './gssapi.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
const gss = await loadGssapi(); // first: it configures koffi before any library loads

interface Koffi {
  load(path: string): { func(prototype: string): (...args: unknown[]) => unknown };
  struct(name: string, members: Record<string, string>): unknown;
}
const koffiSpecifier = 'koffi'; // a variable: no type dependency on the optional package
const koffi = ((await import(koffiSpecifier)) as { default: Koffi }).default;
const fields = [
  'arena',
  'ordblks',
  'smblks',
  'hblks',
  'hblkhd',
  'usmblks',
  'fsmblks',
  'uordblks',
  'fordblks',
  'keepcost',
];
koffi.struct('ferry_mallinfo2', Object.fromEntries(fields.map((f) => [f, 'size_t'])));
const libc = koffi.load('libc.so.6');
const mallinfo2 = libc.func('ferry_mallinfo2 mallinfo2()') as () => Record<string, number>;
const malloc = libc.func('void *malloc(size_t size)');

const settle = () =>
  new Promise((resolve) => {
    setTimeout(resolve, 100);
  });

async function heapInUse(): Promise<number> {
  for (let i = 0; i < 3; i++) gc!();
  await settle();
  gc!();
  const info = mallinfo2();
  return (info.uordblks ?? 0) + (info.hblkhd ?? 0);
}

/** C heap growth per run, in octets. */
async function measure(warmup: number, runs: number, body: () => unknown): Promise<number> {
  for (let i = 0; i < warmup; i++) await body();
  const before = await heapInUse();
  for (let i = 0; i < runs; i++) await body();
  return ((await heapInUse()) - before) / runs;
}

const env = process.env;
const serviceName = env.FERRY_TEST_SERVICE ?? 'rcmd@localhost';

async function pairOnce(): Promise<void> {
  const accept = await gss.acquireAcceptorCredential({ keytab: env.KRB5_KTNAME!, serviceName });
  const initiate = await gss.acquireInitiatorCredential({ ccache: env.KRB5CCNAME! });
  const client = gss.createInitiator({ target: serviceName, credential: initiate });
  const server = gss.createAcceptor(accept);
  await establish(client, server);
  for (const d of [client, server, accept, initiate]) d.dispose();
}

const control = await measure(0, 1000, () => malloc(256));

const client = gss.createInitiator({ target: serviceName });
const server = gss.createAcceptor();
await establish(client, server);
const payload = new Uint8Array(200).fill(7);
const wrap = await measure(5000, 10000, () => {
  server.unwrap(client.wrap(payload, { confidential: true }).token);
  client.unwrap(server.wrap(payload, { confidential: false }).token);
  client.wrapSizeLimit(65535, true);
});
client.dispose();
server.dispose();

const contexts = await measure(200, 400, pairOnce);

process.stdout.write(`${JSON.stringify({ control, wrap, contexts, live: gss.liveHandles() })}\n`);
