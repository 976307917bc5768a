/**
 * The PROXY protocol (HAProxy, versions 1 and 2): the header a load balancer in front of ferry
 * sends first on each connection, naming the real client. Accepted only from trusted sources
 * (the server decides that); this module only parses.
 *
 * v1, one text line of at most 107 octets:
 *   "PROXY" SP ("TCP4" | "TCP6" | "UNKNOWN") [SP src SP dst SP sport SP dport] CRLF
 *
 * v2, binary:
 *   +------------------------------------+---------+--------+--------+-----------------+
 *   | signature 0D 0A 0D 0A 00 0D 0A 51  | ver|cmd | fam|pr | len(2) | addresses, TLVs |
 *   | 55 49 54 0A  (12 octets)           |   1     |   1    |   2    |     len         |
 *   +------------------------------------+---------+--------+--------+-----------------+
 *   ver 2 (high nibble); cmd 0 LOCAL, 1 PROXY. fam 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX;
 *   pr 0 UNSPEC, 1 STREAM, 2 DGRAM. INET: src(4) dst(4) sport(2) dport(2); INET6: 16+16+2+2.
 */
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from './address.js';
import { NEED_MORE, readUint16, type DecodeResult } from './decode.js';
import { ProtocolErrorCode, SocksProtocolError } from '../errors.js';

export const PROXY_V2_SIGNATURE = Uint8Array.of(
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
);
const V1_PREFIX = Uint8Array.of(0x50, 0x52, 0x4f, 0x58, 0x59, 0x20); // "PROXY "
/** v1's longest line, CRLF included (the spec's own bound). */
export const PROXY_V1_MAX_LENGTH = 107;
/** ferry's bound on a v2 header (16 + addresses + TLVs); the spec allows 65 535 + 16. */
export const PROXY_V2_MAX_LENGTH = 16 + 2048;

const V2_VERSION = 0x2;
const V2_COMMAND_LOCAL = 0x0;
const V2_COMMAND_PROXY = 0x1;
const V2_FAMILY_UNSPEC = 0x0;
const V2_FAMILY_INET = 0x1;
const V2_FAMILY_INET6 = 0x2;
const V2_PROTOCOL_STREAM = 0x1;

export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /** `local`: the balancer's own connection (health check): use the socket's addresses. */
  readonly command: 'proxy' | 'local';
  /** The client and the address it connected to, for TCP over IPv4/IPv6; else undefined. */
  readonly source: ProxyEndpoint | undefined;
  readonly destination: ProxyEndpoint | undefined;
}

function bad(message: string): SocksProtocolError {
  return new SocksProtocolError(ProtocolErrorCode.BadMessage, `PROXY protocol: ${message}`);
}

/** Whether bytes start like a PROXY header: true, false, or NEED_MORE while a prefix matches. */
export function startsWithProxyHeader(bytes: Uint8Array): boolean | typeof NEED_MORE {
  for (const signature of [V1_PREFIX, PROXY_V2_SIGNATURE]) {
    const n = Math.min(bytes.length, signature.length);
    let same = true;
    for (let i = 0; i < n; i++) if (bytes[i] !== signature[i]) same = false;
    if (same) return n === signature.length ? true : NEED_MORE;
  }
  return false;
}

function port(text: string): number {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text) || Number(text) > 0xffff) throw bad(`bad port "${text}"`);
  return Number(text);
}

