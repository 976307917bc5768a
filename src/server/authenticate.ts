/**
 * Username/password verification shared by every dialect (SOCKS5 RFC 1929, HTTP Basic): the
 * failure throttle per client IP, the users database, the auth event. The password is zeroed as
 * soon as it has been checked and never leaves this function.
 */
import { channels, publish } from '../observability/channels.js';
import type { Connection } from './connection.js';

const textDecoder = new TextDecoder('utf-8');

/** Resolves to the user's name, or undefined on failure (wrong, unknown, or throttled). */
export async function authenticateUser(
  conn: Connection,
  username: Uint8Array,
  password: Uint8Array,
): Promise<string | undefined> {
  const server = conn.server;
  const ip = conn.record.clientAddress;
  const name = textDecoder.decode(username);
  conn.record.method = 'username';
  let user: string | undefined;
  let throttled = false;
  try {
    const users = server.users();
    if (server.authThrottle.blocked(ip, Date.now())) {
      throttled = true;
    } else if (users !== undefined) {
      user = await users.verify(username, password);
    }
  } finally {
    password.fill(0);
  }
  conn.record.user = user ?? name;
  conn.authenticatedUser = user;
  publish(channels.auth, () => ({
    session: conn.record,
    method: 'username',
    user: name,
    success: user !== undefined,
    throttled,
  }));
  if (user === undefined && !throttled && server.authThrottle.fail(ip, Date.now())) {
    const { authFailureLimit: failures, authFailureWindow: window } = server.options;
    publish(channels.authThrottled, () => ({ clientAddress: ip, failures, window }));
  }
  return user;
}
