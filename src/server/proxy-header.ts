/**
 * A connection from a trusted load balancer starts with a PROXY protocol header (v1 or v2) that
 * names the real client. Read it (under the handshake deadline, bounded), make the client it names
 * the session's client — for rules, limits, logs and metrics — then hand the rest of the bytes
 * to dialect detection.
 */
import { decodeProxyHeader } from '../protocol/proxy-protocol.js';
import { NEED_MORE } from '../protocol/decode.js';
import { ByteQueue } from '../protocol/byte-queue.js';
import { SocksProtocolError } from '../errors.js';
import { formatHostPort } from '../protocol/address.js';
import type { Connection } from './connection.js';

/**
 * `admit(conn)` runs once the client is known (per-IP limit); false closes the connection.
 * `next(rest)` continues with the bytes after the header.
 */
export function readProxyHeader(
  conn: Connection,
  admit: (conn: Connection) => boolean,
  next: (rest: Uint8Array) => void,
): void {
  const socket = conn.socket;
  const buffer = new ByteQueue();
  const onData = (chunk: Buffer): void => {
    buffer.push(chunk);
    let result;
    try {
      result = decodeProxyHeader(buffer.view());
    } catch (err) {
      detach();
      conn.closeWith(
        undefined,
        'bad-proxy-header',
        err instanceof SocksProtocolError ? err.code : 'ERR_SOCKS_BAD_MESSAGE',
      );
      return;
    }
    if (result === NEED_MORE) return;
    detach();
    const { source } = result.value;
    if (source !== undefined) {
      const record = conn.record;
      record.via = formatHostPort(record.clientAddress, record.clientPort);
      record.clientAddress = source.address;
      record.clientPort = source.port;
    }
    if (!admit(conn)) return;
    buffer.consume(result.length);
    next(buffer.take());
  };
  const onEnd = (): void => {
    detach();
    conn.closeWith(undefined, 'client-closed');
  };
  const detach = (): void => {
    socket.off('data', onData);
    socket.off('end', onEnd);
  };
  socket.on('data', onData);
  socket.once('end', onEnd);
}
