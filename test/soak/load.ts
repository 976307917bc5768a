/**
 * The soak's load, all at once against one ferry: bulk streams, idle tunnels (pinged now and
 * then), connection churn, failed logins from many client addresses, UDP associations (when the
 * server supports them) — each a loop with a modest rate (the machine is shared), counting what
 * it did and anything unexpected.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { openTunnel, type TunnelOptions } from './client.js';

export interface Counters {
  [kind: string]: { ok: number; failed: number; note?: string };
}

export interface Targets {
  readonly echoPort: number;
  readonly bulkPort: number;
  readonly udpEchoPort: number;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

/** TCP echo, a bulk source (rate-capped, `BULK_BYTES` then FIN) and a UDP echo on 127.0.0.1. */
export async function startTargets(bulkRate: number, bulkBytes: number): Promise<Targets> {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  };
  const echo = net.createServer({ allowHalfOpen: true }, (s) => {
    track(s);
    s.pipe(s);
  });
  const bulk = net.createServer((s) => {
    track(s);
    const chunk = Buffer.alloc(64 * 1024, 0x5a);
    let sent = 0;
    const started = Date.now();
    const pump = (): void => {
      while (sent < bulkBytes && !s.destroyed) {
        const allowed = ((Date.now() - started) / 1000) * bulkRate;
        if (sent >= allowed) {
          setTimeout(pump, 20);
          return;
        }
        sent += chunk.length;
        if (!s.write(chunk)) {
          s.once('drain', pump);
          return;
        }
      }
      if (!s.destroyed) s.end();
    };
    pump();
  });
  const udp = dgram.createSocket('udp4');
  udp.on('message', (msg, rinfo) => {
    udp.send(msg, rinfo.port, rinfo.address);
  });
  echo.listen(0, '127.0.0.1');
  bulk.listen(0, '127.0.0.1');
  udp.bind(0, '127.0.0.1');
  await Promise.all([once(echo, 'listening'), once(bulk, 'listening'), once(udp, 'listening')]);
  return {
    echoPort: (echo.address() as net.AddressInfo).port,
    bulkPort: (bulk.address() as net.AddressInfo).port,
    udpEchoPort: udp.address().port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise((r) => echo.close(r)),
        new Promise((r) => bulk.close(r)),
        new Promise((r) => udp.close(() => r(undefined))),
      ]);
    },
  };
}

export interface LoadOptions {
  readonly ferryPort: number;
  readonly targets: Targets;
  readonly user: string;
  readonly password: string;
  readonly idleTunnels: number;
  readonly churnPerSecond: number;
  readonly bulkStreams: number;
  readonly bulkBytes: number;
  readonly failedLoginsPerSecond: number;
  readonly udpPerSecond: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Load {
  readonly counters: Counters = {};
  #running = true;
  readonly #idle = new Set<net.Socket>();
  readonly #loops: Promise<void>[] = [];
  readonly #o: LoadOptions;

  constructor(options: LoadOptions) {
    this.#o = options;
  }

  #count(kind: string, ok: boolean, note?: string): void {
    const c = (this.counters[kind] ??= { ok: 0, failed: 0 });
    if (ok) c.ok++;
    else {
      c.failed++;
      if (note !== undefined) c.note = note;
    }
  }

