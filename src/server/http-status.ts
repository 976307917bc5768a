/**
 * How the HTTP dialect reports a failure to reach the destination. The errno → REP table in
 * src/errors.ts stays the only place that classifies errors; this only re-encodes its answer as
 * an HTTP status (RFC 9110 §15.6.3 502, §15.6.5 504) and a one-line reason.
 */
import { describeReply, Reply } from '../protocol/constants.js';
import { HttpStatus } from '../protocol/http.js';
import { replyForError, SocksError } from '../errors.js';

export interface HttpFailure {
  readonly status: number;
  /** One line for the response body, naming the destination and the cause. */
  readonly message: string;
  /** The error's stable code (errno or ERR_SOCKS_*), for the session record. */
  readonly code: string | undefined;
}

function codeOf(err: unknown): string | undefined {
  if (err instanceof SocksError) return err.code;
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  if (err instanceof AggregateError) return codeOf(err.errors[0]);
  return undefined;
}

/**
 * 504 when reaching the destination timed out (REP 06), 403 when it is not allowed (REP 02),
 * 502 for everything else (refused, unreachable, DNS failure, a broken upstream response).
 */
export function httpFailure(err: unknown, destination: string): HttpFailure {
  const reply = replyForError(err);
  const code = codeOf(err);
  const status =
    reply === Reply.TtlExpired
      ? HttpStatus.GatewayTimeout
      : reply === Reply.NotAllowed
        ? HttpStatus.Forbidden
        : HttpStatus.BadGateway;
  const cause =
    reply === Reply.TtlExpired
      ? 'timed out'
      : reply !== Reply.GeneralFailure
        ? describeReply(reply)
        : code?.startsWith('HPE_') === true
          ? 'invalid response from upstream'
          : 'upstream connection failed';
  return {
    status,
    message: `ferry: ${destination}: ${cause}${code !== undefined ? ` (${code})` : ''}`,
    code,
  };
}
