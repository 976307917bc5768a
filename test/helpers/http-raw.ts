/**
 * Raw HTTP for proxy tests: a hand-written response reader (status line, fields, Content-Length /
 * chunked / close-delimited bodies) on top of the byte-exact Reader, and an origin server whose
 * routes exercise the proxy (header echo, body echo, chunked, stalled, broken responses).
 */
import http from 'node:http';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Reader } from './net.js';

export interface RawResponse {
  readonly status: number;
  readonly statusLine: string;
  /** Lower-case names; repeated fields joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly rawHead: string;
  readonly body: Buffer;
}

async function readLine(reader: Reader, timeoutMs: number): Promise<string> {
  let line = '';
  for (;;) {
    const b = await reader.read(1, timeoutMs);
    line += b.toString('latin1');
    if (line.endsWith('\r\n')) return line.slice(0, -2);
    if (line.length > 65536) throw new Error('line too long');
  }
}

/**
 * Reads one response. `head`: the request was HEAD (no body). Interim 1xx responses are returned
 * like any other (call again for the final one).
 */
export async function readResponse(
  reader: Reader,
  options: { head?: boolean; timeoutMs?: number } = {},
): Promise<RawResponse> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const statusLine = await readLine(reader, timeoutMs);
  const status = Number(statusLine.split(' ')[1]);
  const headers: Record<string, string> = {};
  let rawHead = `${statusLine}\r\n`;
  for (;;) {
    const line = await readLine(reader, timeoutMs);
    rawHead += `${line}\r\n`;
    if (line === '') break;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let body: Buffer = Buffer.alloc(0);
  const noBody = options.head === true || status === 204 || status === 304 || status < 200;
  if (noBody) {
    // nothing
  } else if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const size = parseInt(await readLine(reader, timeoutMs), 16);
      if (size === 0) {
        while ((await readLine(reader, timeoutMs)) !== '');
        break;
      }
      parts.push(await reader.read(size, timeoutMs));
      await readLine(reader, timeoutMs);
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    body = await reader.read(Number(headers['content-length']), timeoutMs);
  } else {
    body = await reader.readToEnd(timeoutMs);
  }
  return { status, statusLine, headers, rawHead, body };
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export interface Origin {
  readonly port: number;
  /** Request heads the origin received (raw header lines, in order). */
  readonly seen: { method: string; url: string; rawHeaders: string[] }[];
  /** Connections the origin accepted. */
  connections(): number;
  /** Body octets `/big` has handed to its sockets so far. */
  bigSent(): number;
  close(): Promise<void>;
}

/**
 * Routes: `/headers` echoes the request head as JSON; `/echo` streams the request body back
 * (chunked, no length); `/sha` answers the body's length, SHA-256 and framing fields as JSON;
 * `/chunked` answers in two chunks without a length;
 * `/stall` never answers; `/break` promises 1000 octets, sends 10 and resets; `/big?n=` sends n
 * octets with a Content-Length; anything else `hello from <path>`.
 */
export async function startOrigin(host = '127.0.0.1'): Promise<Origin> {
  const seen: Origin['seen'] = [];
  let connections = 0;
  let bigSent = 0;
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders });
    const url = new URL(req.url ?? '/', 'http://origin');
    switch (url.pathname) {
      case '/headers': {
        const body = JSON.stringify({
          method: req.method,
          url: req.url,
          rawHeaders: req.rawHeaders,
        });
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
        return;
      }
      case '/echo':
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        req.pipe(res);
        return;
      case '/sha': {
        const h = createHash('sha256');
        let n = 0;
        req.on('data', (c: Buffer) => {
          n += c.length;
          h.update(c);
        });
        req.on('end', () => {
          const body = JSON.stringify({
            length: n,
            sha256: h.digest('hex'),
            te: req.headers['transfer-encoding'] ?? null,
            cl: req.headers['content-length'] ?? null,
          });
          res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
          res.end(body);
        });
        return;
      }
      case '/chunked':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('part one, ');
        setTimeout(() => res.end('part two'), 20);
        return;
      case '/stall':
        return;
      case '/break':
        res.writeHead(200, { 'content-length': '1000' });
        res.write('0123456789');
        setTimeout(() => req.socket.destroy(), 50);
        return;
      case '/big': {
        const n = Number(url.searchParams.get('n') ?? '0');
        res.writeHead(200, { 'content-length': n });
        const chunk = Buffer.alloc(Math.min(n, 256 * 1024), 0x61);
        let left = n;
        const pump = (): void => {
          while (left > 0) {
            const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
            left -= piece.length;
            bigSent += piece.length;
            if (!res.write(piece)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      case '/nocontent':
        res.writeHead(204);
        res.end();
        return;
      default: {
        const body = `hello from ${req.url ?? '/'}`;
        res.writeHead(200, {
          'content-type': 'text/plain',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
      }
    }
  });
  server.on('connection', () => connections++);
  server.listen(0, host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    connections: () => connections,
    bigSent: () => bigSent,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
