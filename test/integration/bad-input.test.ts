/**
 * Malformed and hostile handshakes, each answered exactly as the RFCs say, and the server keeps
 * serving other clients afterwards.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectTo, Reader, startEcho, startFerry } from '../helpers/net.js';
import {
  connectIPv4,
  GREETING_NOAUTH,
  GREETING_USERPASS,
  hex,
  parseReply,
  userPass,
} from '../helpers/socks5.js';
import { UserDatabase } from '../../src/auth/users.js';
import { hashPassword } from '../../src/auth/password.js';

async function exchange(
  port: number,
  bytes: Buffer,
  expectedLength: number,
): Promise<{ got: Buffer; closed: boolean }> {
  const socket = await connectTo(port);
  const reader = new Reader(socket);
  socket.write(bytes);
  const got = expectedLength > 0 ? await reader.read(expectedLength) : Buffer.alloc(0);
  const closed = await reader.closed(4000);
  const rest = await reader.readToEnd(100).catch(() => Buffer.alloc(0));
  socket.destroy();
  return { got: Buffer.concat([got, rest]), closed };
}

describe('bad input (no auth)', () => {
  let ferry: Awaited<ReturnType<typeof startFerry>>;
  let echo: Awaited<ReturnType<typeof startEcho>>;
  before(async () => {
    ferry = await startFerry({ handshakeTimeout: 3000 });
    echo = await startEcho();
  });
  after(async () => {
    await ferry.close();
    await echo.close();
  });

  const cases: [string, string, string][] = [
    ['wrong VER in the greeting: closed without a reply', '06 01 00', ''],
    ['zero methods: 05 FF', '05 00', '05 ff'],
    ['no acceptable method offered (only username/password): 05 FF', '05 01 02', '05 ff'],
    [
      'unknown CMD 04: full-length 07',
      '05 01 00 | 05 04 00 01 7f000001 0050',
      '05 00 | 05 07 00 01 00000000 0000',
    ],
    [
      'unknown CMD 00: full-length 07',
      '05 01 00 | 05 00 00 01 7f000001 0050',
      '05 00 | 05 07 00 01 00000000 0000',
    ],
    [
      'unknown ATYP 02: full-length 08',
      '05 01 00 | 05 01 00 02 7f000001 0050',
      '05 00 | 05 08 00 01 00000000 0000',
    ],
    [
      'zero-length domain: full-length 01',
      '05 01 00 | 05 01 00 03 00 0050',
      '05 00 | 05 01 00 01 00000000 0000',
    ],
    [
      'wrong VER in the request: full-length 01',
      '05 01 00 | 04 01 00 01 7f000001 0050',
      '05 00 | 05 01 00 01 00000000 0000',
    ],
  ];
  for (const [name, send, expect] of cases) {
    it(name, async () => {
      const { got, closed } = await exchange(ferry.port, hex(send), hex(expect).length);
      assert.deepEqual(got, hex(expect));
      assert.ok(closed, 'the server closes');
    });
  }

  it('truncated greeting then FIN: closed', async () => {
    const { got, closed } = await exchange(ferry.port, hex('05 03 00'), 0);
    assert.equal(got.length, 0);
    assert.ok(closed);
  });

  it('a request truncated inside its address, then FIN: closed without a reply', async () => {
    const socket = await connectTo(ferry.port);
    const reader = new Reader(socket);
    socket.end(hex('05 01 00 | 05 01 00 01 7f00'));
    assert.deepEqual(await reader.readToEnd(), hex('05 00'));
  });

  it('still serves a good client after all of that', async () => {
    const socket = await connectTo(ferry.port);
    const reader = new Reader(socket);
    socket.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', echo.port)]));
    await reader.read(2);
    assert.equal(parseReply(await reader.read(10)).rep, 0);
    socket.write('ok');
    assert.equal((await reader.read(2)).toString(), 'ok');
    socket.destroy();
  });
});

describe('bad input (username/password)', () => {
  let ferry: Awaited<ReturnType<typeof startFerry>>;
  let echo: Awaited<ReturnType<typeof startEcho>>;
  const longName = 'u'.repeat(255);
  const longPass = 'p'.repeat(255);
  before(async () => {
    const users = UserDatabase.parse(
      `alice:${await hashPassword('wonderland')}\n${longName}:${await hashPassword(longPass)}\n`,
    );
    ferry = await startFerry({ users });
    echo = await startEcho();
  });
  after(async () => {
    await ferry.close();
    await echo.close();
  });

  const cases: [string, string, string][] = [
    ['no-auth only offered when auth is required: 05 FF', '05 01 00', '05 ff'],
    [
      'wrong RFC 1929 version: 01 01',
      '05 01 02 | 05 05 616c696365 0a 776f6e6465726c616e64',
      '05 02 | 01 01',
    ],
    ['empty username: 01 01', '05 01 02 | 01 00 01 78', '05 02 | 01 01'],
    ['empty password: 01 01', '05 01 02 | 01 05 616c696365 00', '05 02 | 01 01'],
    ['wrong password: 01 01', '05 01 02 | 01 05 616c696365 04 6e6f7065', '05 02 | 01 01'],
    ['unknown user: 01 01', '05 01 02 | 01 03 626f62 0a 776f6e6465726c616e64', '05 02 | 01 01'],
  ];
  for (const [name, send, expect] of cases) {
    it(name, async () => {
      const { got, closed } = await exchange(ferry.port, hex(send), hex(expect).length);
      assert.deepEqual(got, hex(expect));
      assert.ok(closed);
    });
  }

  it('255-octet username and password are accepted', async () => {
    const socket = await connectTo(ferry.port);
    const reader = new Reader(socket);
    socket.write(
      Buffer.concat([
        GREETING_USERPASS,
        userPass(longName, longPass),
        connectIPv4('127.0.0.1', echo.port),
      ]),
    );
    assert.deepEqual(await reader.read(4), hex('05 02 01 00'));
    assert.equal(parseReply(await reader.read(10)).rep, 0);
    socket.destroy();
  });

  it('right credentials, pipelined with the request and payload', async () => {
    const socket = await connectTo(ferry.port);
    const reader = new Reader(socket);
    socket.write(
      Buffer.concat([
        hex('05 02 00 02'),
        userPass('alice', 'wonderland'),
        connectIPv4('127.0.0.1', echo.port),
        Buffer.from('hi'),
      ]),
    );
    assert.deepEqual(await reader.read(4), hex('05 02 01 00'));
    assert.equal(parseReply(await reader.read(10)).rep, 0);
    assert.equal((await reader.read(2)).toString(), 'hi');
    const live = ferry.server.sessions().find((s) => s.user === 'alice');
    assert.equal(live?.method, 'username');
    socket.destroy();
  });
});
