/**
 * What an HTTP request means to a proxy (RFC 9110, RFC 9112): a CONNECT tunnel (authority-form
 * target) or a request to forward (absolute-form `http://` target), how its body is framed,
 * whether the connection persists, which fields go upstream, and the Basic credentials in
 * `Proxy-Authorization` (RFC 7617). Pure.
 *
 * Framing policy (request smuggling, RFC 9112 §6.1, §6.3, §11.2) — one reading, or 400:
 * - Transfer-Encoding and Content-Length together: 400 (§6.1 allows rejecting; forwarding one of
 *   them is exactly the ambiguity smuggling needs). Either of them on CONNECT: 400 (no content).
 * - Transfer-Encoding in an HTTP/1.0 request: 400 (§6.1: such framing is faulty).
 * - Transfer-Encoding must be exactly `chunked`: chunked not last → 400 (§6.1 MUST); other
 *   codings before it → 501 (§6.1 SHOULD; ferry does not decode them).
 * - Content-Length must be one field holding 1*DIGIT (at most 15); repeated fields or lists,
 *   even of equal values, are 400.
 * Upstream, framing is always re-declared from the decoded body: the client's Content-Length /
 * Transfer-Encoding never reach the next hop as sent.
 */
import { parseIPv4, parseIPv6, socksAddress } from './address.js';
import type { BodyFraming } from './http-body.js';
import { type HeaderField, type HttpVersion, type RequestHead } from './http.js';
import { HttpProtocolError, ProtocolErrorCode } from '../errors.js';

/** A destination: a lower-case domain name, an IPv4 literal, or an IPv6 literal (no brackets). */
export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

/** `Proxy-Authorization: Basic` credentials, as octets (the caller zeroes the password). */
export interface BasicCredentials {
  readonly username: Uint8Array;
  readonly password: Uint8Array;
}

interface ProxyRequestBase {
  readonly method: string;
  readonly version: HttpVersion;
  readonly target: ProxyTarget;
  /** Basic credentials; `malformed` when the field is present but unusable (treat as wrong). */
  readonly credentials: BasicCredentials | 'malformed' | undefined;
  /** Whether the client wants the connection to persist after this exchange. */
  readonly keepAlive: boolean;
}

export interface ConnectRequest extends ProxyRequestBase {
  readonly kind: 'connect';
}

export interface ForwardRequest extends ProxyRequestBase {
  readonly kind: 'forward';
  /** origin-form (`/path?query`) for the upstream request line. */
  readonly path: string;
  /** The request body's framing as the client sent it. */
  readonly framing: BodyFraming;
  /**
   * End-to-end fields for upstream, in order: `Host` (from the target, §3.2.2) first, then the
   * client's fields minus hop-by-hop ones, those named in Connection, Host, Content-Length and
   * Transfer-Encoding, then `Via`. The adapter adds framing fields for the body it forwards.
   */
  readonly upstreamHeaders: readonly HeaderField[];
}

export type ProxyRequest = ConnectRequest | ForwardRequest;

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1) plus the proxy-only ones: never forwarded either way.
 * Proxy-Connection is not standard but widely sent; it is connection-specific by intent.
 */
export const HOP_BY_HOP_FIELDS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * The Via value ferry appends (RFC 9110 §7.6.3: a proxy MUST send Via): the protocol version it
 * received the message with, and a pseudonym.
 */
export function viaValue(receivedVersion: string): string {
  return `${receivedVersion} ferry`;
}

const DEFAULT_HTTP_PORT = 80;

const bad = (
  message: string,
  code: ProtocolErrorCode = ProtocolErrorCode.BadMessage,
): HttpProtocolError => new HttpProtocolError(code, 400, message);

