/**
 * HTTP/1.1 message heads for the proxy dialect (RFC 9112): the request-head decoder and the
 * response-head encoder. Pure: bytes in, values out.
 *
 *   request-head = *( CRLF ) request-line *( field-line CRLF ) CRLF
 *   request-line = method SP request-target SP HTTP-version CRLF
 *   field-line   = field-name ":" OWS field-value OWS
 *
 * Parsing is strict where leniency lets two parsers disagree about where a message ends
 * (request smuggling, RFC 9112 §11.2):
 * - Lines end in CRLF. A bare LF (which §2.2 lets a recipient accept) and a bare CR are 400:
 *   ferry never has to guess how the next hop splits lines.
 * - obs-fold (a line starting with SP/HTAB, §5.2) is 400, as is whitespace between a field name
 *   and its colon (§5.1, a MUST), and any control octet but HTAB in a value (§5.5).
 * - The whole head is capped (`maxHeadSize`): beyond it 431 (RFC 6585 §5), or 414 when the request
 *   line alone does not fit. The cap is checked on every call, so a peer cannot make us buffer
 *   more than the cap while waiting for the end of the head.
 * Up to the cap, empty lines before the request line are skipped (§2.2 SHOULD: some clients send
 * an extra CRLF after a body).
 */
import { NEED_MORE, type DecodeResult } from './decode.js';
import {
  HttpProtocolError,
  ProtocolErrorCode,
  SocksUsageError,
  UsageErrorCode,
} from '../errors.js';

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const DEL = 0x7f;

/** The HTTP versions ferry accepts from a client. A 1.x minor above 1 is handled as 1.1. */
export type HttpVersion = '1.0' | '1.1';

/** One field line: the name as sent (case kept for forwarding), the value without OWS. */
export interface HeaderField {
  readonly name: string;
  readonly value: string;
}

export interface RequestHead {
  /** A token, case-sensitive (RFC 9110 §9.1). */
  readonly method: string;
  /** As sent; interpreted by http-proxy.ts. */
  readonly target: string;
  readonly version: HttpVersion;
  readonly headers: readonly HeaderField[];
}

/** The statuses ferry itself produces, with their reason phrases (RFC 9110 §15, RFC 6585). */
export const HttpStatus = {
  Continue: 100,
  Ok: 200,
  BadRequest: 400,
  Forbidden: 403,
  ProxyAuthenticationRequired: 407,
  UriTooLong: 414,
  HeaderFieldsTooLarge: 431,
  NotImplemented: 501,
  BadGateway: 502,
  GatewayTimeout: 504,
  VersionNotSupported: 505,
} as const;

export const httpReasonPhrases: Readonly<Record<number, string>> = {
  100: 'Continue',
  200: 'OK',
  400: 'Bad Request',
  403: 'Forbidden',
  407: 'Proxy Authentication Required',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** Octets as a string, one char per octet (ISO-8859-1), so a round trip is byte-exact. */
export function latin1(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

/** The inverse of {@link latin1}. Throws SocksUsageError for a char above U+00FF. */
export function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) {
      throw new SocksUsageError(UsageErrorCode.InvalidArgument, 'HTTP head text is not latin1');
    }
    out[i] = c;
  }
  return out;
}

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
//         / DIGIT / ALPHA                                               (RFC 9110 §5.6.2)
const tchar = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") tchar[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) tchar[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) tchar[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) tchar[c] = 1;

/** True if every octet is a tchar and there is at least one. */
export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) if (tchar[text.charCodeAt(i)] !== 1) return false;
  return true;
}

const bad = (message: string): HttpProtocolError =>
  new HttpProtocolError(ProtocolErrorCode.BadMessage, 400, message);

/**
 * Finds the next line starting at `start`: returns the index of its CR (the line is
 * bytes[start, cr)), or -1 when no LF has arrived yet. Throws 400 on a bare LF.
 */
function lineEnd(bytes: Uint8Array, start: number): number {
  const lf = bytes.indexOf(LF, start);
  if (lf === -1) return -1;
  if (lf === start || bytes[lf - 1] !== CR) throw bad('bare LF line ending (CRLF required)');
  return lf - 1;
}

// request-line = method SP request-target SP HTTP-version (RFC 9112 §3): single SPs, no others.
const versionPattern = /^HTTP\/(\d)\.(\d)$/;

function parseRequestLine(line: Uint8Array): Omit<RequestHead, 'headers'> {
  for (const octet of line) {
    if (octet < SP || octet >= DEL) throw bad('control or non-ASCII octet in the request line');
  }
  const parts = latin1(line).split(' ');
  if (parts.length !== 3) throw bad('request line is not "method SP target SP version"');
  const [method = '', target = '', versionText = ''] = parts;
  if (!isToken(method)) throw bad('invalid method');
  if (target === '') throw bad('empty request target');
  const version = versionPattern.exec(versionText);
  if (version === null) throw bad('invalid HTTP version');
  if (version[1] !== '1') {
    throw new HttpProtocolError(
      ProtocolErrorCode.BadVersion,
      505,
      `HTTP/${version[1] ?? '?'}.${version[2] ?? '?'} is not supported`,
    );
  }
  return { method, target, version: version[2] === '0' ? '1.0' : '1.1' };
}

