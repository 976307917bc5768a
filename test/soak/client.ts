/**
 * A minimal SOCKS5 client for the soak, written from RFC 1928/1929 (not ferry's client): opens a
 * tunnel with username/password and hands back the socket, or says how the server refused.
 */
import net from 'node:net';

export interface TunnelOptions {
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly host: string;
  readonly destPort: number;
  /** Command: 1 CONNECT (default), 3 UDP ASSOCIATE. */
  readonly command?: number;
  readonly localAddress?: string;
  readonly timeoutMs?: number;
}

export type TunnelResult =
  | {
      readonly ok: true;
      readonly socket: net.Socket;
      readonly bound: { host: string; port: number };
    }
  | {
      readonly ok: false;
      readonly stage: 'connect' | 'method' | 'auth' | 'reply' | 'timeout';
      readonly code: number;
    };

/** Reads exactly n octets (buffering extras), or rejects on close/timeout. */
class Exact {
  #buf = Buffer.alloc(0);
  #want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  readonly #socket: net.Socket;
  readonly #onData = (c: Buffer): void => {
    this.#buf = Buffer.concat([this.#buf, c]);
    this.#check();
  };
  readonly #onGone = (): void => {
    this.#want?.reject(new Error('closed'));
    this.#want = undefined;
  };

  constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', this.#onData);
    socket.on('close', this.#onGone);
    socket.on('end', this.#onGone);
  }

  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#want = { n, resolve, reject };
      this.#check();
    });
  }

  /** Stops reading; returns what was read past the handshake. */
  detach(): Buffer {
    this.#socket.off('data', this.#onData);
    this.#socket.off('close', this.#onGone);
    this.#socket.off('end', this.#onGone);
    return this.#buf;
  }

  #check(): void {
    const w = this.#want;
    if (w === undefined || this.#buf.length < w.n) return;
    this.#want = undefined;
    const out = this.#buf.subarray(0, w.n);
    this.#buf = this.#buf.subarray(w.n);
    w.resolve(out);
  }
}

function request(command: number, host: string, port: number): Buffer {
  const ip = host.split('.').map(Number);
  const b = Buffer.alloc(10);
  b.set([0x05, command, 0x00, 0x01, ...ip], 0);
  b.writeUInt16BE(port, 8);
  return b;
}

/** Greeting 05 01 02, RFC 1929 credentials and the request, pipelined; then the answers. */
export async function openTunnel(o: TunnelOptions): Promise<TunnelResult> {
  const socket = net.connect({
    port: o.port,
    host: '127.0.0.1',
    allowHalfOpen: true,
    ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}),
  });
  socket.on('error', () => undefined);
  const timer = setTimeout(() => socket.destroy(), o.timeoutMs ?? 10_000);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('close', () => reject(new Error('connect failed')));
    });
  } catch {
    clearTimeout(timer);
    return { ok: false, stage: 'connect', code: -1 };
  }
  const reader = new Exact(socket);
  const user = Buffer.from(o.user);
  const pass = Buffer.from(o.password);
  socket.write(
    Buffer.concat([
      Buffer.from([0x05, 0x01, 0x02]),
      Buffer.from([0x01, user.length]),
      user,
      Buffer.from([pass.length]),
      pass,
      request(o.command ?? 0x01, o.host, o.destPort),
    ]),
  );
  try {
    const method = await reader.read(2);
    if (method[1] !== 0x02) return fail(socket, timer, 'method', method[1] ?? -1);
    const auth = await reader.read(2);
    if (auth[1] !== 0x00) return fail(socket, timer, 'auth', auth[1] ?? -1);
    const reply = await reader.read(10);
    if (reply[1] !== 0x00) return fail(socket, timer, 'reply', reply[1] ?? -1);
    clearTimeout(timer);
    const rest = reader.detach();
    if (rest.length > 0) socket.unshift(rest);
    return {
      ok: true,
      socket,
      bound: { host: [...reply.subarray(4, 8)].join('.'), port: reply.readUInt16BE(8) },
    };
  } catch {
    clearTimeout(timer);
    socket.destroy();
    return { ok: false, stage: socket.destroyed ? 'timeout' : 'reply', code: -1 };
  }
}

function fail(
  socket: net.Socket,
  timer: NodeJS.Timeout,
  stage: 'method' | 'auth' | 'reply',
  code: number,
): TunnelResult {
  clearTimeout(timer);
  socket.destroy();
  return { ok: false, stage, code };
}
