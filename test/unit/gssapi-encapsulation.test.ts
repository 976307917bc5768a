// The RFC 1961 §5 encapsulation layer without a KDC, over a stand-in context
// (test/helpers/fake-gss-context.ts): framing of wrapped data, the level checks, datagrams, and
// the GssapiSocket Duplex — any chunking of the incoming bytes, the abort, messages out of
// place, a connection cut mid-frame, tampering, backpressure and half-close over real sockets.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { Encapsulation } from '../../src/gssapi/encapsulation.js';
import { GssapiSocket } from '../../src/gssapi/stream.js';
import { ProtectionLevel } from '../../src/protocol/gssapi.js';
import { SocksError, SocksUsageError } from '../../src/errors.js';
import { FAKE_OVERHEAD, FakeGssContext } from '../helpers/fake-gss-context.js';

const INTEGRITY = ProtectionLevel.Integrity;
const CONFIDENTIALITY = ProtectionLevel.Confidentiality;

/** A transport whose incoming bytes the test pushes one chunk at a time. */
class FakeTransport extends Duplex {
  readonly written: Buffer[] = [];
  constructor() {
    super({ allowHalfOpen: true });
  }
  override _read(): void {
    // the test pushes
  }
  override _write(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.written.push(chunk);
    cb();
  }
}

function layerOver(
  transport: Duplex,
  context = new FakeGssContext(),
  level: ProtectionLevel = INTEGRITY,
) {
  // Any Duplex will do as the transport; the type asks for a socket for its address getters.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- see above
  return new GssapiSocket(transport as net.Socket, new Encapsulation(context, level));
}

const codeOf = (err: unknown): string | undefined => (err as { code?: string }).code;

describe('Encapsulation', () => {
  it('cuts data at gss_wrap_size_limit(65535) and frames each piece as MTYP 03', () => {
    const sender = new FakeGssContext();
    const enc = new Encapsulation(sender, INTEGRITY);
    assert.equal(enc.maxChunk, 65535 - FAKE_OVERHEAD);
    const data = Buffer.alloc(2 * enc.maxChunk + 10, 0xab);
    const frames = enc.wrap(data);
    assert.equal(frames.length, 3);
    for (const f of frames) {
      assert.deepEqual([...f.subarray(0, 2)], [0x01, 0x03]);
      assert.equal(f.length - 4, (f[2]! << 8) | f[3]!, 'LEN is the token length');
      assert.ok(f.length - 4 <= 65535);
    }
    const receiver = new Encapsulation(new FakeGssContext(), INTEGRITY);
    const back = Buffer.concat(frames.map((f) => receiver.unwrap(f.subarray(4))));
    assert.deepEqual(back, data);
  });

  it('level 2 wraps with confidentiality and refuses a message without it', () => {
    const sender = new FakeGssContext();
    const conf = new Encapsulation(sender, CONFIDENTIALITY);
    assert.equal(conf.wrapFrame(Buffer.from('x'))[4], 1, 'conf_req_flag TRUE');
    const receiver = new Encapsulation(new FakeGssContext(), CONFIDENTIALITY);
    const plain = new Encapsulation(sender, INTEGRITY).wrapFrame(Buffer.from('y'));
    assert.throws(
      () => receiver.unwrap(plain.subarray(4)),
      (err: unknown) => codeOf(err) === 'ERR_SOCKS_GSSAPI_PROTECTION',
    );
  });

  it('level 1 accepts an encrypted message (it protects more, not less)', () => {
    const sender = new Encapsulation(new FakeGssContext(), CONFIDENTIALITY);
    const receiver = new Encapsulation(new FakeGssContext(), INTEGRITY);
    assert.equal(
      Buffer.from(receiver.unwrap(sender.wrapFrame(Buffer.from('z')).subarray(4))).toString(),
      'z',
    );
  });

  it('refuses clear and selective: nothing to encapsulate with', () => {
    for (const level of [ProtectionLevel.Clear, ProtectionLevel.SelectivePerMessage]) {
      assert.throws(() => new Encapsulation(new FakeGssContext(), level), SocksUsageError);
    }
  });

  it('datagrams: one frame each, out of order accepted, replays and strays refused', () => {
    const sender = new Encapsulation(new FakeGssContext(), INTEGRITY);
    const receiver = new Encapsulation(new FakeGssContext(), INTEGRITY);
    const d0 = sender.wrapDatagram(Buffer.from('zero'));
    const d1 = sender.wrapDatagram(Buffer.from('one'));
    assert.equal(Buffer.from(receiver.unwrapDatagram(d1)).toString(), 'one', 'early is fine');
    assert.equal(Buffer.from(receiver.unwrapDatagram(d0)).toString(), 'zero', 'late is fine');
    assert.throws(
      () => receiver.unwrapDatagram(d1),
      (e: unknown) => codeOf(e) === 'ERR_SOCKS_GSSAPI_PROTECTION',
    );
    // Two frames in one datagram, a truncated frame, a context message: not one MTYP 03.
    for (const bad of [Buffer.concat([d0, d0]), d0.subarray(0, 6), Buffer.from([1, 1, 0, 1, 0])]) {
      assert.throws(
        () => receiver.unwrapDatagram(bad),
        (e: unknown) => codeOf(e) === 'ERR_SOCKS_BAD_MESSAGE',
      );
    }
    assert.throws(() => sender.wrapDatagram(Buffer.alloc(sender.maxChunk + 1)), SocksError);
  });
});

