import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UserDatabase } from '../../src/auth/users.js';
import { hashPassword, parsePasswordHash } from '../../src/auth/password.js';

describe('users file', () => {
  it('verifies right, wrong, unknown and non-UTF-8 names', async () => {
    const db = UserDatabase.parse(`# comment\n\nalice:${await hashPassword('pw')}:admins,ops\n`);
    assert.deepEqual(db.names(), ['alice']);
    assert.deepEqual(db.get('alice')?.groups, ['admins', 'ops']);
    assert.equal(await db.verify(Buffer.from('alice'), Buffer.from('pw')), 'alice');
    assert.equal(await db.verify(Buffer.from('alice'), Buffer.from('PW')), undefined);
    assert.equal(await db.verify(Buffer.from('mallory'), Buffer.from('pw')), undefined);
    assert.equal(await db.verify(Buffer.from([0xff, 0xfe]), Buffer.from('pw')), undefined);
  });

  it('names the file and line of a bad entry', async () => {
    const good = await hashPassword('x');
    const cases: [string, RegExp][] = [
      [`alice:${good}\nbob\n`, /^users:2: expected name:hash/],
      [`alice:${good}\nalice:${good}\n`, /^users:2: duplicate user "alice"/],
      [`\n\ncarol:plaintext\n`, /^users:3: user "carol": not a PHC scrypt hash/],
      [`dave:${good}:bad group!\n`, /^users:1: user "dave": invalid group name/],
      [` :${good}\n`, /^users:1: /],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => UserDatabase.parse(text, 'users'), {
        code: 'ERR_SOCKS_INVALID_OPTION',
        message,
      });
    }
  });

  it('reports an unreadable file in one sentence', async () => {
    await assert.rejects(UserDatabase.load('/nonexistent/users'), {
      message: 'cannot read users file /nonexistent/users (ENOENT)',
    });
  });

  it('parses and rejects PHC strings', () => {
    // A hand-written hash: ln=4 (N=16), r=8, p=1, 16-octet salt, 32-octet hash, unpadded base64.
    const h = parsePasswordHash(
      '$scrypt$ln=4,r=8,p=1$AAECAwQFBgcICQoLDA0ODw$AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8',
    );
    assert.equal(h?.ln, 4);
    assert.equal(h.salt.length, 16);
    assert.equal(h.hash.length, 32);
    for (const bad of [
      '',
      '$scrypt$ln=99,r=8,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA',
      '$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA',
      '$scrypt$ln=14,r=8,p=1$AA$AA',
    ]) {
      assert.equal(parsePasswordHash(bad), undefined, bad);
    }
  });
});
