/**
 * The whole server as a fuzz target: each input is one client session, served by the
 * ServerHarness over an in-memory socket and judged by the oracle of its dialect (an independent
 * reading of the client's bytes — socks5-oracle.ts). Checked for every session, in every dialect:
 *
 * - nothing throws out of the server while it handles our bytes;
 * - it answers exactly what the oracle calls for, and after a success the echo returns every octet
 *   the client sent after its request (never drop a byte), else nothing more;
 * - no outbound connection (`ferry:dial:start`) unless the request was complete, authenticated
 *   and allowed — then exactly one, to the checked destination; and a valid allowed request does
 *   get through;
 * - bounded read-ahead: when the server answers a message (or dials), it has read no further than
 *   the chunk that completed that message — it stops reading while it decides;
 * - every session ends: the socket closes; a client FIN during the handshake ends it at once (not
 *   at the handshake deadline); a stalled client is cut off at the deadline; none is left over.
 *
 * With `proxied`, the session comes from a trusted balancer and starts with a PROXY header (v1/v2),
 * whose end is found by ferry's own decoder (fuzzed on its own); what follows must behave exactly
 * as a direct session, and a bad or incomplete header must get no answer and no dial.
 */
import type { Dialect } from '../../src/rules/index.js';
import type { SessionRecord } from '../../src/server/session-record.js';
import { decodeProxyHeader } from '../../src/protocol/proxy-protocol.js';
import { NEED_MORE } from '../../src/protocol/decode.js';
import { withPort } from './corpus.js';
import { hashString } from './rng.js';
import { fail, type FuzzTarget } from './target.js';
import { ServerHarness, type Decision, type Dial, type Variant } from './server-harness.js';

/** What an oracle gets to judge one session. Offsets count within `stream`. */
export interface Verification<M> {
  readonly model: M;
  /** The client's octets after any PROXY header (flood included). */
  readonly stream: Uint8Array;
  readonly output: Buffer;
  readonly record: SessionRecord;
  readonly dials: readonly Dial[];
  /** The client stalled and the deadline ended the session: the answers may stop early. */
  readonly cutShort: boolean;
  /** Where the delivery piece holding `offset` ends (the server reads whole pieces). */
  chunkEnd(offset: number): number;
  /**
   * Fails unless, when the output first reached `outputEnd` octets, the server had read no
   * further than the piece that completed the client message ending at `messageEnd`.
   */
  readAhead(what: string, outputEnd: number, messageEnd: number | undefined): void;
  decide(host: string, port: number, user: string | undefined): Promise<Decision>;
  /** {@link decide} for a session of another dialect (a multi-dialect oracle picks per input). */
  decideAs(
    host: string,
    port: number,
    user: string | undefined,
    dialect: Dialect,
  ): Promise<Decision>;
}

/** An independent reading of one dialect's client bytes, and the judgement of a session. */
export interface DialectOracle<M> {
  readonly dialect: Dialect;
  /** Corpus files of whole client streams (`@port` marks the destination port). */
  readonly corpus: readonly string[];
  /** Whether the server has users (username/password required). */
  readonly users: boolean;
  model(stream: Uint8Array): M;
  /** Fails when a corpus entry is not a complete valid request. */
  validate(entry: Uint8Array): void;
  /** True once `output` holds a success answer. */
  succeeded(output: Uint8Array, model: M): boolean;
  verify(v: Verification<M>): Promise<void>;
}

/** FNV over the octets: picks the delivery variant so that an input always replays the same way. */
function variantOf(input: Uint8Array): Variant {
  let h = hashString('variant');
  for (const b of input) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return { fin: (h & 3) !== 0, yieldBetween: (h & 4) !== 0, flood: (h & 0x18) === 0 };
}

const FLOOD_CHUNKS = 16;
const FLOOD_CHUNK = 1024;

function proxyHeaderLength(bytes: Uint8Array): number | undefined {
  try {
    const h = decodeProxyHeader(bytes);
    return h === NEED_MORE ? undefined : h.length;
  } catch {
    return undefined;
  }
}

