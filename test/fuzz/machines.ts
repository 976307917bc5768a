/**
 * Fuzz targets for the sans-IO session machines: the SOCKS5 ServerSession (bytes from a hostile
 * client) and the ClientSession (bytes from a hostile proxy), driven exactly as their adapters
 * drive them. Properties: nothing but the protocol-error event ever comes out of malformed
 * input (no throw), buffered octets stay under the bound of the message awaited, and no byte
 * is dropped: the messages consumed plus the trailing data are the whole input.
 */
import { isDeepStrictEqual } from 'node:util';
import { AuthMethod, Command, Limits, Reply } from '../../src/protocol/constants.js';
import {
  NEED_DATA,
  PAUSED,
  ServerSession,
  type ServerState,
} from '../../src/protocol/server-session.js';
import { ClientSession, type ClientState } from '../../src/protocol/client-session.js';
import { MAX_REQUEST_LENGTH } from '../../src/protocol/socks5.js';
import { MAX_USER_PASS_REQUEST_LENGTH } from '../../src/protocol/user-pass.js';
import { UNSPECIFIED_ADDRESS, type SocksAddress } from '../../src/protocol/address.js';
import { SocksProtocolError } from '../../src/errors.js';
import { pieces } from './mutate.js';
import { expectTyped, fail, type FuzzTarget } from './target.js';

const MAX_GREETING_LENGTH = 2 + Limits.maxMethods;

/** The largest message each receiving state may wait for. */
const serverBound: Partial<Record<ServerState, number>> = {
  greeting: MAX_GREETING_LENGTH,
  'user-pass': MAX_USER_PASS_REQUEST_LENGTH,
  request: MAX_REQUEST_LENGTH,
};

const USER = new TextEncoder().encode('alice');
const PASSWORD = new TextEncoder().encode('secret');

