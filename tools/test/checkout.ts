import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The workspace root of this checkout. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Runs a command to completion; throws with its output when `check` and it exits non-zero. */
export function run(
  cmd: string,
  args: readonly string[],
  cwd: string,
  check = true,
  env: NodeJS.ProcessEnv = {},
): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    // offline: a test never asks the registry; npm_config_yes: npx would otherwise prompt for unknown names
    env: { ...process.env, npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (check && r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status} in ${cwd}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/**
 * A fresh clone of this work tree in a temporary folder: every tracked and untracked-but-not-ignored
 * file as it is now (so the test sees uncommitted edits too), and nothing built.
 */
export function freshClone(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const files = run('git', ['ls-files', '-z', '-c', '-o', '--exclude-standard'], REPO_ROOT)
    .stdout.split('\0')
    .filter((f) => f && fs.existsSync(path.join(REPO_ROOT, f)));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, f), path.join(dir, f));
    fs.chmodSync(path.join(dir, f), fs.statSync(path.join(REPO_ROOT, f)).mode);
  }
  return dir;
}

/**
 * Gives `clone` this checkout's installed dependencies without the workspace links, their bins and
 * npm's record of them, then lets `npm install --offline` link the workspaces, as `npm ci` does in
 * a fresh clone. (`npm ci` itself empties node_modules and needs every tarball from the registry or
 * a complete cache; a test stays offline.) Hard links keep it fast: no file is written through them.
 */
export function installOffline(clone: string): void {
  const nm = path.join(clone, 'node_modules');
  if (run('cp', ['-al', path.join(REPO_ROOT, 'node_modules'), nm], clone, false).status !== 0)
    run('cp', ['-a', path.join(REPO_ROOT, 'node_modules'), nm], clone);
  for (const p of ['@vcl', '.package-lock.json', '.cache', '.bin/vcl', '.bin/vcl-exec'])
    fs.rmSync(path.join(nm, p), { recursive: true, force: true });
  run('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], clone);
}
