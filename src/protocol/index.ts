/** The pure SOCKS codec: constants, addresses, messages and session machines. */
export * from './constants.js';
export * from './decode.js';
export * from './address.js';
export * from './socks5.js';
export * from './user-pass.js';
export * from './udp.js';
export * from './server-session.js';
export * from '../errors.js';
export * from './socks4.js';
