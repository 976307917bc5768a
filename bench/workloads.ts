/**
 * What the load generator does, one function per test. Every loop is bounded by a deadline and
 * every wait by a timeout. Figures are measured after a warm-up, over a timed window.
 */
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { CMD_UDP_ASSOCIATE, openTunnel, type Endpoint, type Tunnel } from './socks5-client.js';
import { SampleBuffer, type LatencySummary } from './stats.js';
import type { IdleJob } from './idle-workload.js';

/** One read buffer for every socket of this process (see socks5-client.ts). */
const readBuffer = Buffer.allocUnsafe(256 * 1024);
const writeChunk = Buffer.alloc(256 * 1024, 0x61);
const ONE_BYTE = Buffer.from('x');
export const noop = (): void => undefined;
export const HANDSHAKE_TIMEOUT_MS = 5000;

export interface ThroughputJob {
  readonly kind: 'throughput';
  readonly proxy: Endpoint | null;
  /** The source target for 'down', the discard target for 'up'. */
  readonly dest: Endpoint;
  readonly direction: 'down' | 'up';
  readonly streams: number;
  readonly warmupMs: number;
  readonly durationMs: number;
}

export interface TunnelsJob {
  readonly kind: 'tunnels';
  readonly proxy: Endpoint | null;
  /** Echo targets, used round-robin (spreads the proxy's outgoing 4-tuples). */
  readonly dests: readonly Endpoint[];
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
}

export interface HandshakeJob {
  readonly kind: 'handshake';
  readonly proxy: Endpoint | null;
  readonly dests: readonly Endpoint[];
  readonly durationMs: number;
  readonly maxSamples: number;
}

export interface RttJob {
  readonly kind: 'rtt';
  readonly proxy: Endpoint | null;
  readonly dest: Endpoint;
  readonly durationMs: number;
  readonly maxSamples: number;
}

export interface UdpJob {
  readonly kind: 'udp';
  readonly proxy: Endpoint | null;
  readonly dest: Endpoint;
  readonly window: number;
  readonly size: number;
  readonly warmupMs: number;
  readonly durationMs: number;
}

export type Job = ThroughputJob | TunnelsJob | HandshakeJob | RttJob | UdpJob | IdleJob;

export interface RateResult {
  /** Units (bytes, tunnels or datagrams) per second over the measured window. */
  readonly perSec: number;
  readonly errors: number;
  readonly firstError?: string | undefined;
}

export type LatencyResult = LatencySummary & {
  readonly errors: number;
  readonly firstError?: string;
};

export function tunnelTo(
  proxy: Endpoint | null,
  dest: Endpoint,
  localAddress?: string,
): Promise<Tunnel> {
  return openTunnel({
    proxy,
    dest,
    localAddress,
    readBuffer,
    onData: noop,
    timeoutMs: HANDSHAKE_TIMEOUT_MS,
  });
}

/** Sends one byte and resolves when one byte comes back. */
export function echoOnce(tunnel: Tunnel, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`no echo within ${timeoutMs} ms`));
    }, timeoutMs);
    tunnel.onData = () => {
      clearTimeout(timer);
      tunnel.onData = noop;
      tunnel.onClose = noop;
      resolve();
    };
    tunnel.onClose = (err) => {
      clearTimeout(timer);
      reject(err ?? new Error('tunnel closed before the echo'));
    };
    tunnel.socket.write(ONE_BYTE);
  });
}

export const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export async function runThroughput(job: ThroughputJob): Promise<RateResult> {
  let bytes = 0;
  const count = (chunk: Buffer): void => {
    bytes += chunk.length;
  };
  const tunnels = await Promise.all(
    Array.from({ length: job.streams }, () => tunnelTo(job.proxy, job.dest)),
  );
  let errors = 0;
  let firstError: string | undefined;
  for (const t of tunnels) {
    t.onClose = (err) => {
      errors++;
      firstError ??= err?.message ?? 'stream closed early';
    };
    if (job.direction === 'down') {
      t.onData = count;
    } else {
      // Count what the kernel accepted (write callbacks), keep one chunk queued beyond that.
      const written = (err?: Error | null): void => {
        if (err == null) bytes += writeChunk.length;
      };
      const pump = (): void => {
        while (!t.socket.destroyed && t.socket.write(writeChunk, written));
      };
      t.socket.on('drain', pump);
      pump();
    }
  }
  await sleep(job.warmupMs);
  const startBytes = bytes;
  const start = performance.now();
  await sleep(job.durationMs);
  const moved = bytes - startBytes;
  const elapsed = performance.now() - start;
  for (const t of tunnels) {
    t.onClose = noop;
    t.close();
  }
  return { perSec: (moved / elapsed) * 1000, errors, firstError };
}

