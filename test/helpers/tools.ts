/**
 * Interop tests need third-party peers. When one is missing the test is skipped with the reason,
 * except in CI (CI=true), where a missing tool is a failure: .ci/run installs them all.
 */
import { spawnSync } from 'node:child_process';

export function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** `skip` option for node:test: false when present; a reason when absent; throws in CI. */
export function requireTool(command: string, why = `${command} is not installed`): false | string {
  if (hasCommand(command)) return false;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${why}: .ci/run must install it`);
  return why;
}

/** Same for a Python module. */
export function requirePythonModule(module: string, pkg: string): false | string {
  const ok = spawnSync('python3', ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
  if (ok) return false;
  if (process.env.CI === 'true')
    throw new Error(
      `CI=true and python module ${module} (${pkg}) is missing: .ci/run must install it`,
    );
  return `python3 module ${module} is not installed (Debian ${pkg})`;
}
