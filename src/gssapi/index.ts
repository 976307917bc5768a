/**
 * GSS-API (RFC 2743/2744) for the SOCKS method 01 of RFC 1961, bound to the system's MIT
 * Kerberos library through koffi. Importing this module loads nothing native; call
 * {@link loadGssapi} to get a {@link GssapiBinding} (or a one-line "GSS-API unavailable" error).
 *
 * @example A server's method-specific hook (sketch; framing from src/protocol/gssapi.ts):
 *   // at startup — fails early on a bad keytab:
 *   const gss = await loadGssapi();
 *   const credential = await gss.acquireAcceptorCredential({ keytab, serviceName: 'rcmd' });
 *   // per connection, once session.state is 'method-specific':
 *   const acceptor = gss.createAcceptor(credential);
 *   // for each MTYP 01 message decoded from session.takeMethodData() + later socket data:
 *   const { token, complete } = await acceptor.step(message.token);
 *   //   send MTYP 01 with `token` (a zero-length token when complete and there is none)
 *   //   on SocksGssapiError: send GSSAPI_ABORT (01 FF) and close
 *   // then MTYP 02: decodeProtectionLevel(acceptor.unwrap(token).data), answer with
 *   //   acceptor.wrap(encodeProtectionLevel(chosen)) (NEC variant: the bare octet),
 *   //   then session.authenticated(...): at level 00 ("clear") with the bytes read past the
 *   //   level message; at 01/02 with nothing — from then on every MTYP 03 token is unwrapped
 *   //   into session.receiveData(), and every byte the session (and later the relay) sends is
 *   //   wrapped into MTYP 03 (chunks of at most acceptor.wrapSizeLimit(65535, conf) octets).
 *   //   acceptor.sourceName is the session's user. Dispose the acceptor when the connection ends.
 */
export { loadGssapi, DEFAULT_GSSAPI_LIBRARY, type LoadGssapiOptions } from './load.js';
export * from './status.js';
export type * from './types.js';
export { GssapiErrorCode, SocksGssapiError } from '../errors.js';