export async function runTunnels(job: TunnelsJob): Promise<RateResult> {
  const startAt = performance.now() + job.warmupMs;
  const stopAt = startAt + job.durationMs;
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const dest = job.dests[next++ % job.dests.length]!;
      try {
        const tunnel = await tunnelTo(job.proxy, dest);
        try {
          await echoOnce(tunnel, HANDSHAKE_TIMEOUT_MS);
        } finally {
          tunnel.close();
        }
        const now = performance.now();
        if (now >= startAt && now < stopAt) completed++;
      } catch (err) {
        errors++;
        firstError ??= message(err);
        if (errors > 1000) return; // a broken contestant: stop hammering it
        await sleep(5);
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  return { perSec: (completed / job.durationMs) * 1000, errors, firstError };
}

export async function runHandshakes(job: HandshakeJob): Promise<LatencyResult> {
  const samples = new SampleBuffer(job.maxSamples);
  const stopAt = performance.now() + job.durationMs;
  let errors = 0;
  let firstError: string | undefined;
  for (let i = 0; i < job.maxSamples && performance.now() < stopAt; i++) {
    try {
      const tunnel = await tunnelTo(job.proxy, job.dests[i % job.dests.length]!);
      try {
        await echoOnce(tunnel, HANDSHAKE_TIMEOUT_MS);
      } finally {
        tunnel.close();
      }
      samples.push(tunnel.handshakeMs);
    } catch (err) {
      errors++;
      firstError ??= message(err);
      if (errors > 100) break;
    }
  }
  return { ...samples.summary(), errors, ...(firstError === undefined ? {} : { firstError }) };
}

/** 1-byte ping-pong through one open tunnel, one byte in flight at a time. */
export async function runRtt(job: RttJob): Promise<LatencyResult> {
  const tunnel = await tunnelTo(job.proxy, job.dest);
  const warmup = Math.min(200, Math.floor(job.maxSamples / 10));
  const samples = new SampleBuffer(job.maxSamples);
  const stopAt = performance.now() + job.durationMs;
  let pings = 0;
  let sentAt = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error('round trip stalled'));
      }, job.durationMs + 5000);
      const ping = (): void => {
        sentAt = performance.now();
        tunnel.socket.write(ONE_BYTE);
      };
      tunnel.onData = () => {
        const now = performance.now();
        if (++pings > warmup) samples.push(now - sentAt);
        if (samples.length >= job.maxSamples || now >= stopAt) {
          clearTimeout(timer);
          resolve();
        } else {
          ping();
        }
      };
      tunnel.onClose = (err) => {
        clearTimeout(timer);
        reject(err ?? new Error('tunnel closed during the round trips'));
      };
      ping();
    });
  } finally {
    tunnel.onClose = noop;
    tunnel.close();
  }
  return { ...samples.summary(), errors: 0 };
}

/** RFC 1928 §7 header for an IPv4 destination: RSV(2)=0 FRAG=0 ATYP=01 DST.ADDR(4) DST.PORT(2). */
function udpHeader(dest: Endpoint): Buffer {
  const header = Buffer.alloc(10);
  header[3] = 0x01;
  dest.host.split('.').forEach((o, i) => (header[4 + i] = Number(o)));
  header.writeUInt16BE(dest.port, 8);
  return header;
}

export async function runUdp(job: UdpJob): Promise<RateResult> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  let control: Tunnel | undefined;
  try {
    let peer = job.dest;
    let datagram = Buffer.alloc(job.size, 0x75);
    if (job.proxy !== null) {
      // DST of the request = where our datagrams will come from (RFC 1928 §6 UDP ASSOCIATE).
      control = await openTunnel({
        proxy: job.proxy,
        dest: { host: '127.0.0.1', port: socket.address().port },
        command: CMD_UDP_ASSOCIATE,
        readBuffer,
        onData: noop,
        timeoutMs: HANDSHAKE_TIMEOUT_MS,
      });
      const relay = control.bound!;
      peer = {
        host: relay.host === '0.0.0.0' || relay.host === '' ? job.proxy.host : relay.host,
        port: relay.port,
      };
      datagram = Buffer.concat([udpHeader(job.dest), datagram]);
    }
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(peer.port, peer.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    let received = 0;
    let inFlight = 0;
    let errors = 0;
    let firstError: string | undefined;
    const send = (): void => {
      inFlight++;
      socket.send(datagram, (err) => {
        if (err) {
          errors++;
          firstError ??= err.message;
        }
      });
    };
    const fill = (): void => {
      while (inFlight < job.window) send();
    };
    socket.on('message', () => {
      received++;
      inFlight--;
      send();
    });
    socket.on('error', (err) => {
      errors++;
      firstError ??= err.message;
    });
    // Datagrams get dropped under load: when nothing came back for a tick, assume the window lost.
    let seen = 0;
    const refill = setInterval(() => {
      if (received === seen) {
        inFlight = 0;
        fill();
      }
      seen = received;
    }, 20);
    fill();
    await sleep(job.warmupMs);
    const startCount = received;
    const start = performance.now();
    await sleep(job.durationMs);
    const count = received - startCount;
    const elapsed = performance.now() - start;
    clearInterval(refill);
    if (count === 0) firstError ??= 'no datagram came back';
    return { perSec: (count / elapsed) * 1000, errors, firstError };
  } finally {
    socket.close();
    control?.close();
  }
}
