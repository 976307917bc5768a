/**
 * ferry's SOCKS client: `import { connect, bind, associate, SocksAgent, ... } from 'ferry/client'`.
 * See docs/client.md.
 */
export { connect, type ConnectOptions, type SocksConnection } from './connect.js';
export { bind, type BindOptions, type SocksBind, type SocksIncoming } from './bind.js';
export {
  associate,
  MAX_UDP_HEADER_LENGTH,
  SocksUdpAssociation,
  type AssociateOptions,
  type SocksRemoteInfo,
  type SocksUdpAssociationEvents,
  type UdpDropReason,
} from './associate.js';
export {
  SocksAgent,
  SocksHttpsAgent,
  type SocksAgentOptions,
  type SocksAgentProxyOptions,
  type SocksHttpsAgentOptions,
} from './agent.js';
export {
  createSocksDispatcher,
  socksConnector,
  type SocksConnectorOptions,
  type SocksDispatcherOptions,
} from './undici.js';
export {
  DEFAULT_SOCKS_PORT,
  parseProxy,
  parseProxyUrl,
  SocksProxy,
  type ProxyInput,
  type ProxyOptions,
  type ProxyProtocol,
} from './proxy.js';
export {
  AuthLimits,
  type AuthContext,
  type AuthExchange,
  type AuthStep,
  type ClientAuthMethod,
} from './auth-method.js';
export {
  DEFAULT_HANDSHAKE_TIMEOUT,
  type Destination,
  type TunnelOptions,
  type TunnelSocket,
} from './tunnel.js';
export { gssapiMethod, type GssapiClientOptions, type GssapiLevel } from './gssapi.js';
export { GssapiSocket } from '../gssapi/stream.js';
export type { SocksAddress } from '../protocol/address.js';
export { describeReply, Reply } from '../protocol/constants.js';
export { describeSocks4Reply, Socks4Reply } from '../protocol/socks4.js';
export {
  ClientErrorCode,
  GssapiErrorCode,
  ProtocolErrorCode,
  SocksAbortError,
  SocksAuthError,
  SocksConnectionError,
  SocksError,
  SocksGssapiError,
  SocksProtocolError,
  SocksReplyError,
  SocksTimeoutError,
  SocksUsageError,
} from '../errors.js';
