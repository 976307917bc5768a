/**
 * The HTTP proxy server machine (src/protocol/http-server-session.ts) driven as
 * src/server/http.ts drives it, with a hostile client's bytes: requests are answered (CONNECT to
 * an even port becomes a tunnel, an odd one a 403 with keep-alive; a forwarded request gets an
 * empty 200 once its body has ended), pipelined requests come out one exchange at a time.
 * Properties: malformed input is a `protocol-error` event with an HTTP response (never a throw);
 * while waiting for a head or a body line the buffer stays under its bound; no byte is dropped:
 * at the tunnel, the octets the events consumed plus the trailing data are all that was received.
 */
import { isDeepStrictEqual } from 'node:util';
import { HttpServerSession, NEED_DATA, PAUSED } from '../../src/protocol/http-server-session.js';
import { ChunkedLimits } from '../../src/protocol/http-body.js';
import { SocksProtocolError } from '../../src/errors.js';
import { pieces } from './mutate.js';
import { expectTyped, fail, type FuzzTarget } from './target.js';

const MAX_HEAD = 512;
/** Exchanges per input at most (each costs a few events). */
const MAX_EXCHANGES = 32;

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

export const httpSessionTarget: FuzzTarget = {
  name: 'server-session-http',
  corpus: ['http-client-noauth', 'http-request-head'],
  maxInput: 1200,
  check: (input, cuts) => {
    const session = new HttpServerSession(MAX_HEAD);
    let received = 0;
    let consumed = 0;
    let exchanges = 0;
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
          const bound = state === 'head' ? MAX_HEAD : ChunkedLimits.maxTrailers + 2;
          if (session.bufferedLength > bound)
            fail(
              'bounded-buffering',
              `${session.bufferedLength} octets buffered in ${state}; bound ${bound}`,
            );
          break;
        }
        if (event === PAUSED)
          fail('state-table', `PAUSED in ${session.state} though every request was answered`);
        consumed += before - session.bufferedLength;
        switch (event.type) {
          case 'protocol-error': {
            expectTyped(event.error, SocksProtocolError);
            const text = Buffer.from(event.response).toString('latin1');
            if (!new RegExp(`^HTTP/1\\.1 ${event.error.status} `).test(text))
              fail(
                'protocol-error',
                `response ${JSON.stringify(text.slice(0, 40))} for ${event.error.status}`,
              );
            if (session.state !== 'failed')
              fail('state-table', `state ${session.state} after an error`);
            return;
          }
          case 'request': {
            if (++exchanges > MAX_EXCHANGES) return;
            const r = event.request;
            if (r.kind === 'connect') {
              if (r.target.port % 2 === 0) {
                guard('send tunnel', () => session.send({ type: 'tunnel' }));
                const trailing = guard('takeTrailingData', () => session.takeTrailingData());
                if (consumed + trailing.length !== received)
                  fail(
                    'no-byte-dropped',
                    `${consumed} consumed + ${trailing.length} trailing ≠ ${received}`,
                  );
                if (!isDeepStrictEqual(trailing, input.slice(consumed, received)))
                  fail('no-byte-dropped', 'trailing data differs from the octets after the head');
                return;
              }
              guard('send error', () =>
                session.send({ type: 'error', status: 403, message: 'denied' }),
              );
              if (session.closing) return;
            }
            break; // a forwarded request: answered at end-of-request (or now, without a body)
          }
          case 'data':
            if (event.data.length === 0) fail('progress', 'an empty data event');
            break;
          case 'end-of-request':
            break;
        }
        if (session.state === 'done' && session.serverState === 'waiting') {
          guard('send response', () =>
            session.send({ type: 'response', status: 200, headers: [], contentLength: 0 }),
          );
          guard('send end', () => session.send({ type: 'end-of-response' }));
          if (session.closing) return;
        }
      }
    }
  },
};
