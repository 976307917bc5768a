// Rough UDP datagram rate: a client and a UDP echo in this process, round trips with a fixed
// window in flight, directly and through ferry (UDP ASSOCIATE; ferry runs in a child process so
// it does not share this event loop). Loopback only; a few seconds per run.
// Run: npx tsx bench/udp-rate.ts [seconds=3] [payload=64] [window=32]
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const seconds = Number(process.argv[2] ?? 3);
const payloadSize = Number(process.argv[3] ?? 64);
const window = Number(process.argv[4] ?? 32);
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

async function udpSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

async function startEcho(): Promise<dgram.Socket> {
  const s = await udpSocket();
  s.on('message', (msg, r) => s.send(msg, r.port, r.address));
  return s;
}

/** Round trips per second with `window` datagrams in flight; a lost one is replaced after 50 ms. */
async function measure(send: (s: dgram.Socket) => void, client: dgram.Socket): Promise<number> {
  let received = 0;
  let lastReceive = Date.now();
  client.on('message', () => {
    received++;
    lastReceive = Date.now();
    if (!done) send(client);
  });
  let done = false;
  for (let i = 0; i < window; i++) send(client);
  const refill = setInterval(() => {
    if (Date.now() - lastReceive > 50) for (let i = 0; i < window; i++) send(client);
  }, 50);
  // Warm up for half a second, then count.
  await new Promise((r) => setTimeout(r, 500));
  const start = received;
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const n = received - start;
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  done = true;
  clearInterval(refill);
  client.removeAllListeners('message');
  return n / elapsed;
}

async function startFerry(): Promise<{ port: number; stop: () => void }> {
  const child = spawn(process.execPath, [
    '--import',
    'tsx',
    MAIN,
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--log-level',
    'info',
  ]);
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"127\.0\.0\.1:(\d+)"/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`ferry exited: ${out}`)));
  });
  return { port, stop: () => child.kill('SIGKILL') };
}

async function associate(
  port: number,
  clientPort: number,
): Promise<{ tcp: net.Socket; relay: number }> {
  const tcp = net.connect(port, '127.0.0.1');
  await once(tcp, 'connect');
  const req = Buffer.from([0x05, 0x01, 0x00, 0x05, 0x03, 0x00, 0x01, 127, 0, 0, 1, 0, 0]);
  req.writeUInt16BE(clientPort, 11);
  tcp.write(req);
  let buf = Buffer.alloc(0);
  while (buf.length < 12) {
    const [chunk] = (await once(tcp, 'data')) as [Buffer];
    buf = Buffer.concat([buf, chunk]);
  }
  if (buf[3] !== 0x00) throw new Error(`associate failed: ${buf.toString('hex')}`);
  return { tcp, relay: buf.readUInt16BE(10) };
}

const echo = await startEcho();
const echoPort = echo.address().port;
const payload = Buffer.alloc(payloadSize, 0x61);

const direct = await udpSocket();
const directRate = await measure((s) => s.send(payload, echoPort, '127.0.0.1'), direct);
direct.close();

const ferry = await startFerry();
const viaClient = await udpSocket();
const { tcp, relay } = await associate(ferry.port, viaClient.address().port);
// RSV RSV FRAG ATYP=01 127.0.0.1 PORT, then DATA.
const header = Buffer.from([0, 0, 0, 1, 127, 0, 0, 1, 0, 0]);
header.writeUInt16BE(echoPort, 8);
const datagram = Buffer.concat([header, payload]);
const viaRate = await measure((s) => s.send(datagram, relay, '127.0.0.1'), viaClient);
viaClient.close();
tcp.destroy();
ferry.stop();
echo.close();

console.log(
  `payload ${payloadSize} B, window ${window}, ${seconds}s each, node ${process.version}\n` +
    `direct UDP echo:      ${directRate.toFixed(0).padStart(8)} round trips/s\n` +
    `through ferry (UDP):  ${viaRate.toFixed(0).padStart(8)} round trips/s ` +
    `(${((viaRate / directRate) * 100).toFixed(0)}% of direct; each round trip is 2 relayed datagrams)`,
);