describe('GssapiSocket', () => {
  it('reads the same data whatever the chunking of the frames, down to single octets', async () => {
    const sender = new Encapsulation(new FakeGssContext(), INTEGRITY);
    const wire = Buffer.concat([
      ...sender.wrap(Buffer.from('hello, ')),
      ...sender.wrap(Buffer.from('world')),
    ]);
    for (const size of [1, 2, 3, 5, wire.length]) {
      const transport = new FakeTransport();
      const layer = layerOver(transport);
      const got: Buffer[] = [];
      layer.on('data', (c: Buffer) => got.push(c));
      for (let at = 0; at < wire.length; at += size) transport.push(wire.subarray(at, at + size));
      transport.push(null);
      await once(layer, 'end');
      assert.equal(Buffer.concat(got).toString(), 'hello, world', `chunks of ${size}`);
    }
  });

  it("the peer's abort, a non-data message, a cut-off frame and tampering each end it with a code", async () => {
    const sender = () => new Encapsulation(new FakeGssContext(), INTEGRITY);
    const tampered = sender().wrapFrame(Buffer.from('abc'));
    tampered[6]! ^= 0x04;
    const cases: [string, Uint8Array[], string][] = [
      ['abort', [Buffer.from([0x01, 0xff])], 'ERR_SOCKS_GSSAPI_ABORTED'],
      ['context message', [Buffer.from([0x01, 0x01, 0x00, 0x00])], 'ERR_SOCKS_UNEXPECTED_DATA'],
      ['bad version', [Buffer.from([0x05, 0x03])], 'ERR_SOCKS_BAD_VERSION'],
      [
        'cut mid-frame',
        [sender().wrapFrame(Buffer.from('abc')).subarray(0, 7)],
        'ERR_SOCKS_UNEXPECTED_CLOSE',
      ],
      ['tampered', [tampered], 'ERR_SOCKS_GSSAPI_PROTECTION'],
    ];
    for (const [name, chunks, code] of cases) {
      const transport = new FakeTransport();
      const context = new FakeGssContext();
      const layer = layerOver(transport, context);
      layer.resume();
      for (const c of chunks) transport.push(c);
      transport.push(null);
      const [err] = (await once(layer, 'error')) as [Error];
      assert.equal(codeOf(err), code, name);
      assert.ok(transport.destroyed, `${name}: the transport goes too`);
      assert.ok(context.disposed, `${name}: the context is released`);
    }
  });

  it("a paused layer still emits 'end' when the FIN arrives with nothing buffered (as a socket does)", async () => {
    const transport = new FakeTransport();
    const layer = layerOver(transport);
    layer.pause();
    transport.push(null);
    await once(layer, 'end', { signal: AbortSignal.timeout(2000) });
    assert.ok(layer.readableEnded);
  });

  it('coalesces small writes (writev) and writes only whole frames', async () => {
    const transport = new FakeTransport();
    const layer = layerOver(transport);
    layer.cork();
    for (let i = 0; i < 100; i++) layer.write(`${i},`);
    process.nextTick(() => layer.uncork());
    layer.end();
    await once(transport, 'finish');
    const wire = Buffer.concat(transport.written);
    const receiver = new Encapsulation(new FakeGssContext(), INTEGRITY);
    const frames: Buffer[] = [];
    for (let at = 0; at < wire.length;) {
      const len = wire.readUInt16BE(at + 2);
      frames.push(Buffer.from(receiver.unwrap(wire.subarray(at + 4, at + 4 + len))));
      at += 4 + len;
    }
    assert.ok(frames.length < 10, `${frames.length} frames for 100 writes`);
    assert.equal(
      Buffer.concat(frames).toString(),
      Array.from({ length: 100 }, (_, i) => `${i},`).join(''),
    );
  });

  it('over real sockets: backpressure both ways, half-close, a clean close', async () => {
    const server = net.createServer({ allowHalfOpen: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection') as Promise<[net.Socket]>;
    const raw = net.connect({
      port: (server.address() as net.AddressInfo).port,
      allowHalfOpen: true,
    });
    await once(raw, 'connect');
    const [peerRaw] = await accepted;
    // Each side wraps with its own context and unwraps what the other's wrapped.
    const a = layerOver(raw, new FakeGssContext(), CONFIDENTIALITY);
    const b = layerOver(peerRaw, new FakeGssContext(), CONFIDENTIALITY);

    // Nobody reads b: a's writes must start reporting a full buffer, and drain once b reads.
    const chunk = Buffer.alloc(64 * 1024, 1);
    let writes = 0;
    while (a.write(chunk) && writes < 10_000) writes++;
    assert.ok(writes < 10_000, 'write() reported backpressure');
    // ...because b stopped reading its socket, not because it buffered everything in memory.
    assert.ok(b.readableLength <= 16 * 1024 + 65535, `b holds ${b.readableLength} octets`);
    const drained = once(a, 'drain');
    let received = 0;
    b.on('data', (c: Buffer) => (received += c.length));
    await drained;

    // Half-close: a ends, b still answers, then b ends; both close cleanly.
    a.end();
    await once(b, 'end');
    assert.equal(received, (writes + 1) * chunk.length, 'every octet, once');
    const answer: Buffer[] = [];
    a.on('data', (c: Buffer) => answer.push(c));
    const closed = Promise.all([once(a, 'close'), once(b, 'close')]);
    b.end('after your FIN');
    await once(a, 'end');
    assert.equal(Buffer.concat(answer).toString(), 'after your FIN');
    await closed;
    assert.ok(raw.destroyed && peerRaw.destroyed);
    server.close();
  });
});