  #tunnel(destPort: number, extra: Partial<TunnelOptions> = {}): ReturnType<typeof openTunnel> {
    return openTunnel({
      port: this.#o.ferryPort,
      user: this.#o.user,
      password: this.#o.password,
      host: '127.0.0.1',
      destPort,
      ...extra,
    });
  }

  #live(): boolean {
    return this.#running;
  }

  /** Starts every loop. */
  start(): void {
    this.#loops.push(this.#idleLoop());
    for (let i = 0; i < 4; i++) this.#loops.push(this.#churnLoop(this.#o.churnPerSecond / 4));
    for (let i = 0; i < this.#o.bulkStreams; i++) this.#loops.push(this.#bulkLoop());
    this.#loops.push(this.#failedLoginLoop());
    if (this.#o.udpPerSecond > 0) this.#loops.push(this.#udpLoop());
  }

  /** Stops the loops and closes every tunnel they hold. */
  async stop(): Promise<void> {
    this.#running = false; // read through #live(): loops see it change
    await Promise.all(this.#loops);
    for (const s of this.#idle) s.destroy();
    this.#idle.clear();
  }

  async #echoOnce(socket: net.Socket, text: string): Promise<boolean> {
    const got: Buffer[] = [];
    let n = 0;
    const done = new Promise<boolean>((resolve) => {
      // Every listener comes off again: an idle tunnel is pinged many times.
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), 10_000);
      const onData = (c: Buffer): void => {
        got.push(c);
        n += c.length;
        if (n >= text.length) finish(Buffer.concat(got).toString() === text);
      };
      const onClose = (): void => finish(false);
      socket.on('data', onData);
      socket.once('close', onClose);
    });
    socket.write(text);
    return done;
  }

  /** Keeps `idleTunnels` open; every 30 s pings them all and replaces a tenth of them. */
  async #idleLoop(): Promise<void> {
    let round = 0;
    while (this.#live()) {
      while (this.#live() && this.#idle.size < this.#o.idleTunnels) {
        const t = await this.#tunnel(this.#o.targets.echoPort);
        this.#count('idle-open', t.ok, t.ok ? undefined : `${t.stage} ${t.code}`);
        if (t.ok) this.#idle.add(t.socket);
        else await sleep(100);
      }
      for (let i = 0; i < 300 && this.#live(); i++) await sleep(100);
      if (!this.#live()) return;
      round++;
      let k = 0;
      for (const s of [...this.#idle]) {
        const alive = await this.#echoOnce(s, `ping ${round}`);
        this.#count('idle-ping', alive, alive ? undefined : 'no echo');
        if (!alive || k++ % 10 === 0) {
          this.#idle.delete(s);
          s.destroy();
        }
      }
    }
  }

  async #churnLoop(perSecond: number): Promise<void> {
    const payload = 'x'.repeat(1024);
    while (this.#live()) {
      const started = Date.now();
      const t = await this.#tunnel(this.#o.targets.echoPort);
      if (t.ok) {
        const ok = await this.#echoOnce(t.socket, payload);
        this.#count('churn', ok, ok ? undefined : 'bad echo');
        t.socket.end();
        t.socket.destroy();
      } else {
        this.#count('churn', false, `${t.stage} ${t.code}`);
      }
      await sleep(Math.max(0, 1000 / perSecond - (Date.now() - started)));
    }
  }

  async #bulkLoop(): Promise<void> {
    while (this.#live()) {
      const t = await this.#tunnel(this.#o.targets.bulkPort);
      if (!t.ok) {
        this.#count('bulk', false, `${t.stage} ${t.code}`);
        await sleep(500);
        continue;
      }
      const socket = t.socket;
      let received = 0;
      const ended = await new Promise<boolean>((resolve) => {
        socket.on('data', (c: Buffer) => (received += c.length));
        socket.once('end', () => resolve(true));
        socket.once('close', () => resolve(false));
        const check = setInterval(() => {
          if (!this.#live()) {
            clearInterval(check);
            socket.destroy();
          }
        }, 200);
        socket.once('close', () => clearInterval(check));
      });
      socket.destroy();
      if (!this.#live()) return;
      const ok = ended && received === this.#o.bulkBytes;
      this.#count('bulk', ok, ok ? undefined : `got ${received} of ${this.#o.bulkBytes}`);
      this.#count('bulk-MiB', true);
      this.counters['bulk-MiB']!.ok += received / MiB - 1;
    }
  }

  /** Wrong passwords from 127.0.0.50–99 (the throttle is per client address). */
  async #failedLoginLoop(): Promise<void> {
    let i = 0;
    while (this.#live()) {
      const t = await this.#tunnel(this.#o.targets.echoPort, {
        password: 'wrong',
        localAddress: `127.0.0.${50 + (i++ % 50)}`,
      });
      const refused = !t.ok && t.stage === 'auth';
      if (t.ok) t.socket.destroy();
      this.#count('failed-login', refused, refused ? undefined : t.ok ? 'accepted!' : t.stage);
      await sleep(1000 / this.#o.failedLoginsPerSecond);
    }
  }

  /**
   * One association at a time, 5 s each (so associations and their relay sockets churn too),
   * datagrams to the UDP echo and back.
   */
  async #udpLoop(): Promise<void> {
    while (this.#live()) {
      const t = await this.#tunnel(0, { command: 0x03, host: '0.0.0.0' });
      if (!t.ok && t.stage === 'reply' && t.code === 0x07) {
        this.counters['udp-associate'] = { ok: 0, failed: 0, note: 'not supported by this build' };
        return;
      }
      if (!t.ok) {
        this.#count('udp-associate', false, `${t.stage} ${t.code}`);
        await sleep(1000);
        continue;
      }
      this.#count('udp-associate', true);
      const relay = t.bound;
      const sock = dgram.createSocket('udp4');
      await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
      let answered = 0;
      sock.on('message', () => answered++);
      const header = Buffer.from([0, 0, 0, 0x01, 127, 0, 0, 1, 0, 0]);
      header.writeUInt16BE(this.#o.targets.udpEchoPort, 8);
      let sent = 0;
      const until = Date.now() + 5_000;
      while (this.#live() && Date.now() < until) {
        sock.send(Buffer.concat([header, Buffer.from(`dgram ${sent++}`)]), relay.port, relay.host);
        await sleep(1000 / this.#o.udpPerSecond);
      }
      await sleep(200);
      sock.close();
      t.socket.destroy();
      // Loopback UDP may still drop under load; most must come back.
      this.#count('udp-datagrams', answered >= sent * 0.9, `${answered}/${sent} echoed`);
      const echoed = (this.counters['udp-echoed'] ??= { ok: 0, failed: 0 });
      echoed.ok += answered;
    }
  }
}