/** Comma-separated list elements of every field named `name` (lower case), trimmed. */
export function listValues(headers: readonly HeaderField[], name: string): string[] {
  return headers
    .filter((h) => h.name.toLowerCase() === name)
    .flatMap((h) => h.value.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/**
 * The fields to forward: without hop-by-hop fields, those the Connection field names, and the
 * extra names (lower case) in `drop`. Order and case are kept.
 */
export function endToEndFields(
  headers: readonly HeaderField[],
  drop: readonly string[] = [],
): HeaderField[] {
  const named = new Set(listValues(headers, 'connection').map((t) => t.toLowerCase()));
  return headers.filter((h) => {
    const name = h.name.toLowerCase();
    return !HOP_BY_HOP_FIELDS.has(name) && !named.has(name) && !drop.includes(name);
  });
}

const regName = /^[A-Za-z0-9._-]{1,255}$/;

/**
 * Parses an authority `host[:port]` / `[v6][:port]`. `defaultPort` undefined means the port is
 * required (CONNECT). No userinfo, no zone identifiers, no percent-encoding.
 */
export function parseAuthority(text: string, defaultPort: number | undefined): ProxyTarget {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) throw bad(`malformed IPv6 authority "${text}"`, ProtocolErrorCode.BadAddress);
    host = text.slice(1, close);
    if (parseIPv6(host) === undefined)
      throw bad(`not an IPv6 address: "${host}"`, ProtocolErrorCode.BadAddress);
    host = socksAddress(host, 0).host;
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':'))
      throw bad(`malformed authority "${text}"`, ProtocolErrorCode.BadAddress);
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = text.indexOf(':');
    host = colon === -1 ? text : text.slice(0, colon);
    portText = colon === -1 ? undefined : text.slice(colon + 1);
    if (text.includes('@'))
      throw bad('userinfo in the authority is not accepted', ProtocolErrorCode.BadAddress);
    if (!regName.test(host)) throw bad(`invalid host "${host}"`, ProtocolErrorCode.BadAddress);
    if (parseIPv4(host) === undefined) host = host.toLowerCase();
  }
  // RFC 3986 §3.2.3: an empty port means the scheme's default.
  if (portText === undefined || portText === '') {
    if (defaultPort === undefined)
      throw bad(`missing port in "${text}"`, ProtocolErrorCode.BadAddress);
    return { host, port: defaultPort };
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 0xffff) {
    throw bad(`invalid port in "${text}"`, ProtocolErrorCode.BadAddress);
  }
  return { host, port: Number(portText) };
}

/** `host[:port]` for a Host field: IPv6 in brackets, the default port left out. */
export function formatAuthority(target: ProxyTarget, defaultPort = DEFAULT_HTTP_PORT): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return target.port === defaultPort ? host : `${host}:${target.port}`;
}

/** Splits an absolute-form `http://authority/path?query` target (RFC 9112 §3.2.2). */
function parseAbsoluteTarget(target: string): { target: ProxyTarget; path: string } {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(target);
  if (scheme === null) {
    throw bad('a proxy request needs an absolute http:// URI (or CONNECT host:port)');
  }
  const name = (scheme[1] ?? '').toLowerCase();
  if (name !== 'http') {
    throw bad(
      name === 'https'
        ? 'https:// is not forwarded: use CONNECT for TLS'
        : `the ${name}: scheme is not supported`,
    );
  }
  if (target.includes('#')) throw bad('a request target cannot hold a fragment');
  const rest = target.slice(scheme[0].length);
  const slash = rest.search(/[/?]/);
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const pathPart = slash === -1 ? '' : rest.slice(slash);
  const path = pathPart === '' ? '/' : pathPart.startsWith('?') ? `/${pathPart}` : pathPart;
  return { target: parseAuthority(authority, DEFAULT_HTTP_PORT), path };
}

