/**
 * The targets the proxies connect to, in their own process: TCP echo (on several ports, so that a
 * proxy's outgoing connections spread over several 4-tuples when 100 000 tunnels are held), TCP
 * discard (upload sink), TCP source (download: writes one reused buffer as fast as the peer reads)
 * and UDP echo. Prints nothing; sends `{ ready: Ports }` over IPC.
 */
import net from 'node:net';
import dgram from 'node:dgram';

export interface TargetPorts {
  readonly echo: number[];
  readonly discard: number;
  readonly source: number;
  readonly udpEcho: number;
}

const HOST = '127.0.0.1';
const ECHO_PORTS = Number(process.env.BENCH_ECHO_PORTS ?? 8);
const sourceChunk = Buffer.alloc(1024 * 1024, 0x62);
const ignore = (): void => undefined;

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // A deep backlog: the tunnels/s and idle tests open connections in bursts.
    server.listen({ host: HOST, port: 0, backlog: 4096 }, () => {
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

const echo = net.createServer((s) => {
  s.setNoDelay(true);
  s.on('data', (d) => s.write(d));
  s.on('error', ignore);
});

const discard = net.createServer((s) => {
  s.on('error', ignore);
  s.resume();
});

const source = net.createServer((s) => {
  s.on('error', ignore);
  s.resume(); // a peer's bytes (none expected) must not stall us
  const pump = (): void => {
    while (!s.destroyed && s.write(sourceChunk));
  };
  s.on('drain', pump);
  pump();
});

const udp = dgram.createSocket('udp4');
udp.on('message', (msg, rinfo) => {
  udp.send(msg, rinfo.port, rinfo.address);
});
udp.on('error', ignore);

async function main(): Promise<void> {
  const echoPorts: number[] = [];
  for (let i = 0; i < ECHO_PORTS; i++) {
    // One server object can listen only once; extra ports share the connection handler.
    const server = i === 0 ? echo : net.createServer(echo.listeners('connection')[0] as () => void);
    echoPorts.push(await listen(server));
  }
  const ports: TargetPorts = {
    echo: echoPorts,
    discard: await listen(discard),
    source: await listen(source),
    udpEcho: await new Promise<number>((resolve) => {
      udp.bind(0, HOST, () => {
        resolve(udp.address().port);
      });
    }),
  };
  process.send?.({ ready: ports });
}

process.on('disconnect', () => process.exit(0));
void main();
