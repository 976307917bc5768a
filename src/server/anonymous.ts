/**
 * The one place that decides whether a client without credentials may proceed. With no users
 * configured every client is anonymous; with users, only those the `allowUnauthenticated` hook
 * (the access-rules engine) explicitly lets through. Used by SOCKS4/4a, which cannot carry a
 * password, and by HTTP requests that bring no `Proxy-Authorization`.
 */
import { channels, publish } from '../observability/channels.js';
import type { Connection } from './connection.js';

/**
 * Resolves true when `conn` may go on without credentials. The record's dialect, command and
 * destination must already be filled in (the hook sees them). A hook that throws or rejects
 * denies. Publishes an auth event (method `none`) when users are configured.
 */
export async function mayProceedAnonymously(conn: Connection): Promise<boolean> {
  if (conn.server.users() === undefined) {
    conn.record.method = 'none';
    return true;
  }
  let allowed: boolean;
  try {
    // Only a real `true` lets a client in (a hook written in JS might return anything).
    const answer: unknown = await conn.server.options.allowUnauthenticated(conn.record);
    allowed = answer === true;
  } catch {
    allowed = false;
  }
  if (allowed) conn.record.method = 'none';
  publish(channels.auth, () => ({
    session: conn.record,
    method: 'none',
    user: undefined,
    success: allowed,
    throttled: false,
  }));
  return allowed;
}
