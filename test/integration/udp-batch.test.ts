// Batched UDP I/O (src/relay/udp-batch.ts): socket addresses by hand, recvmmsg/sendmmsg over
// real loopback sockets, and the relay taking a burst through the batch — every datagram arrives
// intact both ways, counted, including those the relay holds past the batch (a name being
// resolved, fragments being reassembled), which must be copies of the reused receive memory.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import {
  createDatagramBatch,
  datagramBatch,
  RECEIVE_BATCH,
  SEND_BATCH,
  socketFd,
  socketName,
  TURN_BUDGET,
  type DatagramBatch,
  type Koffi,
} from '../../src/relay/udp-batch.js';
import { UdpRelay, type UdpCounters } from '../../src/relay/udp.js';
import { openAssociationSocket } from '../../src/relay/udp-socket.js';
import { compilePolicy, type IpAddress } from '../../src/rules/index.js';
import { parseStrictAddress } from '../../src/rules/ip.js';
import { encodeUdpDatagram } from '../../src/protocol/udp.js';
import { startUdpEcho, UdpEndpoint } from '../helpers/udp.js';
import { hex } from '../helpers/vectors.js';

/** The batch, or why this machine has none (fails under CI=true: .ci/run installs koffi). */
function batchOrSkip(): DatagramBatch | string {
  const batch = datagramBatch();
  if (batch !== undefined) return batch;
  const why = 'batched UDP needs 64-bit Linux and koffi';
  if (process.env.CI === 'true') throw new Error(`CI=true and ${why}`);
  return why;
}

/** The batch, counting what it received and queued. */
function counting(real: DatagramBatch) {
  const seen = { received: 0, queued: 0 };
  const batch: DatagramBatch = {
    receive: (fd, each) => {
      const n = real.receive(fd, each);
      seen.received += n;
      return n;
    },
    queue: (...args) => {
      const ok = real.queue(...args);
      if (ok) seen.queued++;
      return ok;
    },
    flush: (...args) => real.flush(...args),
    discard: () => real.discard(),
  };
  return { batch, seen };
}

async function bound(type: 'udp4' | 'udp6', host: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type, ipv6Only: false });
  socket.bind(0, host);
  await once(socket, 'listening');
  return socket;
}

/** Waits until `check()` holds (bounded: 150 × 20 ms). */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 150 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(check(), 'condition reached');
}

const counters = (): UdpCounters => ({
  datagramsUp: 0,
  bytesUp: 0,
  datagramsDown: 0,
  bytesDown: 0,
  dropped: {},
});

