/**
 * Credential timing: over a real loopback connection, "unknown user" and "wrong password" take
 * the same time to be refused, so response times do not tell an attacker which user names
 * exist. Many interleaved trials in a seeded random order, compared robustly (medians, and the
 * probability that one kind of trial is slower than the other, from a rank test) with generous
 * bounds. A positive control — two real users whose hashes cost 1× and 4× — proves the same
 * measurement does see a difference of that size (the bug it guards against was 20×). The auth-failure throttle is off.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectTo, Reader, startFerry } from '../helpers/net.js';
import { GREETING_USERPASS, hex, userPass } from '../helpers/socks5.js';
import { UserDatabase } from '../../src/auth/users.js';
import { hashPassword } from '../../src/auth/password.js';
import { Rng } from '../fuzz/rng.js';

/** Cheaper than the default (ln=14), as an operator may choose: the decoy must follow suit. */
const PARAMS = { ln: 10, r: 8, p: 1 };
const TRIALS = 120;
const WARM_UP = 10;

/** Milliseconds from sending greeting + credentials to reading the refusal. */
async function refusalTime(port: number, user: string, password: string): Promise<number> {
  const socket = await connectTo(port);
  const reader = new Reader(socket);
  const started = process.hrtime.bigint();
  socket.write(Buffer.concat([GREETING_USERPASS, userPass(user, password)]));
  const answer = await reader.read(4);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  socket.destroy();
  assert.deepEqual(answer, hex('05 02 01 01'), `${user} was not refused`);
  return ms;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The median over trial pairs (run back to back) of a/b: drift in machine load cancels out. */
function pairedRatio(a: readonly number[], b: readonly number[]): number {
  return Math.exp(median(a.map((x, i) => Math.log(x / b[i]!))));
}

/**
 * P(a random trial of `a` is slower than one of `b`), ties counting half: the Mann-Whitney U
 * statistic divided by n·m. 0.5 = indistinguishable; near 0 or 1 = told apart every time.
 */
function superiority(a: readonly number[], b: readonly number[]): number {
  let u = 0;
  for (const x of a) for (const y of b) u += x > y ? 1 : x === y ? 0.5 : 0;
  return u / (a.length * b.length);
}

/** Runs both kinds of trial interleaved in a seeded random order. */
async function compare(
  port: number,
  first: [string, string],
  second: [string, string],
): Promise<{ a: number[]; b: number[] }> {
  const rng = new Rng(0x7157);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < WARM_UP + TRIALS; i++) {
    const order = rng.chance(0.5);
    const ta = order ? await refusalTime(port, ...first) : 0;
    const tb = await refusalTime(port, ...second);
    const ta2 = order ? ta : await refusalTime(port, ...first);
    if (i < WARM_UP) continue;
    a.push(ta2);
    b.push(tb);
  }
  return { a, b };
}

describe('credential timing', () => {
  let ferry: Awaited<ReturnType<typeof startFerry>>;
  before(async () => {
    const alice = await hashPassword('correct horse', PARAMS);
    const bob = await hashPassword('battery staple', PARAMS);
    const carol = await hashPassword('four times the work', { ...PARAMS, ln: PARAMS.ln + 2 });
    const users = UserDatabase.parse(`alice:${alice}\nbob:${bob}\ncarol:${carol}\n`);
    ferry = await startFerry({ users, authFailureLimit: 0 });
  });
  after(async () => {
    await ferry.close();
  });

  it('an unknown user and a wrong password cannot be told apart by response time', async (t) => {
    const { a: unknown, b: wrong } = await compare(
      ferry.port,
      ['mallory', 'guess'],
      ['alice', 'guess'],
    );
    const ratio = pairedRatio(unknown, wrong);
    const p = superiority(unknown, wrong);
    const summary = `medians ${median(unknown).toFixed(2)} vs ${median(wrong).toFixed(2)} ms, paired ratio ${ratio.toFixed(2)}, P(unknown slower) ${p.toFixed(2)}`;
    t.diagnostic(summary);
    // A decoy with other scrypt parameters than the users' gave ratio 20 and P 1.00 here.
    assert.ok(ratio > 0.75 && ratio < 1.33, summary);
    assert.ok(p > 0.25 && p < 0.75, summary);
  });

  it('control: the same measurement tells apart two users whose hashes cost 1× and 4×', async (t) => {
    const { a: slow, b: single } = await compare(ferry.port, ['carol', 'guess'], ['bob', 'guess']);
    const ratio = pairedRatio(slow, single);
    const p = superiority(slow, single);
    const summary = `medians ${median(slow).toFixed(2)} vs ${median(single).toFixed(2)} ms, paired ratio ${ratio.toFixed(2)}, P ${p.toFixed(2)}`;
    t.diagnostic(summary);
    assert.ok(ratio > 1.5 && p > 0.75, `the measurement cannot see a 4× difference: ${summary}`);
  });
});
