/** UDP helpers for tests: an echo server and an endpoint that queues what it receives. */
import dgram from 'node:dgram';
import { once } from 'node:events';

export interface Received {
  readonly msg: Buffer;
  readonly address: string;
  readonly port: number;
}

/** A bound UDP socket with a queue of received datagrams and a `receive()` with a deadline. */
export class UdpEndpoint {
  readonly socket: dgram.Socket;
  readonly #queue: Received[] = [];
  #wake: (() => void) | undefined;

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (msg, rinfo) => {
      this.#queue.push({ msg, address: rinfo.address, port: rinfo.port });
      this.#wake?.();
    });
  }

  /** Binds to host:0 (`::` binds dual-stack). */
  static async open(host: string): Promise<UdpEndpoint> {
    const socket = dgram.createSocket({
      type: host.includes(':') ? 'udp6' : 'udp4',
      ipv6Only: false,
    });
    socket.bind(0, host);
    await once(socket, 'listening');
    return new UdpEndpoint(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(msg: Buffer, port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.send(msg, port, host, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** The next datagram; rejects after `timeoutMs`. */
  async receive(timeoutMs = 3000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no datagram within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    return this.#queue.shift()!;
  }

  /** Datagrams received and not yet taken. */
  get queued(): number {
    return this.#queue.length;
  }

  close(): void {
    this.socket.close();
  }
}

/** A UDP echo server: sends every datagram back to its source. */
export async function startUdpEcho(
  host = '127.0.0.1',
  recvBufferSize?: number,
): Promise<{ port: number; received: () => number; close: () => void }> {
  const socket = dgram.createSocket({
    type: host.includes(':') ? 'udp6' : 'udp4',
    ipv6Only: false,
    ...(recvBufferSize === undefined ? {} : { recvBufferSize }),
  });
  let count = 0;
  socket.on('message', (msg, rinfo) => {
    count++;
    socket.send(msg, rinfo.port, rinfo.address);
  });
  socket.bind(0, host);
  await once(socket, 'listening');
  return {
    port: socket.address().port,
    received: () => count,
    close: () => socket.close(),
  };
}

/** Resolves true once a UDP socket can bind host:port (polled up to `ms`). */
export async function udpPortFree(port: number, host: string, ms = 1000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const free = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ipv6Only: false });
      s.once('error', () => {
        s.close();
        resolve(false);
      });
      s.bind(port, host, () => {
        s.close();
        resolve(true);
      });
    });
    if (free) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
