#!/usr/bin/env node
// `npm start` on a fresh clone: build first when dist/ is missing or older than src/.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function newest(dir) {
  let t = 0;
  for (const d of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (d.isFile()) t = Math.max(t, statSync(join(d.parentPath ?? d.path, d.name)).mtimeMs);
  }
  return t;
}
const entry = 'dist/cli/main.js';
if (!existsSync(entry) || newest('src') > statSync(entry).mtimeMs) {
  const r = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
