/**
 * The one place that decides whether a client without credentials may proceed. With neither users
 * nor GSS-API configured every client is anonymous; otherwise only those an `anonymous: true`
 * access rule or the library's `allowUnauthenticated` hook explicitly lets through. Used by
 * SOCKS4/4a, which cannot carry a password, and by HTTP requests that bring no usable
 * `Proxy-Authorization` (HTTP has no GSS-API method here, so a GSS-API-only server must not let
 * HTTP or SOCKS4 clients around Kerberos).
 */
import { channels, publish } from '../observability/channels.js';
import type { Connection } from './connection.js';

/**
 * Resolves true when `conn` may go on without credentials. The record's dialect, command and
 * destination must already be filled in (the hook sees them). A hook that throws or rejects
 * denies. Publishes an auth event (method `none`) when authentication is required.
 */
export async function mayProceedAnonymously(conn: Connection): Promise<boolean> {
  if (!conn.server.authenticationRequired()) {
    conn.record.method = 'none';
    return true;
  }
  const { options } = conn.server;
  const record = conn.record;
  let allowed: boolean;
  try {
    // Only a real `true` lets a client in (a hook written in JS might return anything).
    const answer: unknown = await options.allowUnauthenticated(record);
    allowed = answer === true;
  } catch {
    allowed = false;
  }
  if (!allowed && record.command !== undefined) {
    // A rule's consent is narrower than the hook's: the session's destinations must then be
    // allowed by anonymous rules too (see Connection.policy).
    allowed = conn.anonymousByRule = options.rules.admitsAnonymous({
      client: record.clientAddress,
      command: record.command,
      dialect: record.dialect ?? 'socks5',
    });
  }
  if (allowed) record.method = 'none';
  publish(channels.auth, () => ({
    session: conn.record,
    method: 'none',
    user: undefined,
    success: allowed,
    throttled: false,
  }));
  return allowed;
}