function parseFieldLine(line: Uint8Array): HeaderField {
  if (line[0] === SP || line[0] === HTAB) throw bad('obs-fold (line folding) is not accepted');
  const colon = line.indexOf(COLON);
  if (colon <= 0) throw bad('header line without a field name and colon');
  const name = latin1(line.subarray(0, colon));
  if (!isToken(name)) throw bad('invalid header field name (or whitespace before the colon)');
  let from = colon + 1;
  let to = line.length;
  while (from < to && (line[from] === SP || line[from] === HTAB)) from++;
  while (to > from && (line[to - 1] === SP || line[to - 1] === HTAB)) to--;
  for (let i = from; i < to; i++) {
    const octet = line[i] ?? 0;
    if ((octet < SP && octet !== HTAB) || octet === DEL) {
      throw bad(`control octet in the value of ${name}`);
    }
  }
  return { name, value: latin1(line.subarray(from, to)) };
}

/**
 * Decodes one request head. Returns NEED_MORE, or the head and the octets it used (including the
 * blank line); the body, if any, starts right after. Throws {@link HttpProtocolError}: 400
 * malformed, 414 / 431 beyond `maxHeadSize` octets, 505 not HTTP/1.x.
 */
export function decodeRequestHead(
  bytes: Uint8Array,
  maxHeadSize: number,
): DecodeResult<RequestHead> {
  const tooLarge = (lineDone: boolean): HttpProtocolError =>
    new HttpProtocolError(
      ProtocolErrorCode.MessageTooLarge,
      lineDone ? 431 : 414,
      lineDone
        ? `request header block exceeds ${maxHeadSize} octets`
        : `request line exceeds ${maxHeadSize} octets`,
    );
  let pos = 0;
  // Empty lines before the request line (RFC 9112 §2.2).
  for (;;) {
    if (pos >= bytes.length) return NEED_MORE;
    if (bytes[pos] !== CR && bytes[pos] !== LF) break;
    const end = lineEnd(bytes, pos);
    if (end === -1) return bytes.length > maxHeadSize ? fail(tooLarge(false)) : NEED_MORE;
    if (end !== pos) throw bad('bare CR before the request line');
    pos = end + 2;
    if (pos > maxHeadSize) throw tooLarge(false);
  }
  const lineStart = pos;
  const requestEnd = lineEnd(bytes, pos);
  if (requestEnd === -1 || requestEnd + 2 > maxHeadSize) {
    if (requestEnd !== -1 || bytes.length > maxHeadSize) throw tooLarge(false);
    // Reject garbage before its line ends: a request line holds only printable ASCII.
    for (let i = lineStart; i < bytes.length; i++) {
      const octet = bytes[i] ?? 0;
      if ((octet < SP && octet !== CR) || octet >= DEL) {
        throw bad('control or non-ASCII octet in the request line');
      }
    }
    return NEED_MORE;
  }
  const line = parseRequestLine(bytes.subarray(lineStart, requestEnd));
  pos = requestEnd + 2;
  const headers: HeaderField[] = [];
  for (;;) {
    const end = lineEnd(bytes, pos);
    if (end === -1) return bytes.length > maxHeadSize ? fail(tooLarge(true)) : NEED_MORE;
    if (end + 2 > maxHeadSize) throw tooLarge(true);
    if (end === pos) return { value: { ...line, headers }, length: end + 2 };
    const fieldLine = bytes.subarray(pos, end);
    if (fieldLine.includes(CR)) throw bad('bare CR in a header line');
    headers.push(parseFieldLine(fieldLine));
    pos = end + 2;
  }
}

function fail(error: HttpProtocolError): never {
  throw error;
}

/** A response head to encode. Names and values must not contain CR or LF. */
export interface ResponseHead {
  readonly status: number;
  /** Default: the standard phrase for `status`, or empty. */
  readonly reason?: string | undefined;
  readonly headers: readonly HeaderField[];
}

/**
 * Encodes `HTTP/1.1 status reason CRLF *(name: value CRLF) CRLF`. Throws SocksUsageError when a
 * name is not a token, a status is not three digits, or any text holds CR, LF or NUL (the values
 * come from upstream via node:http, which already refuses those; this is the last guard against
 * response splitting).
 */
export function encodeResponseHead(head: ResponseHead): Uint8Array {
  const misuse = (m: string): never => {
    throw new SocksUsageError(UsageErrorCode.InvalidArgument, m);
  };
  if (!Number.isInteger(head.status) || head.status < 100 || head.status > 999) {
    misuse(`invalid HTTP status ${String(head.status)}`);
  }
  const reason = head.reason ?? httpReasonPhrases[head.status] ?? '';
  const unsafe = /[\r\n\0]/;
  if (unsafe.test(reason)) misuse('CR/LF/NUL in a reason phrase');
  let text = `HTTP/1.1 ${head.status} ${reason}\r\n`;
  for (const { name, value } of head.headers) {
    if (!isToken(name)) misuse(`invalid header name "${name}"`);
    if (unsafe.test(value)) misuse(`CR/LF/NUL in the value of ${name}`);
    text += `${name}: ${value}\r\n`;
  }
  return latin1Bytes(`${text}\r\n`);
}