describe('batched UDP I/O', () => {
  it('socket addresses: sockaddr_in6 (IPv4 mapped) on dual-stack, sockaddr_in on IPv4', () => {
    // family 10 (LE) | port 0x1234 | flowinfo 0 | ::ffff:127.0.0.1 | scope 0
    assert.deepEqual(
      socketName('127.0.0.1', 0x1234, true),
      hex('0a00 1234 00000000 00000000000000000000ffff7f000001 00000000'),
    );
    assert.deepEqual(
      socketName('2001:db8::1', 53, true),
      hex('0a00 0035 00000000 20010db8000000000000000000000001 00000000'),
    );
    // family 2 (LE) | port 53 | 192.0.2.1 | zero
    assert.deepEqual(
      socketName('192.0.2.1', 53, false),
      hex('0200 0035 c0000201 0000000000000000'),
    );
    assert.equal(socketName('::1', 53, false), undefined, 'no IPv6 on an IPv4 socket');
    assert.equal(socketName('example.com', 53, true), undefined);
  });

  it('FERRY_UDP_BATCH=0 turns it off (the relay then uses dgram alone)', () => {
    const script = [
      `const { datagramBatch } = await import(${JSON.stringify(new URL('../../src/relay/udp-batch.ts', import.meta.url).href)});`,
      'process.stdout.write(String(datagramBatch()));',
    ].join('\n');
    const run = (env: Record<string, string>): string =>
      execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: { ...process.env, ...env },
        encoding: 'utf8',
        timeout: 20_000,
      });
    assert.equal(run({ FERRY_UDP_BATCH: '0' }), 'undefined');
    if (typeof batchOrSkip() !== 'string') assert.equal(run({}), '[object Object]');
  });

  it('sends a queue with one sendmmsg and receives it with recvmmsg, IPv4 and IPv6 senders', async (t) => {
    const batch = batchOrSkip();
    if (typeof batch === 'string') {
      t.skip(batch);
      return;
    }
    const receiver = await bound('udp6', '::');
    const v4 = await bound('udp4', '127.0.0.1');
    const v6 = await bound('udp6', '::1');
    try {
      const to = receiver.address().port;
      const reports: boolean[] = [];
      const fallback = (): void => assert.fail('loopback never fills the send buffer here');
      // 40 from IPv4 (more than one receive batch), then 3 from IPv6; all in this one tick, so
      // nothing reads them before receive() below.
      for (let i = 0; i < 40; i++) {
        const ok = batch.queue(
          socketName('127.0.0.1', to, false)!,
          [Buffer.from([i]), Buffer.from(`v4 datagram ${i}`)],
          to,
          '127.0.0.1',
          true,
          i,
        );
        assert.ok(ok);
      }
      batch.flush(socketFd(v4)!, (_up, _bytes, ok) => reports.push(ok), fallback);
      for (let i = 0; i < 3; i++)
        batch.queue(socketName('::1', to, true)!, [Buffer.from(`v6 ${i}`)], to, '::1', false, 0);
      batch.flush(socketFd(v6)!, (_up, _bytes, ok) => reports.push(ok), fallback);
      assert.equal(reports.length, 43);
      assert.ok(reports.every(Boolean));

      const got: { text: string; ip: string; port: number }[] = [];
      const fd = socketFd(receiver)!;
      const first = batch.receive(fd, (data, ip, port) => {
        got.push({ text: data.toString('latin1'), ip, port });
      });
      assert.equal(first, RECEIVE_BATCH);
      while (
        batch.receive(fd, (data, ip, port) =>
          got.push({ text: data.toString('latin1'), ip, port }),
        ) > 0
      );
      assert.equal(got.length, 43);
      for (let i = 0; i < 40; i++) {
        assert.deepEqual(got[i], {
          text: `${String.fromCharCode(i)}v4 datagram ${i}`,
          ip: '127.0.0.1',
          port: v4.address().port,
        });
      }
      for (let i = 0; i < 3; i++)
        assert.deepEqual(got[40 + i], { text: `v6 ${i}`, ip: '::1', port: v6.address().port });
    } finally {
      receiver.close();
      v4.close();
      v6.close();
    }
  });

  it('takes at most TURN_BUDGET datagrams per event-loop turn; dgram reads the rest', async (t) => {
    const batch = batchOrSkip();
    if (typeof batch === 'string') {
      t.skip(batch);
      return;
    }
    const sender = await bound('udp4', '127.0.0.1');
    const receiver = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
    receiver.bind(0, '127.0.0.1');
    await once(receiver, 'listening');
    try {
      const to = receiver.address().port;
      const name = socketName('127.0.0.1', to, false)!;
      let byDgram = 0;
      receiver.on('message', () => byDgram++);
      const total = TURN_BUDGET + 44;
      const sendAll = (count: number): void => {
        for (let i = 0; i < count; i++) {
          batch.queue(name, [Buffer.from(`n${i}`)], to, '127.0.0.1', true, 0);
          if ((i + 1) % SEND_BATCH === 0 || i === count - 1)
            batch.flush(
              socketFd(sender)!,
              () => undefined,
              () => assert.fail('no fallback'),
            );
        }
      };
      await new Promise((r) => setImmediate(r)); // a fresh turn: the whole budget
      sendAll(total);
      let byBatch = 0;
      for (let n; (n = batch.receive(socketFd(receiver)!, () => undefined)) > 0;) byBatch += n;
      assert.equal(byBatch, TURN_BUDGET, 'the batch stopped at the budget');
      await until(() => byDgram === total - TURN_BUDGET);
      // A later turn has the budget back.
      sendAll(10);
      assert.equal(
        batch.receive(socketFd(receiver)!, () => undefined),
        10,
      );
    } finally {
      sender.close();
      receiver.close();
    }
  });

  it('a datagram that cannot be sent is reported alone; the rest of the queue goes', async (t) => {
    const batch = batchOrSkip();
    if (typeof batch === 'string') {
      t.skip(batch);
      return;
    }
    const sender = await bound('udp4', '0.0.0.0');
    const receiver = await bound('udp4', '127.0.0.1');
    try {
      const to = receiver.address().port;
      const got: string[] = [];
      receiver.on('message', (msg) => got.push(msg.toString()));
      const reports: [number, boolean][] = [];
      const name = socketName('127.0.0.1', to, false)!;
      batch.queue(name, [Buffer.from('one')], to, '127.0.0.1', true, 1);
      // Broadcast without SO_BROADCAST: EACCES for this datagram only.
      batch.queue(socketName('255.255.255.255', to, false)!, [Buffer.from('x')], to, '', true, 2);
      batch.queue(name, [Buffer.from('three')], to, '127.0.0.1', true, 3);
      batch.flush(
        socketFd(sender)!,
        (_up, bytes, ok) => reports.push([bytes, ok]),
        () => assert.fail('no fallback expected'),
      );
      assert.deepEqual(reports, [
        [1, true],
        [2, false],
        [3, true],
      ]);
      await until(() => got.length === 2);
      assert.deepEqual(got, ['one', 'three']);
    } finally {
      sender.close();
      receiver.close();
    }
  });

  it('EINTR is retried; what sendmmsg cannot take now (EAGAIN) goes to dgram as copies, in order', (t) => {
    const batch = batchOrSkip();
    if (typeof batch === 'string') {
      t.skip(batch);
      return;
    }
    // Loopback never fills a UDP send buffer: stand in for sendmmsg, which is interrupted by a
    // signal once (EINTR: try again), takes two datagrams, then says EAGAIN. The rest is real
    // koffi.
    const koffi = createRequire(import.meta.url)('koffi') as Koffi;
    let calls = 0;
    let errno = 0;
    const standIn: Koffi = {
      load: (path) => {
        const lib = koffi.load(path);
        return {
          func: (signature) =>
            signature.includes('sendmmsg')
              ? () => {
                  calls++;
                  if (calls === 1) {
                    errno = 4; // EINTR
                    return -1;
                  }
                  if (calls === 2) return 2;
                  errno = 11; // EAGAIN
                  return -1;
                }
              : lib.func(signature),
        };
      },
      alloc: (type, count) => koffi.alloc(type, count),
      address: (pointer) => koffi.address(pointer),
      view: (pointer, length) => koffi.view(pointer, length),
      errno: () => errno,
    };
    const stood = createDatagramBatch(standIn);
    const name = socketName('127.0.0.1', 9, false)!;
    for (let i = 0; i < 5; i++)
      stood.queue(
        name,
        [Buffer.from([i]), Buffer.from(`datagram ${i}`)],
        9,
        '127.0.0.1',
        i % 2 === 0,
        i,
      );
    const reports: [number, boolean][] = [];
    const fallbacks: [string, number, string, boolean, number][] = [];
    stood.flush(
      3,
      (_up, bytes, ok) => reports.push([bytes, ok]),
      (data, port, address, up, bytes) => {
        fallbacks.push([data.toString('latin1'), port, address, up, bytes]);
      },
    );
    assert.deepEqual(reports, [
      [0, true],
      [1, true],
    ]);
    assert.deepEqual(fallbacks, [
      ['\x02datagram 2', 9, '127.0.0.1', true, 2],
      ['\x03datagram 3', 9, '127.0.0.1', false, 3],
      ['\x04datagram 4', 9, '127.0.0.1', true, 4],
    ]);
    assert.equal(calls, 3, 'retried after EINTR, not after EAGAIN: dgram queues the rest');
  });

  describe('the relay under a burst', () => {
    /**
     * A relay with a counting batch, a UDP echo server and a client; undefined (test skipped)
     * where there is no batch.
     */
    async function setUp(
      t: TestContext,
      options: { resolver?: (name: string) => Promise<IpAddress[]>; reassembly?: boolean } = {},
    ) {
      const real = batchOrSkip();
      if (typeof real === 'string') {
        t.skip(real);
        return undefined;
      }
      const { batch, seen } = counting(real);
      // Room for a whole burst in every socket, whichever the event loop reads first.
      const echo = await startUdpEcho('127.0.0.1', 1 << 20);
      const client = await UdpEndpoint.open('127.0.0.1');
      client.socket.setRecvBufferSize(1 << 20);
      const opened = await openAssociationSocket();
      opened.socket.setRecvBufferSize(1 << 20);
      const stats = counters();
      const relay = new UdpRelay(opened.socket, {
        clientAddress: '127.0.0.1',
        clientPort: undefined,
        dual: opened.dual,
        idleTimeout: 0,
        reassembly:
          options.reassembly === true
            ? {
                timeout: 5000,
                maxDatagramSize: 65_535,
                budget: { tryReserve: () => true, release: () => undefined },
              }
            : undefined,
        resolver: {
          resolve: options.resolver ?? (() => Promise.reject(new Error('no names here'))),
        },
        policy: compilePolicy({ rules: [], default: 'allow' }).session({
          client: '127.0.0.1',
          user: undefined,
          command: 'udp',
          dialect: 'socks5',
        }),
        batch,
        counters: stats,
        onIdle: () => undefined,
      });
      const close = (): void => {
        relay.close();
        client.close();
        echo.close();
      };
      return { port: opened.port, stats, seen, echo, client, close };
    }

    /** Sends `datagrams` to the relay in one tick: they queue on its socket before it reads. */
    function burst(client: UdpEndpoint, port: number, datagrams: Uint8Array[]): void {
      for (const d of datagrams) client.socket.send(d, port, '127.0.0.1');
    }

    it('relays every datagram of a burst both ways, intact and counted', async (t) => {
      const u = await setUp(t);
      if (u === undefined) return;
      const { port, stats, seen, echo, client } = u;
      try {
        // 99 small datagrams and one of 60 000 octets (a whole receive slot's worth).
        const payloads = Array.from({ length: 100 }, (_, i) =>
          Buffer.alloc(i === 50 ? 60_000 : 100 + i * 7, String.fromCharCode(33 + (i % 90))),
        );
        burst(
          client,
          port,
          payloads.map((data) =>
            encodeUdpDatagram({
              address: { type: 'ipv4', host: '127.0.0.1', port: echo.port },
              data,
            }),
          ),
        );
        const replies = new Set<string>();
        for (let i = 0; i < payloads.length; i++) {
          const r = await client.receive();
          // Each reply names the echo server in its header, then the data as it was.
          const header = Uint8Array.from(r.msg.subarray(0, 10));
          assert.deepEqual(
            header,
            hex(`0000 00 01 7f000001 ${echo.port.toString(16).padStart(4, '0')}`),
          );
          replies.add(r.msg.subarray(10).toString('latin1'));
        }
        assert.deepEqual([...replies].sort(), payloads.map((p) => p.toString('latin1')).sort());
        const bytes = payloads.reduce((n, p) => n + p.length, 0);
        assert.equal(stats.datagramsUp, 100);
        assert.equal(stats.bytesUp, bytes);
        await until(() => stats.datagramsDown === 100);
        assert.equal(stats.bytesDown, bytes);
        assert.ok(seen.received > 0, 'the batch took part of the burst');
        assert.ok(seen.queued > 0, 'and sent through sendmmsg');
      } finally {
        u.close();
      }
    });

    it('datagrams held while their name resolves are copies, not views of reused memory', async (t) => {
      let answer: (a: IpAddress[]) => void = () => undefined;
      const u = await setUp(t, {
        resolver: () => new Promise((resolve) => (answer = resolve)),
      });
      if (u === undefined) return;
      const { port, stats, seen, echo, client } = u;
      try {
        const payloads = Array.from({ length: 50 }, (_, i) => Buffer.from(`held datagram ${i}`));
        burst(
          client,
          port,
          payloads.map((data) =>
            encodeUdpDatagram({
              address: { type: 'domain', host: 'echo.test', port: echo.port },
              data,
            }),
          ),
        );
        await until(() => seen.received > 0 && stats.datagramsUp === 0);
        // More bursts reuse the receive memory while the first 50 wait for the name.
        burst(
          client,
          port,
          Array.from({ length: 40 }, () => Buffer.alloc(200, 0x5a)),
        );
        await new Promise((r) => setTimeout(r, 100));
        answer([parseStrictAddress('127.0.0.1')!]);
        const replies: string[] = [];
        for (let i = 0; i < payloads.length; i++)
          replies.push((await client.receive()).msg.subarray(10).toString());
        assert.deepEqual(replies.sort(), payloads.map((p) => p.toString()).sort());
        assert.equal(stats.dropped.malformed, 40, 'the junk burst was dropped as malformed');
      } finally {
        u.close();
      }
    });

    it('fragments held for reassembly are copies too', async (t) => {
      const u = await setUp(t, { reassembly: true });
      if (u === undefined) return;
      const { port, stats, seen, echo, client } = u;
      try {
        const address = { type: 'ipv4', host: '127.0.0.1', port: echo.port } as const;
        const fragment = (frag: number, text: string): Uint8Array => {
          const d = encodeUdpDatagram({ address, data: Buffer.from(text) });
          d[2] = frag;
          return d;
        };
        // A first datagram, then fragments 1, 2 and the last (0x83): all in one burst, so the
        // fragments arrive through the batch and wait in the queue across receives.
        burst(client, port, [
          encodeUdpDatagram({ address, data: Buffer.from('plain') }),
          fragment(1, 'alpha-'),
          fragment(2, 'beta-'),
          ...Array.from({ length: RECEIVE_BATCH * 2 }, () => Buffer.alloc(64, 0x5a)),
          fragment(0x83, 'gamma'),
        ]);
        const got = new Set<string>();
        for (let i = 0; i < 2; i++) got.add((await client.receive()).msg.subarray(10).toString());
        assert.deepEqual([...got].sort(), ['alpha-beta-gamma', 'plain']);
        assert.equal(stats.datagramsUp, 2, 'one plain datagram, one reassembled');
        assert.equal(stats.dropped.malformed, RECEIVE_BATCH * 2);
        assert.ok(seen.received > 0);
      } finally {
        u.close();
      }
    });
  });
});
