/**
 * The whole server listens for every dialect on one port and picks one from the client's first
 * octet (SOCKS.md, "HTTP CONNECT"): 05 SOCKS5, 04 SOCKS4/4a, an ASCII letter HTTP; anything else
 * is closed unanswered. This oracle does the same pick independently and hands the session to
 * the oracle of that dialect, so one target's mutations cross from one dialect into another.
 */
import type { Dialect } from '../../src/rules/index.js';
import { hex, type DialectOracle, type Verification } from './server-target.js';
import { fail } from './target.js';

type Oracles = Readonly<Record<Dialect, DialectOracle<unknown>>>;

export type AnyModel =
  { readonly dialect: Dialect; readonly inner: unknown } | { readonly dialect: 'none' | 'unknown' };

function dialectOf(first: number | undefined): Dialect | 'none' | 'unknown' {
  if (first === undefined) return 'none';
  if (first === 0x05) return 'socks5';
  if (first === 0x04) return 'socks4';
  if ((first >= 0x41 && first <= 0x5a) || (first >= 0x61 && first <= 0x7a)) return 'http';
  return 'unknown';
}

/**
 * One oracle over all dialects. `oracles` must agree on `users`; the corpus is theirs together.
 */
export function anyDialectOracle(oracles: Oracles): DialectOracle<AnyModel> {
  const users = oracles.socks5.users;
  if (oracles.socks4.users !== users || oracles.http.users !== users)
    throw new Error('anyDialectOracle: the oracles disagree about users');
  const model = (stream: Uint8Array): AnyModel => {
    const dialect = dialectOf(stream[0]);
    if (dialect === 'none' || dialect === 'unknown') return { dialect };
    return { dialect, inner: oracles[dialect].model(stream) };
  };
  return {
    dialect: 'socks5',
    corpus: [...oracles.socks5.corpus, ...oracles.socks4.corpus, ...oracles.http.corpus],
    users,
    model,
    validate: (entry) => {
      const m = model(entry);
      if (m.dialect === 'none' || m.dialect === 'unknown') fail('corpus', 'no dialect');
      oracles[m.dialect].validate(entry);
    },
    succeeded: (out, m) =>
      m.dialect !== 'none' && m.dialect !== 'unknown' && 'inner' in m
        ? oracles[m.dialect].succeeded(out, m.inner)
        : false,
    verify: async (v) => {
      const m = v.model;
      if (m.dialect === 'none' || m.dialect === 'unknown' || !('inner' in m)) {
        // Closed unanswered, nothing dialled.
        if (v.output.length > 0)
          fail('answers', `answered an unknown protocol: ${hex(v.output.subarray(0, 32))}`);
        if (v.dials.length > 0) fail('no-unchecked-dial', 'dialled for an unknown protocol');
        return;
      }
      const dialect = m.dialect;
      const inner: Verification<unknown> = {
        ...v,
        model: m.inner,
        decide: (host, port, user) => v.decideAs(host, port, user, dialect),
      };
      if (v.record.dialect !== undefined && v.record.dialect !== dialect) {
        fail('dialect', `the server took ${v.record.dialect} for ${dialect}`);
      }
      await oracles[dialect].verify(inner);
    },
  };
}
