/** A tiny HTTP server on loopback for end-to-end fetches through the proxy. */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export async function startHttp(
  host = '127.0.0.1',
): Promise<{ port: number; url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const body = `hello from ${req.url ?? '/'}`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.listen(0, host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