function guard<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof Error && err.name === 'PropertyFailure') throw err;
    return fail(
      'no-throw',
      `${what} threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
    );
  }
}

/** The server machine with method `method` (00 or 02) on offer, as src/server/socks5.ts drives it. */
export function serverSessionTarget(name: string, method: 0x00 | 0x02): FuzzTarget {
  return {
    name,
    corpus: method === 0x00 ? ['socks5-client-noauth'] : ['socks5-client-userpass'],
    maxInput: 1200,
    weight: 2,
    check: (input, cuts) => {
      const session = new ServerSession();
      let received = 0;
      let consumedByEvents = 0;
      for (const piece of pieces(input, cuts)) {
        guard('receiveData', () => {
          session.receiveData(piece);
        });
        received += piece.length;
        for (;;) {
          const before = session.bufferedLength;
          const state = session.state;
          const event = guard('nextEvent', () => session.nextEvent());
          if (event === NEED_DATA) {
            const bound = serverBound[state];
            if (bound === undefined) fail('state-table', `NEED_DATA in state ${state}`);
            if (session.bufferedLength >= bound) {
              fail(
                'bounded-buffering',
                `${session.bufferedLength} octets buffered waiting in ${state}; bound ${bound}`,
              );
            }
            break;
          }
          if (event === PAUSED)
            fail('state-table', `PAUSED in ${state} though the server answered everything`);
          consumedByEvents += before - session.bufferedLength;
          switch (event.type) {
            case 'greeting': {
              const chosen = event.methods.includes(method) ? method : AuthMethod.NoAcceptable;
              guard('send method', () => session.send({ type: 'method', method: chosen }));
              if (chosen === AuthMethod.NoAcceptable) return;
              break;
            }
            case 'credentials': {
              const ok =
                isDeepStrictEqual(event.username, USER) &&
                isDeepStrictEqual(event.password, PASSWORD);
              guard('send auth-result', () => session.send({ type: 'auth-result', success: ok }));
              if (!ok) return;
              break;
            }
            case 'request': {
              // Succeed for even ports, refuse odd ones: both paths of the table get exercised.
              const ok = event.destination.port % 2 === 0;
              const reply = ok ? Reply.Succeeded : Reply.ConnectionRefused;
              guard('send reply', () =>
                session.send({ type: 'reply', reply, bound: UNSPECIFIED_ADDRESS }),
              );
              if (!ok) return;
              if (event.command === Command.Bind) {
                guard('send 2nd reply', () =>
                  session.send({ type: 'reply', reply, bound: UNSPECIFIED_ADDRESS }),
                );
              }
              const trailing = guard('takeTrailingData', () => session.takeTrailingData());
              // Never drop a byte: messages + trailing data = everything received so far.
              if (consumedByEvents + trailing.length !== received) {
                fail(
                  'no-byte-dropped',
                  `${consumedByEvents} consumed + ${trailing.length} trailing ≠ ${received} received`,
                );
              }
              if (!isDeepStrictEqual(trailing, input.slice(consumedByEvents, received))) {
                fail('no-byte-dropped', 'trailing data differs from the octets after the request');
              }
              return;
            }
            case 'protocol-error':
              expectTyped(event.error, SocksProtocolError);
              if (!(event.response instanceof Uint8Array))
                fail('protocol-error', 'response is not octets');
              if (session.state !== 'failed')
                fail('state-table', `state ${session.state} after a protocol error`);
              return;
          }
        }
      }
    },
  };
}

const clientBound = (version: 4 | 5): Partial<Record<ClientState, number>> => ({
  'method-selection': 2,
  'user-pass-status': 2,
  reply: version === 5 ? MAX_REQUEST_LENGTH : 8,
  'bind-waiting': version === 5 ? MAX_REQUEST_LENGTH : 8,
});

const DESTINATION: SocksAddress = { type: 'domain', host: 'example.com', port: 443 };

/** The client machine receiving a hostile proxy's bytes. */
export function clientSessionTarget(
  name: string,
  version: 4 | 5,
  command: typeof Command.Connect | typeof Command.Bind,
): FuzzTarget {
  const bound = clientBound(version);
  return {
    name,
    corpus: version === 5 ? ['socks5-proxy-replies'] : ['socks4-proxy-replies'],
    maxInput: 1200,
    check: (input, cuts) => {
      const session = new ClientSession({ version });
      const request = { type: 'request' as const, command, destination: DESTINATION };
      if (version === 5) {
        guard('send greeting', () =>
          session.send({ type: 'greeting', methods: [AuthMethod.NoAuth, AuthMethod.UserPass] }),
        );
      } else {
        guard('send request', () => session.send(request));
      }
      let received = 0;
      let consumed = 0;
      for (const piece of pieces(input, cuts)) {
        guard('receiveData', () => {
          session.receiveData(piece);
        });
        received += piece.length;
        for (;;) {
          const before = session.bufferedLength;
          const state = session.state;
          const event = guard('nextEvent', () => session.nextEvent());
          if (event === NEED_DATA) {
            const limit = bound[state];
            if (limit === undefined) fail('state-table', `NEED_DATA in state ${state}`);
            if (session.bufferedLength >= limit) {
              fail(
                'bounded-buffering',
                `${session.bufferedLength} octets buffered in ${state}; bound ${limit}`,
              );
            }
            break;
          }
          consumed += before - session.bufferedLength;
          if (event === PAUSED) {
            if (session.state === 'request') {
              guard('send request', () => session.send(request));
              continue;
            }
            if (session.state === 'user-pass') {
              guard('send credentials', () =>
                session.send({ type: 'credentials', username: 'alice', password: 'secret' }),
              );
              continue;
            }
            if (session.state === 'established') {
              const trailing = guard('takeTrailingData', () => session.takeTrailingData());
              if (consumed + trailing.length !== received) {
                fail(
                  'no-byte-dropped',
                  `${consumed} consumed + ${trailing.length} trailing ≠ ${received} received`,
                );
              }
              return;
            }
            if (session.state === 'closed' || session.state === 'method-specific') return;
            fail('state-table', `PAUSED in ${session.state}`);
          }
          if (event.type === 'protocol-error') {
            expectTyped(event.error, SocksProtocolError);
            if (session.state !== 'failed')
              fail('state-table', `state ${session.state} after a protocol error`);
            return;
          }
        }
      }
    },
  };
}
