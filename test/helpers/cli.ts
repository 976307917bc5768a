/** Runs the `ferry` CLI from source (tsx), so CLI tests do not depend on a build. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export function ferry(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    env: { ...process.env, ...env },
  });
}

/** Runs to completion. */
export async function run(
  args: string[],
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = ferry(args);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(input);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** JSON log lines from a running server, with a wait for one that matches. */
export class LogLines {
  readonly lines: Record<string, unknown>[] = [];
  #partial = '';
  #wake: (() => void) | undefined;

  constructor(child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (c: Buffer) => {
      const text = this.#partial + c.toString();
      const parts = text.split('\n');
      this.#partial = parts.pop() ?? '';
      for (const p of parts)
        if (p.trim() !== '') this.lines.push(JSON.parse(p) as Record<string, unknown>);
      this.#wake?.();
    });
  }

  async waitFor(
    pred: (l: Record<string, unknown>) => boolean,
    timeoutMs = 10_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline)
        throw new Error(`no log line matched; saw ${JSON.stringify(this.lines)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.#wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }
}

/** Starts `ferry serve` on a free loopback port; resolves once it logs its address. */
export async function serve(
  args: string[] = [],
): Promise<{ child: ChildProcessWithoutNullStreams; port: number; logs: LogLines }> {
  const child = ferry(['serve', '--listen', '127.0.0.1:0', ...args]);
  const logs = new LogLines(child);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const line = await logs
    .waitFor((l) => l.event === 'listening')
    .catch((err: unknown) => {
      child.kill();
      throw new Error(`ferry serve did not start: ${stderr} ${String(err)}`);
    });
  const addr = (line.addresses as string[])[0] ?? '';
  return { child, port: Number(addr.slice(addr.lastIndexOf(':') + 1)), logs };
}