function requestFraming(head: RequestHead): BodyFraming {
  const te = listValues(head.headers, 'transfer-encoding').map((v) => v.toLowerCase());
  const lengthFields = head.headers.filter((h) => h.name.toLowerCase() === 'content-length');
  const hasTe = head.headers.some((h) => h.name.toLowerCase() === 'transfer-encoding');
  if (hasTe) {
    if (lengthFields.length > 0) throw bad('both Transfer-Encoding and Content-Length');
    if (head.version === '1.0') throw bad('Transfer-Encoding in an HTTP/1.0 request');
    if (te[te.length - 1] !== 'chunked') throw bad('Transfer-Encoding does not end in chunked');
    if (te.length !== 1) {
      throw new HttpProtocolError(
        ProtocolErrorCode.UnsupportedCommand,
        501,
        `transfer coding ${te.slice(0, -1).join(', ')} is not supported`,
      );
    }
    return { kind: 'chunked' };
  }
  if (lengthFields.length === 0) return { kind: 'none' };
  const value = lengthFields[0]?.value ?? '';
  if (lengthFields.length > 1 || !/^\d{1,15}$/.test(value)) throw bad('invalid Content-Length');
  const length = Number(value);
  return length === 0 ? { kind: 'none' } : { kind: 'length', length };
}

/** Parses `Proxy-Authorization`; undefined when absent. */
export function parseProxyAuthorization(
  headers: readonly HeaderField[],
): BasicCredentials | 'malformed' | undefined {
  const fields = headers.filter((h) => h.name.toLowerCase() === 'proxy-authorization');
  if (fields.length === 0) return undefined;
  if (fields.length > 1) return 'malformed';
  // credentials = auth-scheme 1*SP token68 (RFC 9110 §11.4); Basic: base64(user-id ":" password)
  const match = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+) +([A-Za-z0-9+/]+=*)$/.exec(fields[0]?.value ?? '');
  if (match?.[1]?.toLowerCase() !== 'basic' || (match[2] ?? '').length % 4 !== 0)
    return 'malformed';
  let decoded: string;
  try {
    decoded = atob(match[2] ?? '');
  } catch {
    return 'malformed';
  }
  const bytes = Uint8Array.from(decoded, (c) => c.charCodeAt(0));
  const colon = bytes.indexOf(0x3a);
  if (colon === -1) return 'malformed';
  return { username: bytes.slice(0, colon), password: bytes.slice(colon + 1) };
}

/**
 * Interprets a request head for the proxy. Throws HttpProtocolError: 400 for a missing or
 * repeated Host (HTTP/1.1, RFC 9112 §3.2), a target that is neither `CONNECT host:port` nor an
 * absolute `http://` URI, or framing the policy above refuses; 501 for an unsupported transfer
 * coding.
 */
export function interpretProxyRequest(head: RequestHead): ProxyRequest {
  const hosts = head.headers.filter((h) => h.name.toLowerCase() === 'host');
  if (hosts.length > 1) throw bad('more than one Host field');
  if (head.version === '1.1' && hosts.length === 0) throw bad('missing Host field');
  const connection = listValues(head.headers, 'connection').map((t) => t.toLowerCase());
  const keepAlive = head.version === '1.1' && !connection.includes('close');
  const credentials = parseProxyAuthorization(head.headers);
  const framing = requestFraming(head);
  if (head.method === 'CONNECT') {
    if (framing.kind !== 'none') throw bad('a CONNECT request carries no content');
    return {
      kind: 'connect',
      method: head.method,
      version: head.version,
      target: parseAuthority(head.target, undefined),
      credentials,
      keepAlive,
    };
  }
  const { target, path } = parseAbsoluteTarget(head.target);
  const upstreamHeaders: HeaderField[] = [
    { name: 'Host', value: formatAuthority(target) },
    ...endToEndFields(head.headers, ['host', 'content-length']),
    { name: 'Via', value: viaValue(head.version) },
  ];
  return {
    kind: 'forward',
    method: head.method,
    version: head.version,
    target,
    path,
    framing,
    upstreamHeaders,
    credentials,
    keepAlive,
  };
}
