/**
 * `ferry connect [--proxy URL]... HOST PORT`: standard input and output through a SOCKS proxy
 * or a chain, like `nc -X 5 -x proxy:port` — and usable as an SSH ProxyCommand:
 *
 *   ssh -o ProxyCommand='ferry connect --proxy socks5h://127.0.0.1:1080 %h %p' host
 *
 * Exit status 0 when the connection closes cleanly; 1 with one sentence on standard error when
 * the proxy refuses (the sentence names the reply code), the handshake fails, or the connection
 * breaks. Wiring: `program.addCommand(connectCommand())` before `await program.parseAsync()`.
 */
import { Command, InvalidArgumentError } from 'commander';
import type { Readable, Writable } from 'node:stream';
import { connect } from '../client/connect.js';
import { DEFAULT_HANDSHAKE_TIMEOUT } from '../client/tunnel.js';
import { parseDuration } from './parse.js';
import { formatDuration } from '../config/duration.js';

/** The streams the command uses; the process's by default (tests may pass their own). */
export interface ConnectIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

export interface ConnectCommandOptions {
  /** Proxy URLs, first hop first. */
  readonly proxy: readonly string[];
  /** Handshake timeout in milliseconds. */
  readonly timeout: number;
}

function parsePort(text: string): number {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 0xffff) {
    throw new InvalidArgumentError('expected a port number 1-65535.');
  }
  return Number(text);
}

function parseTimeout(text: string): number {
  const ms = parseDuration(text);
  if (ms === 0) throw new InvalidArgumentError('the timeout must be more than 0.');
  return ms;
}

/**
 * Runs one `ferry connect`: resolves with the exit status (never rejects). Failures are written
 * to `io.stderr` as one line: `ferry connect: <sentence>`.
 */
export async function runConnect(
  host: string,
  port: number,
  options: ConnectCommandOptions,
  io: ConnectIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const fail = (message: string): number => {
    io.stderr.write(`ferry connect: ${message}\n`);
    return 1;
  };
  if (options.proxy.length === 0) {
    return fail('no proxy given: pass --proxy URL (e.g. --proxy socks5h://127.0.0.1:1080).');
  }
  let socket;
  try {
    ({ socket } = await connect({
      proxies: options.proxy,
      destination: { host, port },
      timeout: options.timeout,
    }));
  } catch (err) {
    return fail(sentence((err as Error).message));
  }
  return new Promise<number>((resolve) => {
    let failure: Error | undefined;
    socket.on('error', (err) => {
      failure = err;
    });
    // stdin → tunnel; its end is passed on as a half-close (the remote may still answer).
    io.stdin.pipe(socket);
    // tunnel → stdout; when the remote is done, so are we, even if stdin is still open.
    socket.pipe(io.stdout, { end: false });
    socket.on('close', () => {
      io.stdin.unpipe(socket);
      io.stdin.pause();
      if (failure) {
        resolve(fail(sentence(`the connection to ${host}:${port} broke: ${failure.message}`)));
        return;
      }
      // Wait for stdout to take what it was given before reporting success.
      io.stdout.write('', () => {
        resolve(0);
      });
    });
  });
}

/** One sentence: capitalised errors are left alone, a final period added when missing. */
function sentence(message: string): string {
  return /[.!?]$/.test(message) ? message : `${message}.`;
}

/**
 * The `connect` subcommand, for `program.addCommand(connectCommand())`. Its action is async:
 * the program must be run with `parseAsync`. It sets `process.exitCode` and releases standard
 * input when done, so the process exits on its own.
 */
export function connectCommand(io?: ConnectIo): Command {
  return new Command('connect')
    .description(
      'Connect standard input and output to HOST:PORT through a SOCKS proxy (or a chain of them, in order), like nc -X 5. Usable as an SSH ProxyCommand.',
    )
    .argument('<host>', 'destination host name or IP address')
    .argument('<port>', 'destination port', parsePort)
    .option(
      '--proxy <url>',
      'proxy URL: socks5://, socks5h:// (names resolved by the proxy), socks4://, socks4a://, with optional user:password@; repeat for a chain, first hop first',
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .option(
      '--timeout <duration>',
      `handshake timeout, e.g. 5s or 500ms (default: ${formatDuration(DEFAULT_HANDSHAKE_TIMEOUT)})`,
      parseTimeout,
      DEFAULT_HANDSHAKE_TIMEOUT,
    )
    .action(async (host: string, port: number, options: ConnectCommandOptions) => {
      const streams = io ?? {
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
      };
      process.exitCode = await runConnect(host, port, options, streams);
      if (streams.stdin === process.stdin) process.stdin.destroy();
    });
}
