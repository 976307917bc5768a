/** The `socks` npm package (an independent client implementation) against ferry. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SocksClient } from 'socks';
import { startEcho, startFerry } from '../helpers/net.js';
import { UserDatabase } from '../../src/auth/users.js';
import { hashPassword } from '../../src/auth/password.js';

describe('the socks npm client', () => {
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let open: Awaited<ReturnType<typeof startFerry>>;
  let authed: Awaited<ReturnType<typeof startFerry>>;
  before(async () => {
    echo = await startEcho();
    open = await startFerry();
    authed = await startFerry({
      users: UserDatabase.parse(`bob:${await hashPassword('builder')}\n`),
    });
  });
  after(async () => {
    await Promise.all([echo.close(), open.close(), authed.close()]);
  });

  it('CONNECT by IP, and by name', async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const { socket } = await SocksClient.createConnection({
        proxy: { host: '127.0.0.1', port: open.port, type: 5 },
        command: 'connect',
        destination: { host, port: echo.port },
        timeout: 5000,
      });
      socket.write(`via ${host}`);
      const chunk = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
      assert.equal(chunk.toString(), `via ${host}`);
      socket.destroy();
    }
  });

  it('username/password right and wrong', async () => {
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: authed.port, type: 5, userId: 'bob', password: 'builder' },
      command: 'connect',
      destination: { host: '127.0.0.1', port: echo.port },
      timeout: 5000,
    });
    socket.destroy();
    await assert.rejects(
      SocksClient.createConnection({
        proxy: { host: '127.0.0.1', port: authed.port, type: 5, userId: 'bob', password: 'wrong' },
        command: 'connect',
        destination: { host: '127.0.0.1', port: echo.port },
        timeout: 5000,
      }),
      /authentication failed/i,
    );
  });

  it('a refused destination is reported with its reply code', async () => {
    await assert.rejects(
      SocksClient.createConnection({
        proxy: { host: '127.0.0.1', port: open.port, type: 5 },
        command: 'connect',
        destination: { host: '127.0.0.1', port: 1 },
        timeout: 5000,
      }),
      /ConnectionRefused/,
    );
  });
});
