/** The pure SOCKS codec: constants, addresses, messages and session machines. */
export * from './constants.js';
export * from './decode.js';
export * from './address.js';
export * from './socks5.js';
export * from './user-pass.js';
export * from './udp.js';
export * from './gssapi.js';
export * from './udp-reassembly.js';
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
export { Socks4ServerSession, socks4ReplyAddress } from './socks4-server-session.js';
export type {
  Socks4ServerEvent,
  Socks4ServerReply,
  Socks4ServerState,
} from './socks4-server-session.js';
export * from './http.js';
export * from './http-body.js';
export * from './http-proxy.js';
export { HttpServerSession } from './http-server-session.js';
export type {
  HttpClientState,
  HttpServerEvent,
  HttpServerMessage,
  HttpServerState,
} from './http-server-session.js';
