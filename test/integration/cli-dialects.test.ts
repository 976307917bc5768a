/** `ferry serve` with every dialect: --protocols, and the access log naming the dialect. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { run, serve } from '../helpers/cli.js';
import { connectTo, Reader, startEcho } from '../helpers/net.js';
import { readResponse, startOrigin } from '../helpers/http-raw.js';
import { parseSocks4Reply, socks4Request } from '../helpers/socks4.js';
import { connectIPv4, GREETING_NOAUTH } from '../helpers/socks5.js';

describe('ferry serve: dialects', () => {
  it('logs one access line per session naming the dialect, and one line per HTTP request', async () => {
    const echo = await startEcho();
    const origin = await startOrigin();
    const { child, port, logs } = await serve();
    try {
      const s4 = new Reader(await connectTo(port));
      s4.socket.write(socks4Request(0x01, '127.0.0.1', echo.port, 'ident-user'));
      assert.equal(parseSocks4Reply(await s4.read(8)).cd, 0x5a);
      s4.socket.end();
      await s4.readToEnd();

      const h = new Reader(await connectTo(port));
      const get = (p: string): string =>
        `GET http://127.0.0.1:${origin.port}${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
      h.socket.write(get('/a') + get('/b'));
      await readResponse(h);
      await readResponse(h);
      h.socket.end();
      await h.readToEnd();

      const socks4 = await logs.waitFor((l) => l.event === 'access' && l.dialect === 'socks4');
      assert.equal(socks4.userId, 'ident-user');
      assert.equal(socks4.reply, 0x00);
      assert.equal(socks4.user, undefined);
      const http = await logs.waitFor((l) => l.event === 'access' && l.dialect === 'http');
      assert.equal(http.httpMethod, 'GET');
      assert.equal(http.httpRequests, 2);
      assert.equal(http.reply, 0x00);
      assert.equal(http.httpStatus, 200);
      const requests = logs.lines.filter((l) => l.event === 'http-request');
      assert.deepEqual(
        requests.map((l) => [l.method, l.destination, l.status]),
        [
          ['GET', `127.0.0.1:${origin.port}`, 200],
          ['GET', `127.0.0.1:${origin.port}`, 200],
        ],
      );
    } finally {
      child.kill('SIGKILL');
      await echo.close();
      await origin.close();
    }
  });

  it('--protocols switches dialects off', async () => {
    const echo = await startEcho();
    const { child, port, logs } = await serve(['--protocols', 'socks5']);
    try {
      const h = new Reader(await connectTo(port));
      h.socket.write('GET http://127.0.0.1/ HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal((await h.readToEnd()).length, 0, 'HTTP is closed unanswered');
      await logs.waitFor((l) => l.event === 'access' && l.end === 'protocol-disabled');
      const s5 = new Reader(await connectTo(port));
      s5.socket.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', echo.port)]));
      assert.equal((await s5.read(12))[3], 0x00, 'SOCKS5 still answers');
      s5.socket.destroy();
      child.kill('SIGTERM');
      await once(child, 'exit');
    } finally {
      child.kill('SIGKILL');
      await echo.close();
    }
  });

  it('--protocols with an unknown name is a one-line error, exit 2', async () => {
    for (const value of ['socks6', '', 'http,gopher']) {
      const { code, stderr } = await run(['serve', '--protocols', value]);
      assert.equal(code, 2, stderr);
      assert.match(stderr, /^ferry: .*protocol/);
      assert.equal(stderr.trim().split('\n').length, 1);
    }
  });
});
