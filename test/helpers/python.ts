/**
 * A Python interpreter that can import a module. The first `python3` on PATH may be a pyenv or
 * venv one that does not see Debian's packages (python3-socks installs into /usr/lib/python3), so
 * /usr/bin/python3 is tried too.
 */
import { spawnSync } from 'node:child_process';

const candidates = ['python3', '/usr/bin/python3'];

/** The interpreter that imports `module`, or undefined. */
export function pythonWith(module: string): string | undefined {
  return candidates.find(
    (python) => spawnSync(python, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0,
  );
}

/** `skip` for node:test: false when available; the reason when not; throws in CI (CI=true). */
export function requirePython(module: string, debianPackage: string): false | string {
  if (pythonWith(module) !== undefined) return false;
  if (process.env.CI === 'true') {
    throw new Error(
      `CI=true and python module ${module} (${debianPackage}) is missing: .ci/run must install it`,
    );
  }
  return `python3 module ${module} is not installed (Debian ${debianPackage})`;
}
