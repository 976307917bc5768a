// A minimal SOCKS5 + SOCKS4/4a CONNECT server for client tests, built on the lead's pure
// ServerSession and our SOCKS4 codec: enough for agents, fetch, chains and `ferry connect` until
// ferry's own server (src/server) is on main. It is deliberately small: CONNECT only.
import net from 'node:net';
import { ServerSession } from '../../src/protocol/server-session.js';
import { AuthMethod, Reply } from '../../src/protocol/constants.js';
import { socksAddress, UNSPECIFIED_ADDRESS } from '../../src/protocol/address.js';
import { NEED_MORE } from '../../src/protocol/decode.js';
import {
  decodeSocks4Request,
  encodeSocks4Reply,
  Socks4Command,
  Socks4Reply,
} from '../../src/protocol/socks4.js';
import { replyForError, SocksProtocolError } from '../../src/errors.js';

export interface MiniSocks {
  readonly port: number;
  readonly url: string;
  /** Accepted client connections. */
  readonly connections: number;
  /** Requests seen: "connect host:port" (SOCKS5) or "socks4 host:port user" lines. */
  readonly requests: readonly string[];
  close(): Promise<void>;
}

function splice(client: net.Socket, upstream: net.Socket, pending: Uint8Array): void {
  if (pending.length > 0) upstream.write(pending);
  client.pipe(upstream);
  upstream.pipe(client);
  upstream.on('error', () => client.destroy());
  client.on('error', () => upstream.destroy());
}

function dial(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Starts the server; `users` turns on RFC 1929 (username → password). */
export async function startMiniSocks(
  options: { users?: Record<string, string>; host?: string } = {},
): Promise<MiniSocks> {
  const state = { connections: 0, requests: [] as string[] };
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    state.connections++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    client.once('data', (first: Buffer) => {
      client.pause();
      if (first[0] === 0x04) socks4(client, first);
      else socks5(client, first);
    });
  });

  function socks5(client: net.Socket, first: Buffer): void {
    const session = new ServerSession();
    const onData = (chunk: Buffer): void => {
      session.receiveData(chunk);
      for (let e = session.nextEvent(); typeof e === 'object'; e = session.nextEvent()) {
        switch (e.type) {
          case 'greeting': {
            const want = options.users ? AuthMethod.UserPass : AuthMethod.NoAuth;
            client.write(
              session.send({
                type: 'method',
                method: e.methods.includes(want) ? want : AuthMethod.NoAcceptable,
              }),
            );
            if (!e.methods.includes(want)) client.end();
            break;
          }
          case 'credentials': {
            const user = Buffer.from(e.username).toString();
            const ok = options.users?.[user] === Buffer.from(e.password).toString();
            client.write(session.send({ type: 'auth-result', success: ok }));
            if (!ok) client.end();
            break;
          }
          case 'request': {
            client.off('data', onData);
            client.pause();
            state.requests.push(`connect ${e.destination.host}:${e.destination.port}`);
            if (e.command !== 0x01) {
              client.end(
                session.send({
                  type: 'reply',
                  reply: Reply.CommandNotSupported,
                  bound: UNSPECIFIED_ADDRESS,
                }),
              );
              return;
            }
            dial(e.destination.host, e.destination.port).then(
              (upstream) => {
                const local = upstream.address() as net.AddressInfo;
                client.write(
                  session.send({
                    type: 'reply',
                    reply: Reply.Succeeded,
                    bound: socksAddress(local.address, local.port),
                  }),
                );
                splice(client, upstream, session.takeTrailingData());
                client.resume();
              },
              (err: unknown) => {
                client.end(
                  session.send({
                    type: 'reply',
                    reply: replyForError(err),
                    bound: UNSPECIFIED_ADDRESS,
                  }),
                );
              },
            );
            return;
          }
          case 'protocol-error':
            client.end(e.response);
            return;
        }
      }
    };
    client.on('data', onData);
    onData(first);
    client.resume();
  }

  function socks4(client: net.Socket, first: Buffer): void {
    let buffer: Buffer = first;
    const onData = (chunk?: Buffer): void => {
      if (chunk) buffer = Buffer.concat([buffer, chunk]);
      let r;
      try {
        r = decodeSocks4Request(buffer);
      } catch (err) {
        if (!(err instanceof SocksProtocolError)) throw err;
        client.end(encodeSocks4Reply({ code: Socks4Reply.Rejected }));
        return;
      }
      if (r === NEED_MORE) return;
      client.off('data', onData);
      client.pause();
      const { destination, command, userId } = r.value;
      state.requests.push(`socks4 ${destination.host}:${destination.port} ${userId}`);
      if (command !== Socks4Command.Connect) {
        client.end(encodeSocks4Reply({ code: Socks4Reply.Rejected }));
        return;
      }
      const rest = buffer.subarray(r.length);
      dial(destination.host, destination.port).then(
        (upstream) => {
          client.write(encodeSocks4Reply({ code: Socks4Reply.Granted }));
          splice(client, upstream, rest);
          client.resume();
        },
        () => client.end(encodeSocks4Reply({ code: Socks4Reply.Rejected })),
      );
    };
    client.on('data', onData);
    onData();
    client.resume();
  }

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    url: `socks5h://${host.includes(':') ? `[${host}]` : host}:${port}`,
    get connections() {
      return state.connections;
    },
    requests: state.requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