function decodeV1(bytes: Uint8Array): DecodeResult<ProxyHeader> {
  const limit = Math.min(bytes.length, PROXY_V1_MAX_LENGTH);
  let end = -1;
  for (let i = 0; i + 1 < limit; i++) {
    if (bytes[i] === 0x0d && bytes[i + 1] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end === -1) {
    if (bytes.length >= PROXY_V1_MAX_LENGTH)
      throw bad(`v1 line longer than ${PROXY_V1_MAX_LENGTH} octets`);
    return NEED_MORE;
  }
  const line = String.fromCharCode(...bytes.subarray(0, end));
  const parts = line.split(' ');
  const length = end + 2;
  if (parts[1] === 'UNKNOWN') {
    // "The receiver must ignore anything presented before the CRLF is found" (spec 2.1).
    return {
      value: { version: 1, command: 'proxy', source: undefined, destination: undefined },
      length,
    };
  }
  if (parts.length !== 6 || (parts[1] !== 'TCP4' && parts[1] !== 'TCP6'))
    throw bad(`bad v1 line "${line}"`);
  const [, family, src = '', dst = '', sport = '', dport = ''] = parts;
  const parse = family === 'TCP4' ? parseIPv4 : parseIPv6;
  const format = family === 'TCP4' ? formatIPv4 : formatIPv6;
  const s = parse(src);
  const d = parse(dst);
  if (s === undefined || d === undefined) throw bad(`bad ${family} address in "${line}"`);
  return {
    value: {
      version: 1,
      command: 'proxy',
      source: { address: format(s), port: port(sport) },
      destination: { address: format(d), port: port(dport) },
    },
    length,
  };
}

function decodeV2(bytes: Uint8Array): DecodeResult<ProxyHeader> {
  if (bytes.length < 16) return NEED_MORE;
  const verCmd = bytes[12] ?? 0;
  const famProto = bytes[13] ?? 0;
  const len = readUint16(bytes, 14);
  if (verCmd >> 4 !== V2_VERSION) throw bad(`v2 version ${verCmd >> 4}`);
  const command = verCmd & 0x0f;
  if (command !== V2_COMMAND_LOCAL && command !== V2_COMMAND_PROXY)
    throw bad(`v2 command ${command}`);
  if (16 + len > PROXY_V2_MAX_LENGTH)
    throw bad(`v2 header of ${16 + len} octets is over ferry's ${PROXY_V2_MAX_LENGTH}`);
  if (bytes.length < 16 + len) return NEED_MORE;
  const length = 16 + len;
  const family = famProto >> 4;
  const protocol = famProto & 0x0f;
  if (
    command === V2_COMMAND_LOCAL ||
    family === V2_FAMILY_UNSPEC ||
    protocol !== V2_PROTOCOL_STREAM
  ) {
    // LOCAL, or a family/transport ferry does not proxy (UNIX, UDP): keep the socket's addresses.
    return {
      value: {
        version: 2,
        command: command === V2_COMMAND_LOCAL ? 'local' : 'proxy',
        source: undefined,
        destination: undefined,
      },
      length,
    };
  }
  if (family === V2_FAMILY_INET) {
    if (len < 12) throw bad('v2 INET addresses truncated');
    return {
      value: {
        version: 2,
        command: 'proxy',
        source: { address: formatIPv4(bytes, 16), port: readUint16(bytes, 24) },
        destination: { address: formatIPv4(bytes, 20), port: readUint16(bytes, 26) },
      },
      length,
    };
  }
  if (family === V2_FAMILY_INET6) {
    if (len < 36) throw bad('v2 INET6 addresses truncated');
    return {
      value: {
        version: 2,
        command: 'proxy',
        source: { address: formatIPv6(bytes, 16), port: readUint16(bytes, 48) },
        destination: { address: formatIPv6(bytes, 32), port: readUint16(bytes, 50) },
      },
      length,
    };
  }
  return {
    value: { version: 2, command: 'proxy', source: undefined, destination: undefined },
    length,
  };
}

/**
 * Decodes a v1 or v2 header at the start of `bytes`. Throws SocksProtocolError when the bytes are
 * not a valid header (including when they are no PROXY header at all).
 */
export function decodeProxyHeader(bytes: Uint8Array): DecodeResult<ProxyHeader> {
  const kind = startsWithProxyHeader(bytes);
  if (kind === NEED_MORE) return NEED_MORE;
  if (!kind) throw bad('the connection did not start with a PROXY protocol header');
  return bytes[0] === PROXY_V2_SIGNATURE[0] ? decodeV2(bytes) : decodeV1(bytes);
}
