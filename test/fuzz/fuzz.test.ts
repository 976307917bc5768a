/**
 * The short fuzz run of `npm test` (fixed seed: the same inputs every time), the corpus's own
 * validity, and proof that the property checks catch the bugs they are for. Long runs:
 * `npm run fuzz -- --minutes N`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NEED_MORE, type DecodeResult } from '../../src/protocol/decode.js';
import { SocksProtocolError, ProtocolErrorCode } from '../../src/errors.js';
import { corpus } from './corpus.js';
import { runFuzz } from './runner.js';
import { decoder, type FuzzTarget } from './target.js';
import { targets } from './targets.js';

const SEED = 20_240_817;
/** Inputs per target in the short run: cheap decoders get many, whole-server sessions fewer. */
const shortRun = (t: FuzzTarget): number => (t.concurrency !== undefined ? 400 : 3000);

describe('fuzz corpus', () => {
  for (const t of targets) {
    it(`${t.name}: every hand-written entry is the valid message it claims to be`, async () => {
      await t.setup?.();
      try {
        const entries = t.corpus.flatMap((c) => corpus(c));
        assert.ok(entries.length > 0, 'no corpus');
        for (const e of entries) {
          const bytes = t.prepare?.(e).bytes ?? e.bytes;
          assert.doesNotThrow(() => t.validate?.(bytes), e.id);
        }
      } finally {
        await t.teardown?.();
      }
    });
  }
});

describe('fuzz: short run (fixed seed)', () => {
  for (const t of targets) {
    it(`${t.name}: ${shortRun(t)} inputs, every property holds`, async () => {
      const { stats, failures } = await runFuzz({ seed: SEED, targets: [t], inputs: shortRun });
      assert.equal(stats[0]?.inputs, shortRun(t));
      assert.deepEqual(
        failures.map((f) => `#${f.index} ${f.message.split('\n')[0] ?? ''}`),
        [],
        'failing inputs were saved to test/fixtures/fuzz-regressions',
      );
    });
  }
});

/** Decoders with one planted bug each: the fuzzer must find every one (in a short run). */
describe('fuzz: the checks catch planted bugs', () => {
  const good = (b: Uint8Array): DecodeResult<number[]> => {
    // "VER=05, N, N octets" — a greeting-shaped toy decoder.
    if (b.length < 1) return NEED_MORE;
    if (b[0] !== 0x05) throw new SocksProtocolError(ProtocolErrorCode.BadVersion, 'version');
    if (b.length < 2) return NEED_MORE;
    const n = b[1]!;
    if (b.length < 2 + n) return NEED_MORE;
    return { value: [...b.subarray(2, 2 + n)], length: 2 + n };
  };
  const planted: [string, string[], (b: Uint8Array) => DecodeResult<number[]>][] = [
    [
      'an untyped exception',
      ['typed-errors'],
      (b) => {
        if (b.includes(0xff)) throw new RangeError('boom');
        return good(b);
      },
    ],
    [
      'unbounded buffering (waits forever for a missing terminator)',
      ['bounded-buffering'],
      (b) => (b.length > 0 && b[0] !== 0x05 ? NEED_MORE : good(b)),
    ],
    [
      'a decision that depends on octets past the message (look-ahead)',
      ['no-look-ahead', 'chunking'],
      (b) => {
        const r = good(b);
        if (r !== NEED_MORE && b.length > r.length && b[r.length] === 0) return NEED_MORE;
        return r;
      },
    ],
    [
      'a decoder that modifies its input',
      ['input-unmodified'],
      (b) => {
        const r = good(b);
        if (r !== NEED_MORE && b.length > 3) b[2] = 0;
        return r;
      },
    ],
    [
      'an error that depends on how the input was chunked',
      ['chunking'],
      (b) => {
        if (b.length === 1 && b[0] === 0x05) {
          throw new SocksProtocolError(ProtocolErrorCode.BadMessage, 'too short');
        }
        return good(b);
      },
    ],
  ];
  for (const [what, properties, decode] of planted) {
    it(`finds ${what}`, async () => {
      const target = decoder('planted', decode, { corpus: ['socks5-greeting'], maxLength: 257 });
      const { failures } = await runFuzz({
        seed: SEED,
        targets: [target],
        inputs: () => 3000,
        save: false,
        maxFailuresPerTarget: 1,
      });
      const found = failures[0];
      assert.ok(found !== undefined, 'the planted bug went unnoticed');
      assert.ok(properties.includes(found.property), found.message);
    });
  }
});
