/**
 * The registry: every decoder ferry has, the session machines, and the whole server. A new
 * decoder is one line here (plus a hand-written corpus file in test/fixtures/fuzz-corpus).
 */
import { Limits } from '../../src/protocol/constants.js';
import {
  decodeGreeting,
  decodeMethodSelection,
  decodeReply,
  decodeRequest,
  encodeGreeting,
  encodeReply,
  encodeRequest,
  MAX_REQUEST_LENGTH,
} from '../../src/protocol/socks5.js';
import { decodeAddress, encodeAddress } from '../../src/protocol/address.js';
import {
  decodeUserPassRequest,
  decodeUserPassResponse,
  encodeUserPassRequest,
  MAX_USER_PASS_REQUEST_LENGTH,
} from '../../src/protocol/user-pass.js';
import { decodeUdpDatagram, encodeUdpDatagram } from '../../src/protocol/udp.js';
import {
  decodeGssapiMessage,
  decodeProtectionLevel,
  encodeGssapiMessage,
  GSSAPI_HEADER_LENGTH,
  MAX_GSSAPI_TOKEN_LENGTH,
} from '../../src/protocol/gssapi.js';
import {
  decodeSocks4Reply,
  decodeSocks4Request,
  encodeSocks4Request,
  MAX_SOCKS4_REQUEST_LENGTH,
} from '../../src/protocol/socks4.js';
import { decodeProxyHeader, PROXY_V2_MAX_LENGTH } from '../../src/protocol/proxy-protocol.js';
import { Command } from '../../src/protocol/constants.js';
import { isDeepStrictEqual } from 'node:util';
import { decoder, fail, wholeDecoder, type FuzzTarget } from './target.js';
import { clientSessionTarget, serverSessionTarget } from './machines.js';
import { serverTarget } from './server-target.js';
import { socks5Oracle } from './socks5-oracle.js';
import { socks4Oracle } from './socks4-oracle.js';
import { httpOracle } from './http-oracle.js';
import { anyDialectOracle } from './any-dialect-oracle.js';
import {
  httpChunkedBodyTarget,
  httpProxyRequestTarget,
  httpRequestHeadTarget,
} from './http-targets.js';
import { udpReassemblyTarget } from './reassembly-target.js';
import { socks4SessionTarget } from './socks4-machine.js';
import { httpSessionTarget } from './http-machine.js';

/** Every dialect on one port, as the server listens: the first octet picks the oracle. */
const allDialects = (users: boolean) =>
  anyDialectOracle({
    socks5: socks5Oracle(users ? 0x02 : 0x00),
    socks4: socks4Oracle(users),
    http: httpOracle(users),
  });

export const targets: readonly FuzzTarget[] = [
  // SOCKS5 (RFC 1928)
  decoder('socks5-greeting', decodeGreeting, {
    corpus: ['socks5-greeting'],
    maxLength: 2 + Limits.maxMethods,
    encode: encodeGreeting,
  }),
  decoder('socks5-method-selection', decodeMethodSelection, {
    corpus: ['socks5-method-selection'],
    maxLength: 2,
  }),
  decoder('socks5-request', decodeRequest, {
    corpus: ['socks5-request'],
    maxLength: MAX_REQUEST_LENGTH,
    encode: encodeRequest,
  }),
  decoder('socks5-reply', decodeReply, {
    corpus: ['socks5-reply'],
    maxLength: MAX_REQUEST_LENGTH,
    encode: encodeReply,
  }),
  decoder('socks5-address', (b) => decodeAddress(b, 0), {
    corpus: ['socks5-address'],
    maxLength: 1 + 1 + Limits.maxDomainLength + 2,
    encode: encodeAddress,
  }),
  // RFC 1929
  decoder('user-pass-request', decodeUserPassRequest, {
    corpus: ['user-pass-request'],
    maxLength: MAX_USER_PASS_REQUEST_LENGTH,
    encode: encodeUserPassRequest,
  }),
  decoder('user-pass-response', decodeUserPassResponse, {
    corpus: ['user-pass-response'],
    maxLength: 2,
  }),
  // SOCKS4 / 4a
  decoder('socks4-request', decodeSocks4Request, {
    corpus: ['socks4-request'],
    maxLength: MAX_SOCKS4_REQUEST_LENGTH,
    encode: (v) =>
      encodeSocks4Request({ command: v.command, destination: v.destination, userId: v.userId }),
  }),
  decoder('socks4-reply', decodeSocks4Reply, { corpus: ['socks4-reply'], maxLength: 8 }),
  // RFC 1961 framing
  decoder('gssapi-message', decodeGssapiMessage, {
    corpus: ['gssapi-message'],
    maxLength: GSSAPI_HEADER_LENGTH + MAX_GSSAPI_TOKEN_LENGTH,
    encode: encodeGssapiMessage,
  }),
  wholeDecoder('gssapi-protection-level', decodeProtectionLevel, {
    corpus: ['gssapi-protection-level'],
    maxInput: 8,
    weight: 0.2,
  }),
  // PROXY protocol v1/v2
  decoder('proxy-header', decodeProxyHeader, {
    corpus: ['proxy-header'],
    maxLength: PROXY_V2_MAX_LENGTH,
  }),
  // UDP (RFC 1928 §7): a datagram arrives whole
  wholeDecoder('udp-datagram', decodeUdpDatagram, {
    corpus: ['udp-datagram'],
    maxInput: 600,
    verify: (d, input) => {
      if (
        d.data.buffer !== input.buffer ||
        d.data.byteOffset + d.data.length !== input.byteOffset + input.length
      ) {
        fail('udp-data', 'DATA is not the tail of the datagram');
      }
      let again;
      try {
        again = decodeUdpDatagram(
          encodeUdpDatagram({ address: d.address, data: d.data, frag: d.frag }),
        );
      } catch {
        return; // a name that re-encodes past 255 octets: the encoder refuses, fine
      }
      if (
        !isDeepStrictEqual(again, { ...d, data: again.data }) ||
        !isDeepStrictEqual(again.data, d.data)
      ) {
        fail('round-trip', 'the datagram did not survive re-encoding');
      }
    },
  }),
  // HTTP/1.1 (RFC 9112): the request head, as decoded and as a proxy request; chunked bodies
  httpRequestHeadTarget,
  httpProxyRequestTarget,
  httpChunkedBodyTarget,
  // RFC 1928 §7 fragment reassembly, against a reference queue
  udpReassemblyTarget,
  // Session machines
  serverSessionTarget('server-session-noauth', 0x00),
  serverSessionTarget('server-session-userpass', 0x02),
  clientSessionTarget('client-session-v5-connect', 5, Command.Connect),
  clientSessionTarget('client-session-v5-bind', 5, Command.Bind),
  clientSessionTarget('client-session-v4-connect', 4, Command.Connect),
  clientSessionTarget('client-session-v4-bind', 4, Command.Bind),
  socks4SessionTarget,
  httpSessionTarget,
  // The whole server over an in-memory socket: SOCKS5, SOCKS4/4a and HTTP on one port
  serverTarget('server-noauth', allDialects(false)),
  serverTarget('server-userpass', allDialects(true)),
  serverTarget('server-proxied', allDialects(false), {
    proxied: true,
    corpus: ['proxied-socks5-noauth'],
  }),
];

export function targetByName(name: string): FuzzTarget | undefined {
  return targets.find((t) => t.name === name);
}
