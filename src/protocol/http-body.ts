/**
 * HTTP/1.1 message bodies, streamed (RFC 9112 §6–7): an incremental decoder for a request body
 * framed by Content-Length or the chunked transfer coding, and the chunked encoder for responses.
 * Nothing here holds a whole body: the decoder hands out views of the input as it goes.
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk   = 1*("0") [ chunk-ext ] CRLF
 *
 * Strictness (request smuggling, RFC 9112 §11.2): CRLF everywhere (no bare LF), a chunk's data
 * must be followed by exactly CRLF, chunk sizes are hex with at most 13 significant digits (a safe
 * integer), and a size line (with its extensions) or the trailer section longer than
 * {@link ChunkedLimits} is 400 rather than something we buffer. Trailer fields are validated and
 * discarded (RFC 9110 §6.5.1 lets a recipient discard them).
 */
import { NEED_MORE } from './decode.js';
import { HttpProtocolError, ProtocolErrorCode } from '../errors.js';
import { latin1Bytes } from './http.js';

/** How a request body is delimited. */
export type BodyFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' };

export const ChunkedLimits = {
  /** A chunk-size line with its extensions, CRLF excluded. */
  maxSizeLine: 4096,
  /** The whole trailer section. */
  maxTrailers: 16 * 1024,
} as const;

/**
 * One step of {@link BodyDecoder.next}: body octets; framing octets only (chunk-size lines, CRLFs,
 * trailers — nothing to forward); or the end of the body.
 */
export type BodyStep =
  | { readonly type: 'data'; readonly data: Uint8Array; readonly consumed: number }
  | { readonly type: 'framing'; readonly consumed: number }
  | { readonly type: 'end'; readonly consumed: number };

const CR = 0x0d;
const LF = 0x0a;
const bad = (message: string): HttpProtocolError =>
  new HttpProtocolError(ProtocolErrorCode.BadMessage, 400, message);

type ChunkedState = 'size' | 'data' | 'data-crlf' | 'trailers' | 'done';

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ): checked loosely
// (extensions are ignored) but without control octets, so it cannot hide a line break.
const extensionPattern = /^[ \t]*;[\x20-\x7e\t]*$/;

/**
 * Decodes one body incrementally. Call {@link next} with the unconsumed input until it returns
 * `end`; `consumed` octets of the input were used by each step. Throws HttpProtocolError (400) on
 * malformed chunked framing.
 */
export class BodyDecoder {
  readonly #framing: BodyFraming;
  #remaining: number;
  #state: ChunkedState = 'size';
  #trailerBytes = 0;

  constructor(framing: BodyFraming) {
    this.#framing = framing;
    this.#remaining = framing.kind === 'length' ? framing.length : 0;
  }

  /** True once the whole body (and, for chunked, its trailers) has been decoded. */
  get done(): boolean {
    return this.#framing.kind === 'chunked' ? this.#state === 'done' : this.#remaining === 0;
  }