export function serverTarget<M>(
  name: string,
  oracle: DialectOracle<M>,
  options: { proxied?: boolean; corpus?: readonly string[] } = {},
): FuzzTarget {
  const proxied = options.proxied === true;
  const harness = new ServerHarness({ users: oracle.users });
  return {
    name,
    corpus: options.corpus ?? oracle.corpus,
    maxInput: 1200,
    concurrency: 32,
    weight: 4,
    setup: () => harness.setup(),
    teardown: () => harness.teardown(),
    prepare: (entry) => withPort(entry, harness.echoPort),
    validate: (entry) => {
      const at = proxied ? proxyHeaderLength(entry) : 0;
      if (at === undefined) fail('corpus', 'no complete PROXY header');
      oracle.validate(entry.subarray(at));
    },
    async check(input, cuts) {
      const variant = variantOf(input);
      // The stream the client sends: the input, and (flood variant) 16 KiB more right after it.
      let stream = input;
      let ends = [...cuts.filter((c) => c > 0 && c < input.length), input.length];
      if (variant.flood) {
        stream = new Uint8Array(input.length + FLOOD_CHUNKS * FLOOD_CHUNK);
        stream.set(input);
        stream.fill(input.length & 0xff, input.length);
        for (let i = 1; i <= FLOOD_CHUNKS; i++) ends.push(input.length + i * FLOOD_CHUNK);
      }
      ends = [...new Set(ends)].filter((e) => e > 0).sort((a, b) => a - b);
      const prefix = proxied ? proxyHeaderLength(stream) : 0;
      const inner = stream.subarray(prefix ?? stream.length);
      const model = prefix === undefined ? undefined : oracle.model(inner);
      const served = await harness.run(stream, ends, variant, {
        proxied,
        succeeded: (out) => model !== undefined && oracle.succeeded(out, model),
      });
      if (model === undefined || prefix === undefined) {
        // A bad or incomplete PROXY header: nothing may be answered or dialled.
        if (served.output.length > 0)
          fail('answers', `answered a session without a valid PROXY header`);
        if (served.dials.length > 0)
          fail('no-unchecked-dial', 'dialled without a valid PROXY header');
        return;
      }
      const chunkEnd = (offset: number): number =>
        (ends.find((e) => e >= offset + prefix) ?? stream.length) - prefix;
      await oracle.verify({
        model,
        stream: inner,
        output: served.output,
        record: served.record,
        dials: served.dials.map((d) => ({ ...d, consumed: d.consumed - prefix })),
        cutShort: !variant.fin && served.record.endReason === 'handshake-timeout',
        chunkEnd,
        readAhead: (what, outputEnd, messageEnd) => {
          if (messageEnd === undefined) return;
          const write = served.writes.find((w) => w.outputLength >= outputEnd);
          if (write !== undefined && write.consumed - prefix > chunkEnd(messageEnd)) {
            fail(
              'bounded-read-ahead',
              `${what} written after reading ${write.consumed - prefix} octets; the message ended at ${messageEnd}, its piece at ${chunkEnd(messageEnd)}`,
            );
          }
        },
        decide: (host, port, user) => harness.decide(host, port, user, oracle.dialect),
        decideAs: (host, port, user, dialect) => harness.decide(host, port, user, dialect),
      });
    },
  };
}

/**
 * The checks every dialect shares once a request is complete and `decision` says what the rules
 * make of it: no dial when refused; exactly one, to the checked destination, not read past the
 * request, when allowed (unless the deadline cut the session short first).
 */
export function checkDials<M>(
  v: Verification<M>,
  decision: Decision | undefined,
  requestEnd: number,
  describe: () => string,
): void {
  if (decision === undefined || 'refused' in decision) {
    if (v.dials.length > 0)
      fail('no-unchecked-dial', `dialled ${JSON.stringify(v.dials)} for ${describe()}`);
    return;
  }
  if (v.dials.length === 0 && v.cutShort) return;
  if (v.dials.length !== 1)
    fail('dial', `${v.dials.length} dials for an allowed request (${describe()})`);
  const d = v.dials[0]!;
  if (d.host !== decision.dial.host || d.port !== decision.dial.port) {
    fail(
      'dial',
      `dialled ${d.host}:${d.port}; the checked destination was ${decision.dial.host}:${decision.dial.port}`,
    );
  }
  if (d.consumed > v.chunkEnd(requestEnd)) {
    fail(
      'bounded-read-ahead',
      `dialled after reading ${d.consumed} octets; the request ended at ${requestEnd}`,
    );
  }
}

/** After a success answer ending at output offset `at`: the echo of everything sent after the request. */
export function checkEcho<M>(v: Verification<M>, at: number, requestEnd: number): void {
  const rest = v.output.subarray(at);
  const sent = v.stream.subarray(requestEnd);
  if (!Buffer.from(sent).equals(rest)) {
    fail(
      'no-byte-dropped',
      `sent ${sent.length} octets after the request, ${rest.length} came back (end ${v.record.endReason})`,
    );
  }
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
