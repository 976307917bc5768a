/**
 * Throughput of one tunnel per GSS-API protection level: `npx tsx bench/gssapi-levels.ts
 * [--mib 32] [--rounds 3]`. Not a test (tests never measure speed).
 *
 * A throwaway MIT KDC on loopback (the test harness's), `ferry serve` in its own process with
 * GSS-API (levels clear, integrity, confidentiality) and another without authentication as the
 * baseline, ferry's client in this process, and a sink and a source on loopback. Each round
 * uploads and downloads `--mib` MiB through one tunnel per level; the median of the rounds is
 * printed in MiB/s. Both ends of the encapsulation run here and in the server, so the figure is
 * what a client and a proxy on one 2-core machine manage together.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startKdc } from '../test/helpers/kdc.js';
import { connect } from '../src/client/connect.js';

const { values } = parseArgs({
  options: { mib: { type: 'string', default: '32' }, rounds: { type: 'string', default: '3' } },
});
const MiB = 1024 * 1024;
const size = Number(values.mib) * MiB;
const rounds = Number(values.rounds);
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const DEADLINE_MS = 120_000;

const children: ChildProcess[] = [];

/** Starts `ferry serve ARGS` and resolves with its port once it logs 'listening'. */
function serve(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', MAIN, 'serve', '--listen', '127.0.0.1:0', ...args],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    // Keep reading (the access log) so that the pipe never fills and stalls the server.
    let found = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (found) return;
      out += chunk.toString();
      const m = /"addresses":\["127\.0\.0\.1:(\d+)"\]/.exec(out);
      if (m) {
        found = true;
        resolve(Number(m[1]));
      }
    });
    child.once('exit', () => reject(new Error(`ferry serve exited: ${out}`)));
  });
}

/** A sink that reads everything and answers one octet at the end; a source that sends `size`. */
async function targets(): Promise<{ sink: number; source: number; close(): void }> {
  const sink = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', () => undefined);
    s.on('end', () => s.end('k'));
    s.on('error', () => undefined);
  });
  const block = Buffer.alloc(MiB, 0x5a);
  // allowHalfOpen: the client's early FIN must not cut the download short.
  const source = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => undefined);
    let left = size;
    const pump = (): void => {
      while (left > 0) {
        left -= MiB;
        if (!s.write(block)) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
  sink.listen(0, '127.0.0.1');
  source.listen(0, '127.0.0.1');
  await Promise.all([once(sink, 'listening'), once(source, 'listening')]);
  return {
    sink: (sink.address() as net.AddressInfo).port,
    source: (source.address() as net.AddressInfo).port,
    close: () => {
      sink.close();
      source.close();
    },
  };
}

async function timed(proxy: string, port: number, upload: boolean): Promise<number> {
  const started = performance.now();
  const { socket } = await connect({ proxy, destination: { host: '127.0.0.1', port } });
  let received = 0;
  socket.on('data', (c: Buffer) => (received += c.length));
  const ended = once(socket, 'end');
  if (upload) {
    const block = Buffer.alloc(MiB, 0xa5);
    for (let sent = 0; sent < size; sent += MiB) {
      if (!socket.write(block)) await once(socket, 'drain');
    }
    socket.end();
  } else {
    socket.end();
  }
  await ended;
  socket.destroy();
  const seconds = (performance.now() - started) / 1000;
  if (!upload && received !== size) throw new Error(`received ${received} of ${size}`);
  return size / MiB / seconds;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const kdc = await startKdc();
  Object.assign(process.env, kdc.env);
  const t = await targets();
  try {
    const gss = await serve(
      ['--gssapi-keytab', kdc.keytab, '--gssapi-service', 'rcmd'].concat([
        '--gssapi-levels',
        'clear,integrity,confidentiality',
      ]),
      kdc.env,
    );
    const plain = await serve([], kdc.env);
    const contestants: [string, string][] = [
      ['no authentication (baseline)', `socks5h://127.0.0.1:${plain}`],
      ['GSS-API, clear', `socks5h+gssapi://localhost:${gss}?level=clear`],
      ['GSS-API, integrity', `socks5h+gssapi://localhost:${gss}?level=integrity`],
      ['GSS-API, confidentiality', `socks5h+gssapi://localhost:${gss}?level=confidentiality`],
    ];
    const results = new Map<string, { up: number[]; down: number[] }>();
    for (let round = 0; round < rounds; round++) {
      for (const [name, proxy] of contestants) {
        const r = results.get(name) ?? { up: [], down: [] };
        r.up.push(await timed(proxy, t.sink, true));
        r.down.push(await timed(proxy, t.source, false));
        results.set(name, r);
      }
    }
    console.log(`one tunnel, ${values.mib} MiB each way, median of ${rounds} rounds (MiB/s)`);
    console.log('level'.padEnd(32), 'upload'.padStart(8), 'download'.padStart(9));
    for (const [name, r] of results) {
      console.log(
        name.padEnd(32),
        median(r.up).toFixed(0).padStart(8),
        median(r.down).toFixed(0).padStart(9),
      );
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
    t.close();
    await kdc.stop();
  }
}

const deadline = setTimeout(() => {
  console.error(`bench did not finish in ${DEADLINE_MS} ms`);
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
}, DEADLINE_MS);
deadline.unref();
await main();
