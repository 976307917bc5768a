// Loopback servers for client tests: TCP echo, UDP echo, HTTP and HTTPS, and a scripted fake
// proxy that answers with whatever bytes a test gives it (or nothing at all).
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

export const TEST_CERT = readFileSync(new URL('../fixtures/test-cert.pem', import.meta.url));
export const TEST_KEY = readFileSync(new URL('../fixtures/test-key.pem', import.meta.url));

export interface Closable {
  readonly port: number;
  close(): Promise<void>;
}

/** Tracks sockets so close() does not wait for keep-alive connections. */
function tracked(server: net.Server): () => Promise<void> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => {
        resolve();
      });
    });
}

async function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as net.AddressInfo).port;
}

/** Echoes every byte back; half-close is passed on (end after the peer ends). */
export async function startEchoServer(
  host = '127.0.0.1',
): Promise<Closable & { connections: number }> {
  const state = { connections: 0 };
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    state.connections++;
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  const close = tracked(server);
  const port = await listen(server, host);
  return {
    port,
    close,
    get connections() {
      return state.connections;
    },
  };
}

/** Sends `greeting` as soon as a client connects, then echoes. */
export async function startBannerServer(greeting: string): Promise<Closable> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.write(greeting);
    socket.pipe(socket);
  });
  const close = tracked(server);
  return { port: await listen(server), close };
}

/** Answers each datagram with `echo:` + its data. */
export async function startUdpEchoServer(type: 'udp4' | 'udp6' = 'udp4'): Promise<Closable> {
  const socket = dgram.createSocket(type);
  socket.on('message', (msg, rinfo) => {
    socket.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) =>
    socket.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', resolve),
  );
  return {
    port: socket.address().port,
    close: () =>
      new Promise<void>((resolve) =>
        socket.close(() => {
          resolve();
        }),
      ),
  };
}

function answer(req: http.IncomingMessage, res: http.ServerResponse): void {
  const body = `hello from ${req.method ?? '?'} ${req.url ?? '?'} host=${req.headers.host ?? ''}`;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** An HTTP server that counts TCP connections (to see keep-alive at work). */
export async function startHttpServer(): Promise<Closable & { connections: number }> {
  const state = { connections: 0 };
  const server = http.createServer(answer);
  server.on('connection', () => state.connections++);
  const close = tracked(server);
  return {
    port: await listen(server),
    close,
    get connections() {
      return state.connections;
    },
  };
}

/** An HTTPS server with the test-only self-signed certificate (CN=localhost). */
export async function startHttpsServer(): Promise<Closable & { connections: number }> {
  const state = { connections: 0 };
  const server = https.createServer({ cert: TEST_CERT, key: TEST_KEY }, answer);
  server.on('connection', () => state.connections++);
  const close = tracked(server);
  return {
    port: await listen(server),
    close,
    get connections() {
      return state.connections;
    },
  };
}

/**
 * A fake proxy: `script` gets each accepted socket and does whatever the test needs (send
 * garbage, say nothing, close).
 */
export async function startFakeProxy(script: (socket: net.Socket) => void): Promise<Closable> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    script(socket);
  });
  const close = tracked(server);
  return { port: await listen(server), close };
}
