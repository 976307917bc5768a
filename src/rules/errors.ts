/**
 * The SocksDialErrors a policy decision turns into, so every caller answers the same way:
 * denied → reply 02 (SOCKS5; SOCKS4 5B, HTTP 403), invalid host → reply 04.
 */
import { DialErrorCode, SocksDialError } from '../errors.js';
import { Reply } from '../protocol/constants.js';
import type { RuleRef } from './compile.js';

/** `ERR_SOCKS_NOT_ALLOWED` (reply 02) naming the rule; `rule` is kept for logs and metrics. */
export class NotAllowedError extends SocksDialError {
  readonly rule: RuleRef;
  constructor(rule: RuleRef, destination: string) {
    super(
      DialErrorCode.NotAllowed,
      `${destination}: not allowed by ${rule.index === -1 ? 'the default action' : `rule "${rule.name}"`}`,
      Reply.NotAllowed,
    );
    this.rule = rule;
  }
}

/** `ERR_SOCKS_BAD_HOST` (reply 04): the host is neither an IP address nor a valid name. */
export function invalidHostError(reason: string): SocksDialError {
  return new SocksDialError(
    DialErrorCode.BadHost,
    `invalid destination host: ${reason}`,
    Reply.HostUnreachable,
  );
}
