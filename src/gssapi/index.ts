/**
 * GSS-API (RFC 2743/2744) for the SOCKS method 01 of RFC 1961, bound to the system's MIT
 * Kerberos library through koffi. Importing this module loads nothing native; call
 * {@link loadGssapi} to get a {@link GssapiBinding} (or a one-line "GSS-API unavailable" error).
 */
export { loadGssapi, DEFAULT_GSSAPI_LIBRARY, type LoadGssapiOptions } from './load.js';
export * from './status.js';
export type * from './types.js';
export { GssapiErrorCode, SocksGssapiError } from '../errors.js';
