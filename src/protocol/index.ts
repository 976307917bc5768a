/** The pure SOCKS codec: constants, addresses, messages and session machines. */
export * from './constants.js';
export * from './decode.js';
export * from './address.js';
export * from './socks5.js';
export * from './user-pass.js';
export * from './udp.js';
export * from './gssapi.js';
export * from './server-session.js';
export { ClientSession } from './client-session.js';
export type {
  ClientEvent,
  ClientMessage,
  ClientSessionOptions,
  ClientState,
} from './client-session.js';
export * from '../errors.js';
export * from './socks4.js';
