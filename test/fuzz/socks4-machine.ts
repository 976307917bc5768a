/**
 * The SOCKS4/4a server machine (src/protocol/socks4-server-session.ts) driven as
 * src/server/socks4.ts drives it, with a hostile client's bytes. Properties: malformed input is a
 * `protocol-error` event with the 8-octet 5B reply (never a throw), buffered octets stay under
 * the request's bound while waiting, and no byte is dropped: the request plus the trailing data
 * are everything received.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  NEED_DATA,
  PAUSED,
  Socks4ServerSession,
} from '../../src/protocol/socks4-server-session.js';
import { MAX_SOCKS4_REQUEST_LENGTH } from '../../src/protocol/socks4.js';
import { SocksProtocolError } from '../../src/errors.js';
import { pieces } from './mutate.js';
import { expectTyped, fail, type FuzzTarget } from './target.js';

const REJECTED_REPLY = Uint8Array.of(0x00, 0x5b, 0, 0, 0, 0, 0, 0);

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

export const socks4SessionTarget: FuzzTarget = {
  name: 'server-session-socks4',
  corpus: ['socks4-client'],
  maxInput: 1200,
  check: (input, cuts) => {
    const session = new Socks4ServerSession();
    let received = 0;
    for (const piece of pieces(input, cuts)) {
      guard('receiveData', () => {
        session.receiveData(piece);
      });
      received += piece.length;
      const before = session.bufferedLength;
      const event = guard('nextEvent', () => session.nextEvent());
      if (event === NEED_DATA) {
        if (session.bufferedLength >= MAX_SOCKS4_REQUEST_LENGTH)
          fail(
            'bounded-buffering',
            `${session.bufferedLength} octets buffered; bound ${MAX_SOCKS4_REQUEST_LENGTH}`,
          );
        continue;
      }
      if (event === PAUSED) fail('state-table', `PAUSED in ${session.state} before a reply`);
      if (event.type === 'protocol-error') {
        expectTyped(event.error, SocksProtocolError);
        if (!isDeepStrictEqual(event.response, REJECTED_REPLY))
          fail('protocol-error', 'the response is not 00 5B and six zeros');
        if (session.state !== 'failed')
          fail('state-table', `state ${session.state} after an error`);
        return;
      }
      const requestLength = before - session.bufferedLength;
      // Grant even ports, refuse odd ones: both rows of the table.
      const granted = event.destination.port % 2 === 0;
      const reply = guard('send', () =>
        session.send({ type: 'reply', granted, bound: { address: '127.0.0.1', port: 1080 } }),
      );
      if (reply.length !== 8 || reply[1] !== (granted ? 0x5a : 0x5b)) fail('reply', 'bad reply');
      if (!granted) return;
      if (event.command === 0x02) {
        guard('send 2nd', () => session.send({ type: 'reply', granted: true }));
      }
      const trailing = guard('takeTrailingData', () => session.takeTrailingData());
      if (requestLength + trailing.length !== received)
        fail('no-byte-dropped', `${requestLength} + ${trailing.length} ≠ ${received}`);
      if (!isDeepStrictEqual(trailing, input.slice(requestLength, received)))
        fail('no-byte-dropped', 'trailing data differs from the octets after the request');
      return;
    }
  },
};
