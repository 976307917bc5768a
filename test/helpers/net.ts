/** Socket helpers for tests: a byte-exact reader, loopback servers, and a ferry server on port 0. */
import net from 'node:net';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { createServer, type FerryServer } from '../../src/server/index.js';
import type { ServerOptions } from '../../src/server/options.js';

/** Reads exact byte counts from a socket (or any Duplex), buffering whatever arrives early. */
export class Reader<S extends Duplex = net.Socket> {
  readonly socket: S;
  #buffer = Buffer.alloc(0);
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(socket: S) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake?.();
    });
    socket.on('end', () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on('error', (err) => {
      this.#error = err;
      this.#wake?.();
    });
    socket.on('close', () => {
      this.#ended = true;
      this.#wake?.();
    });
  }

  async #waitFor(pred: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (this.#ended || this.#error) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out with ${this.#buffer.length} bytes buffered`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Exactly n bytes; rejects if the socket ends first. */
  async read(n: number, timeoutMs = 5000): Promise<Buffer> {
    await this.#waitFor(() => this.#buffer.length >= n, timeoutMs);
    if (this.#buffer.length < n) {
      throw new Error(
        `socket ended after ${this.#buffer.length} of ${n} bytes${this.#error ? ` (${this.#error.message})` : ''}`,
      );
    }
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  /** Everything until the peer ends or closes. */
  async readToEnd(timeoutMs = 5000): Promise<Buffer> {
    await this.#waitFor(() => false, timeoutMs);
    const out = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    return out;
  }

  /** Resolves true when the peer ends/closes (with nothing more unread than `allowUnread`). */
  async closed(timeoutMs = 5000): Promise<boolean> {
    try {
      await this.#waitFor(() => false, timeoutMs);
    } catch {
      return false;
    }
    return true;
  }

  get buffered(): number {
    return this.#buffer.length;
  }
}

export async function connectTo(
  port: number,
  host = '127.0.0.1',
  options: { localAddress?: string } = {},
): Promise<net.Socket> {
  const socket = net.connect({ port, host, allowHalfOpen: true, ...options });
  await once(socket, 'connect');
  return socket;
}

/** A TCP echo server; with halfClose, it ends its side when the client ends. */
export async function startEcho(
  host = '127.0.0.1',
): Promise<{ server: net.Server; port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  server.listen(0, host);
  await once(server, 'listening');
  return {
    server,
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/**
 * A listener that counts the connections it gets and hangs up on each: where a test must show
 * that no outbound connection was made (hits() stays 0), or count the ones that were.
 */
export async function startTripwire(
  host = '127.0.0.1',
): Promise<{ port: number; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server = net.createServer((s) => {
    hits++;
    s.destroy();
  });
  server.listen(0, host);
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    hits: () => hits,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A ferry server on a loopback port 0. */
export async function startFerry(
  options: ServerOptions = {},
  host = '127.0.0.1',
): Promise<{ server: FerryServer; port: number; host: string; close: () => Promise<void> }> {
  const server = createServer(options);
  const [bound] = await server.listen({ host, port: 0 });
  return { server, port: bound!.port, host, close: () => server.close({ drainTimeout: 0 }) };
}

/** A port with nothing listening (bound then closed). */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  const s = net.createServer().listen(0, host);
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Whether [::1] is usable on this machine. */
export async function hasIPv6Loopback(): Promise<boolean> {
  const s = net.createServer();
  try {
    s.listen(0, '::1');
    await once(s, 'listening');
    return true;
  } catch {
    return false;
  } finally {
    s.close();
  }
}
