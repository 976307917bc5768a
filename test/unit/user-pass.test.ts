import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeUserPassRequest,
  decodeUserPassResponse,
  encodeUserPassRequest,
  encodeUserPassResponse,
} from '../../src/protocol/user-pass.js';
import { checkError, checkVector, hex } from '../helpers/vectors.js';

describe('RFC 1929 request', () => {
  it('decodes a hand-written request', () => {
    checkVector(
      // VER=01 | ULEN=5 | "alice" | PLEN=6 | "s3cr3t"
      hex('01 | 05 | 616c696365 | 06 | 733363723374'),
      { username: Buffer.from('alice'), password: Buffer.from('s3cr3t') },
      (b) => {
        const r = decodeUserPassRequest(b);
        return typeof r === 'symbol'
          ? r
          : {
              value: {
                username: Buffer.from(r.value.username),
                password: Buffer.from(r.value.password),
              },
              length: r.length,
            };
      },
      encodeUserPassRequest,
    );
  });
  it('carries 255-octet fields and arbitrary octets', () => {
    const u = Buffer.alloc(255, 0x75);
    const p = Buffer.alloc(255, 0xff);
    const bytes = Buffer.concat([Buffer.from([0x01, 0xff]), u, Buffer.from([0xff]), p]);
    const r = decodeUserPassRequest(bytes);
    assert.ok(typeof r !== 'symbol');
    assert.equal(r.length, 513);
    assert.deepEqual(Buffer.from(r.value.username), u);
    assert.deepEqual(Buffer.from(r.value.password), p);
  });
  it('rejects a wrong version and empty fields', () => {
    checkError(() => decodeUserPassRequest(hex('05')), 'ERR_SOCKS_BAD_VERSION');
    checkError(() => decodeUserPassRequest(hex('01 00')), 'ERR_SOCKS_BAD_CREDENTIALS_FORMAT');
    checkError(() => decodeUserPassRequest(hex('01 01 61 00')), 'ERR_SOCKS_BAD_CREDENTIALS_FORMAT');
  });
  it('refuses to encode empty or over-long fields', () => {
    assert.throws(() => encodeUserPassRequest({ username: '', password: 'x' }), {
      code: 'ERR_SOCKS_INVALID_ARGUMENT',
    });
    assert.throws(() => encodeUserPassRequest({ username: 'x', password: 'p'.repeat(256) }), {
      code: 'ERR_SOCKS_INVALID_ARGUMENT',
    });
  });
});

describe('RFC 1929 response', () => {
  it('decodes success and failure', () => {
    checkVector(hex('01 00'), { status: 0 }, decodeUserPassResponse, encodeUserPassResponse);
    checkVector(hex('01 01'), { status: 1 }, decodeUserPassResponse, encodeUserPassResponse);
    checkVector(hex('01 ff'), { status: 0xff }, decodeUserPassResponse, encodeUserPassResponse);
  });
  it('rejects a wrong version', () => {
    checkError(() => decodeUserPassResponse(hex('05 00')), 'ERR_SOCKS_BAD_VERSION');
  });
});
