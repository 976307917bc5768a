/** ferry: a SOCKS5/SOCKS4/HTTP proxy server and client toolkit. */
export * from './server/index.js';
export * from './errors.js';
export * from './protocol/constants.js';
export type { SocksAddress } from './protocol/address.js';
