/**
 * The load generator's SOCKS5 client: the smallest thing that opens a CONNECT or UDP ASSOCIATE
 * tunnel (RFC 1928, method 00 only, IPv4 only — everything here is loopback). Written from the
 * RFC rather than with ferry's codec, so that ferry is not measured with its own ruler.
 *
 * Reads go through `onread` into one buffer shared by every socket of the process (no per-chunk
 * allocation); a data handler sees a view that is only valid during the call.
 */
import net from 'node:net';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** Called with a view into the shared read buffer; copy what must outlive the call. */
export type DataHandler = (chunk: Buffer) => void;

const VERSION = 0x05;
const METHOD_NONE = 0x00;
const RESERVED = 0x00;
const ATYP_IPV4 = 0x01;
const ATYP_DOMAIN = 0x03;
const ATYP_IPV6 = 0x04;
const REPLY_SUCCEEDED = 0x00;
export const CMD_CONNECT = 0x01;
export const CMD_UDP_ASSOCIATE = 0x03;

/** RFC 1928 §3: VER=05 NMETHODS=01 METHODS=[00 no authentication]. */
const GREETING = Buffer.from([VERSION, 0x01, METHOD_NONE]);

/** RFC 1928 §4: VER CMD RSV ATYP=01 DST.ADDR(4) DST.PORT(2). */
export function requestBytes(command: number, dest: Endpoint): Buffer {
  const octets = dest.host.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !(o >= 0 && o <= 255))) {
    throw new Error(`bench client speaks IPv4 only, got ${dest.host}`);
  }
  return Buffer.from([
    VERSION,
    command,
    RESERVED,
    ATYP_IPV4,
    ...octets,
    dest.port >> 8,
    dest.port & 0xff,
  ]);
}

/** Length of a complete RFC 1928 §6 reply starting at buf[0], or 0 if more bytes are needed. */
function replyLength(buf: Buffer): number {
  if (buf.length < 5) return 0;
  const atyp = buf[3];
  const len =
    atyp === ATYP_IPV4 ? 10 : atyp === ATYP_IPV6 ? 22 : atyp === ATYP_DOMAIN ? 7 + buf[4]! : -1;
  if (len < 0) throw new Error(`reply with unknown ATYP ${String(atyp)}`);
  return buf.length >= len ? len : 0;
}

function boundEndpoint(reply: Buffer): Endpoint {
  const port = reply.readUInt16BE(reply.length - 2);
  if (reply[3] === ATYP_IPV4)
    return { host: `${reply[4]}.${reply[5]}.${reply[6]}.${reply[7]}`, port };
  return { host: '', port }; // only UDP ASSOCIATE uses it; loopback proxies answer IPv4
}

export class Tunnel {
  /** Replaceable: receives payload bytes once the tunnel is open (and any sent with the reply). */
  onData: DataHandler;
  /** Called once when the socket ends, errors or closes after the tunnel opened. */
  onClose: (err: Error | undefined) => void = () => undefined;
  /** Milliseconds from connect() to the success reply (to TCP connect for a direct tunnel). */
  handshakeMs = 0;
  /** The reply's BND.ADDR/BND.PORT (the UDP relay for UDP ASSOCIATE). */
  bound: Endpoint | undefined;
  closed = false;

  constructor(
    readonly socket: net.Socket,
    onData: DataHandler,
  ) {
    this.onData = onData;
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface OpenOptions {
  /** The proxy; null for a direct TCP connection to `dest`. */
  readonly proxy: Endpoint | null;
  readonly dest: Endpoint;
  readonly command?: number;
  readonly localAddress?: string | undefined;
  readonly readBuffer: Buffer;
  readonly onData: DataHandler;
  readonly timeoutMs: number;
}

/**
 * Connects, negotiates method 00 and sends the request after the method selection arrives (as
 * curl does — not pipelined), and resolves once the success reply is in.
 * @throws Error on a failure reply, a socket error, a close during the handshake or the timeout.
 */
export function openTunnel(opts: OpenOptions): Promise<Tunnel> {
  return new Promise<Tunnel>((resolve, reject) => {
    const start = performance.now();
    const target = opts.proxy ?? opts.dest;
    // 0: awaiting method selection, 1: awaiting reply, 2: open.
    let stage = opts.proxy === null ? 2 : 0;
    let pending: Buffer | null = null;
    let settled = false;

    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const open = (rest: Buffer | null): void => {
      settled = true;
      clearTimeout(timer);
      stage = 2;
      tunnel.handshakeMs = performance.now() - start;
      resolve(tunnel);
      if (rest !== null && rest.length > 0) tunnel.onData(rest);
    };
    const handshake = (chunk: Buffer): void => {
      let buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
      pending = null;
      if (stage === 0) {
        if (buf.length < 2) {
          pending = Buffer.from(buf);
          return;
        }
        if (buf[0] !== VERSION || buf[1] !== METHOD_NONE) {
          fail(
            new Error(`proxy refused method 00 (answered ${buf.subarray(0, 2).toString('hex')})`),
          );
          return;
        }
        stage = 1;
        socket.write(requestBytes(opts.command ?? CMD_CONNECT, opts.dest));
        buf = buf.subarray(2);
        if (buf.length === 0) return;
      }
      let len: number;
      try {
        len = replyLength(buf);
      } catch (err) {
        fail(err as Error);
        return;
      }
      if (len === 0) {
        pending = Buffer.from(buf);
        return;
      }
      if (buf[1] !== REPLY_SUCCEEDED) {
        fail(new Error(`proxy replied REP=${String(buf[1])}`));
        return;
      }
      tunnel.bound = boundEndpoint(buf.subarray(0, len));
      open(buf.subarray(len));
    };

    const socket = net.connect({
      host: target.host,
      port: target.port,
      ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }),
      noDelay: true,
      onread: {
        buffer: opts.readBuffer,
        callback: (n: number, buf: Uint8Array): boolean => {
          const chunk = (buf as Buffer).subarray(0, n);
          if (stage === 2) tunnel.onData(chunk);
          else handshake(chunk);
          return true;
        },
      },
    });
    const tunnel = new Tunnel(socket, opts.onData);
    const timer = setTimeout(() => {
      fail(new Error(`handshake timed out after ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    socket.on('connect', () => {
      if (opts.proxy === null) open(null);
      else socket.write(GREETING);
    });
    const finish = (err: Error | undefined): void => {
      if (!settled) {
        fail(err ?? new Error('connection closed during the handshake'));
        return;
      }
      if (tunnel.closed) return;
      tunnel.closed = true;
      tunnel.onClose(err);
    };
    socket.on('error', (err) => {
      finish(err);
    });
    socket.on('end', () => {
      finish(undefined);
    });
    socket.on('close', () => {
      finish(undefined);
    });
  });
}
