/**
 * Opens N client connections to a SOCKS5 server that each stop partway through the handshake
 * (nothing; `05`; a whole greeting; greeting + half a request) and then wait for the server to
 * close them. Runs in its own process (started by the stalled-handshakes test under a raised
 * `ulimit -n`), reports over IPC: `opened` once all are connected, `report` when asked.
 */
import net from 'node:net';

const port = Number(process.argv[2]);
const count = Number(process.argv[3]);
const BATCH = Number(process.env.STALL_BATCH ?? 100);
const PAUSE_MS = Number(process.env.STALL_PAUSE ?? 10);
const stalls = [
  Buffer.alloc(0), // nothing at all
  Buffer.from([0x05]), // VER only
  Buffer.from([0x05, 0x01, 0x00]), // a whole greeting, then no request
  Buffer.from([0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x01, 0x7f]), // greeting + half a request
];

interface Client {
  connectedAt: number;
  closedAt: number | undefined;
  /** The server ended or reset the connection (we never close them ourselves). */
  byServer: boolean;
}
const clients: Client[] = [];
let errors = 0;

function open(i: number): Promise<void> {
  return new Promise((resolve) => {
    const c: Client = { connectedAt: 0, closedAt: undefined, byServer: false };
    const s = net.connect({ port, host: '127.0.0.1' });
    s.on('connect', () => {
      c.connectedAt = Date.now();
      clients.push(c);
      const bytes = stalls[i % stalls.length]!;
      if (bytes.length > 0) s.write(bytes);
      resolve();
    });
    s.on('data', () => undefined);
    s.on('end', () => {
      c.byServer = true;
      s.end();
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (c.connectedAt === 0) {
        errors++;
        resolve();
      } else if (err.code === 'ECONNRESET') {
        c.byServer = true;
      }
    });
    s.on('close', () => {
      c.closedAt ??= Date.now();
    });
  });
}

const started = Date.now();
for (let i = 0; i < count; i += BATCH) {
  await Promise.all(Array.from({ length: Math.min(BATCH, count - i) }, (_, j) => open(i + j)));
  // A pause between bursts lets ferry accept them: its listen backlog (511) is not the subject.
  await new Promise((r) => setTimeout(r, PAUSE_MS));
}
process.send?.({ type: 'opened', connected: clients.length, errors, ms: Date.now() - started });
process.on('message', (m: { type: string }) => {
  if (m.type !== 'report') return;
  const closed = clients.filter((c) => c.closedAt !== undefined);
  const lifetimes = closed.map((c) => (c.closedAt ?? 0) - c.connectedAt);
  process.send?.({
    type: 'report',
    connected: clients.length,
    closed: closed.length,
    byServer: closed.filter((c) => c.byServer).length,
    minLifetime: lifetimes.length > 0 ? Math.min(...lifetimes) : -1,
    maxLifetime: lifetimes.length > 0 ? Math.max(...lifetimes) : -1,
    errors,
  });
});
