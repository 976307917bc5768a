/**
 * File-descriptor exhaustion: ferry runs under `ulimit -n 128` and gets more clients than it
 * has descriptors for (each tunnel costs two). It must not crash; tunnels already open keep
 * working; every client must get an answer (a reply, or a close) rather than hang; and when the
 * load drops it serves again, with its descriptors back where they started.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { FerryChild } from '../helpers/ferry-child.js';
import { connectTo, Reader, startEcho } from '../helpers/net.js';
import { connectIPv4, GREETING_NOAUTH } from '../helpers/socks5.js';

const LIMIT = 128;
const CLIENTS = 300;

type Outcome = 'tunnel' | `reply ${number}` | 'closed' | 'hung';

/** One client: greeting + CONNECT to the echo; resolves with what it got, keeping a tunnel open. */
function attempt(port: number, echoPort: number, keep: net.Socket[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    keep.push(socket);
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      resolve('hung');
    }, 15_000);
    const done = (o: Outcome): void => {
      clearTimeout(timer);
      resolve(o);
    };
    socket.on('connect', () => {
      socket.write(
        Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', echoPort), Buffer.from('x')]),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 12) done(got[3] === 0x00 ? 'tunnel' : `reply ${got[3] ?? -1}`);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      done(got.length >= 12 ? (got[3] === 0 ? 'tunnel' : `reply ${got[3] ?? -1}`) : 'closed');
    });
  });
}

describe(`file-descriptor exhaustion (ulimit -n ${LIMIT})`, () => {
  let ferry: FerryChild;
  let echo: Awaited<ReturnType<typeof startEcho>>;
  before(async () => {
    echo = await startEcho();
    ferry = await FerryChild.start({ options: { handshakeTimeout: 5000 } }, { ulimit: LIMIT });
  });
  after(async () => {
    await ferry.close();
    await echo.close();
  });

  async function tunnel(): Promise<{ socket: net.Socket; reader: Reader }> {
    const socket = await connectTo(ferry.port);
    const reader = new Reader(socket);
    socket.write(Buffer.concat([GREETING_NOAUTH, connectIPv4('127.0.0.1', echo.port)]));
    await reader.read(2);
    assert.equal((await reader.read(10))[1], 0x00);
    return { socket, reader };
  }

  async function ping(t: { socket: net.Socket; reader: Reader }, text: string): Promise<void> {
    t.socket.write(text);
    assert.equal((await t.reader.read(text.length)).toString(), text);
  }

  it(`${CLIENTS} clients at once: no crash, tunnels keep working, every client answered, recovery`, async (t) => {
    const baseline = await ferry.stats();
    const early = [];
    for (let i = 0; i < 10; i++) early.push(await tunnel());
    const sockets: net.Socket[] = [];
    const outcomes = await Promise.all(
      Array.from({ length: CLIENTS }, () => attempt(ferry.port, echo.port, sockets)),
    );
    const tally: Record<string, number> = {};
    for (const o of outcomes) tally[o] = (tally[o] ?? 0) + 1;
    t.diagnostic(`descriptors at start ${baseline.fds}; outcomes ${JSON.stringify(tally)}`);
    assert.ok(ferry.alive, `ferry died: ${ferry.stderr}`);
    assert.equal(tally.hung, undefined, 'clients were left hanging');
    assert.ok(
      (tally.tunnel ?? 0) < CLIENTS,
      'the limit was never reached: the test proves nothing',
    );
    // The tunnels opened before the flood were not disturbed by it.
    for (const [i, e] of early.entries()) await ping(e, `still here ${i}`);
    for (const e of early) e.socket.destroy();

    for (const s of sockets) s.destroy();
    let stats = await ferry.stats();
    for (let i = 0; i < 100 && (stats.active > 0 || stats.fds > baseline.fds + 2); i++) {
      await new Promise((r) => setTimeout(r, 100));
      stats = await ferry.stats();
    }
    assert.equal(stats.active, 0, 'sessions left after every client left');
    assert.ok(stats.fds <= baseline.fds + 2, `descriptors ${baseline.fds} → ${stats.fds}`);

    // Load dropped: ferry serves normally again.
    for (let i = 0; i < 10; i++) {
      const again = await tunnel();
      await ping(again, `again ${i}`);
      again.socket.destroy();
    }
    assert.ok(ferry.alive);
  });
});
