/**
 * Wire constants of SOCKS5 (RFC 1928), its username/password sub-negotiation (RFC 1929) and
 * GSS-API method (RFC 1961). Every octet that means something has a name here; logic never
 * compares against a bare number.
 */

/** The VER octet of every SOCKS5 message (RFC 1928 §3). */
export const SOCKS5_VERSION = 0x05;

/** The VER octet of the RFC 1929 username/password sub-negotiation (RFC 1929 §2). */
export const USER_PASS_VERSION = 0x01;

/** RFC 1928 §3: METHOD values. */
export const AuthMethod = {
  NoAuth: 0x00,
  GssApi: 0x01,
  UserPass: 0x02,
  /** "NO ACCEPTABLE METHODS": the client must close the connection. */
  NoAcceptable: 0xff,
} as const;
export type AuthMethod = (typeof AuthMethod)[keyof typeof AuthMethod];

/** RFC 1928 §4: CMD values. */
export const Command = {
  Connect: 0x01,
  Bind: 0x02,
  UdpAssociate: 0x03,
} as const;
export type Command = (typeof Command)[keyof typeof Command];

/** Lower-case names used in logs, events and rules. */
export type CommandName = 'connect' | 'bind' | 'udp';
export const commandNames: Readonly<Record<Command, CommandName>> = {
  [Command.Connect]: 'connect',
  [Command.Bind]: 'bind',
  [Command.UdpAssociate]: 'udp',
};

/** RFC 1928 §4/§5: ATYP values. */
export const AddressType = {
  IPv4: 0x01,
  Domain: 0x03,
  IPv6: 0x04,
} as const;
export type AddressType = (typeof AddressType)[keyof typeof AddressType];

/** RFC 1928 §6: REP values. */
export const Reply = {
  Succeeded: 0x00,
  GeneralFailure: 0x01,
  NotAllowed: 0x02,
  NetworkUnreachable: 0x03,
  HostUnreachable: 0x04,
  ConnectionRefused: 0x05,
  TtlExpired: 0x06,
  CommandNotSupported: 0x07,
  AddressTypeNotSupported: 0x08,
} as const;
export type Reply = (typeof Reply)[keyof typeof Reply];

/** The RFC's own wording for each REP code (RFC 1928 §6). */
export const replyMessages: Readonly<Record<Reply, string>> = {
  [Reply.Succeeded]: 'succeeded',
  [Reply.GeneralFailure]: 'general SOCKS server failure',
  [Reply.NotAllowed]: 'connection not allowed by ruleset',
  [Reply.NetworkUnreachable]: 'network unreachable',
  [Reply.HostUnreachable]: 'host unreachable',
  [Reply.ConnectionRefused]: 'connection refused',
  [Reply.TtlExpired]: 'TTL expired',
  [Reply.CommandNotSupported]: 'command not supported',
  [Reply.AddressTypeNotSupported]: 'address type not supported',
};

/** Describes any REP octet, including the unassigned 09–FF. */
export function describeReply(code: number): string {
  return (
    (replyMessages as Record<number, string | undefined>)[code] ??
    `unassigned reply 0x${code.toString(16).padStart(2, '0')}`
  );
}

/** RFC 1929 §2: STATUS 00 is success; any other value is failure. */
export const UserPassStatus = {
  Success: 0x00,
  Failure: 0x01,
} as const;
export type UserPassStatus = (typeof UserPassStatus)[keyof typeof UserPassStatus];

/** Field limits, all from the RFCs' one-octet length fields. */
export const Limits = {
  /** NMETHODS is 1..255 (RFC 1928 §3). */
  maxMethods: 255,
  /** A domain name is 1..255 octets (RFC 1928 §5). */
  maxDomainLength: 255,
  /** ULEN and PLEN are 1..255 (RFC 1929 §2). */
  maxCredentialLength: 255,
} as const;