  /**
   * The next step for `bytes` (which start where the previous step's `consumed` ended):
   * data (a view of `bytes`), the end, or NEED_MORE. A `data` step never spans two chunks.
   */
  next(bytes: Uint8Array): BodyStep | typeof NEED_MORE {
    if (this.#framing.kind !== 'chunked') {
      if (this.#remaining === 0) return { type: 'end', consumed: 0 };
      if (bytes.length === 0) return NEED_MORE;
      const n = Math.min(bytes.length, this.#remaining);
      this.#remaining -= n;
      return { type: 'data', data: bytes.subarray(0, n), consumed: n };
    }
    let pos = 0;
    for (;;) {
      switch (this.#state) {
        case 'size': {
          const end = this.#line(bytes, pos, ChunkedLimits.maxSizeLine, 'chunk-size line');
          if (end === NEED_MORE) return progress(pos);
          this.#remaining = parseChunkSize(bytes.subarray(pos, end));
          pos = end + 2;
          this.#state = this.#remaining === 0 ? 'trailers' : 'data';
          break;
        }
        case 'data': {
          if (pos >= bytes.length) {
            return progress(pos);
          }
          const n = Math.min(bytes.length - pos, this.#remaining);
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = 'data-crlf';
          return { type: 'data', data: bytes.subarray(pos, pos + n), consumed: pos + n };
        }
        case 'data-crlf': {
          if (bytes.length - pos < 2) {
            if (bytes.length > pos && bytes[pos] !== CR)
              throw bad('chunk data not followed by CRLF');
            return progress(pos);
          }
          if (bytes[pos] !== CR || bytes[pos + 1] !== LF)
            throw bad('chunk data not followed by CRLF');
          pos += 2;
          this.#state = 'size';
          break;
        }
        case 'trailers': {
          const room = ChunkedLimits.maxTrailers - this.#trailerBytes;
          const end = this.#line(bytes, pos, room, 'trailer section');
          if (end === NEED_MORE) return progress(pos);
          const line = bytes.subarray(pos, end);
          this.#trailerBytes += line.length + 2;
          pos = end + 2;
          if (line.length === 0) {
            this.#state = 'done';
            return { type: 'end', consumed: pos };
          }
          checkTrailerLine(line);
          break;
        }
        case 'done':
          return { type: 'end', consumed: pos };
      }
    }
  }

  /** The CR index ending the line at `start`, NEED_MORE, or a 400 (bare LF, bare CR, too long). */
  #line(bytes: Uint8Array, start: number, max: number, what: string): number | typeof NEED_MORE {
    const limit = Math.min(bytes.length, start + max + 2);
    const lf = bytes.subarray(start, limit).indexOf(LF);
    if (lf === -1) {
      if (limit - start >= max + 2) throw bad(`${what} longer than ${max} octets`);
      return NEED_MORE;
    }
    const end = start + lf - 1;
    if (lf === 0 || bytes[end] !== CR) throw bad(`bare LF in the ${what}`);
    if (bytes.subarray(start, end).includes(CR)) throw bad(`bare CR in the ${what}`);
    return end;
  }
}

/** Framing consumed so far, or NEED_MORE when nothing was. */
function progress(consumed: number): BodyStep | typeof NEED_MORE {
  return consumed > 0 ? { type: 'framing', consumed } : NEED_MORE;
}

function parseChunkSize(line: Uint8Array): number {
  let digits = 0;
  while (digits < line.length && isHex(line[digits] ?? 0)) digits++;
  if (digits === 0) throw bad('chunk size is not hexadecimal');
  const text = String.fromCharCode(...line.subarray(0, digits));
  const rest = String.fromCharCode(...line.subarray(digits));
  if (rest !== '' && !extensionPattern.test(rest)) throw bad('malformed chunk extension');
  const significant = text.replace(/^0+/, '');
  if (significant.length > 13) throw bad('chunk size too large');
  return significant === '' ? 0 : parseInt(significant, 16);
}

function isHex(octet: number): boolean {
  return (
    (octet >= 0x30 && octet <= 0x39) ||
    (octet >= 0x41 && octet <= 0x46) ||
    (octet >= 0x61 && octet <= 0x66)
  );
}

function checkTrailerLine(line: Uint8Array): void {
  if (line[0] === 0x20 || line[0] === 0x09) throw bad('obs-fold in the trailer section');
  const colon = line.indexOf(0x3a);
  if (colon <= 0) throw bad('malformed trailer field');
  for (const octet of line) {
    if ((octet < 0x20 && octet !== 0x09) || octet === 0x7f)
      throw bad('control octet in a trailer field');
  }
}

// --- Encoding (responses) ---------------------------------------------------------------------

const CRLF = Uint8Array.of(CR, LF);
/** `0 CRLF CRLF`: the last chunk with an empty trailer section. */
export const LAST_CHUNK: Uint8Array = latin1Bytes('0\r\n\r\n');

/**
 * The pieces of one chunk for `data` (which must not be empty: an empty chunk is the last one):
 * size line, the data itself (not copied), CRLF.
 */
export function encodeChunk(data: Uint8Array): Uint8Array[] {
  return [latin1Bytes(`${data.length.toString(16)}\r\n`), data, CRLF];
}
