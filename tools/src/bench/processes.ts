import { execFileSync } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawnNodeProcess, type LineProcess as Proc } from '@vcl/core/testing';

// Process plumbing shared by `npm run bench` and `npm run chaos`: spawn `node` programs from the
// repository root, follow their stdout line by line, signal them by pid, find free loopback ports.

/** The repository root (this file is at tools/{src,dist}/bench/). */
export const repoRoot = path.resolve(__dirname, '../../..');

/** The built `vcl` command. */
export const vclCli = path.join(repoRoot, 'packages/vcl-core/dist/cli/main.js');

/** A built program of this package: `tools/dist/<rel>.js`. */
export function toolsProgram(rel: string): string {
  return path.join(repoRoot, 'tools/dist', `${rel}.js`);
}

/** Builds what the spawned processes load: @vcl/core, the plugins, and this package (incremental). */
export function buildForProcesses(): void {
  execFileSync(
    'npx',
    [
      'tsc',
      '-b',
      'packages/vcl-core/tsconfig.lib.json',
      'packages/substrate-tcp/tsconfig.lib.json',
      'packages/gcs-sequencer/tsconfig.lib.json',
      'packages/gcs-tokenring/tsconfig.lib.json',
      'tools/tsconfig.lib.json',
    ],
    { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

/** A spawned process and the lines it printed. */
export { LineProcess as Proc, logLine, vclServiceArgs } from '@vcl/core/testing';

/** Spawns `node <args>` from the repository root. */
export function spawnNode(
  name: string,
  args: readonly string[],
  env: Record<string, string> = {},
  keepLines = true,
): Proc {
  return spawnNodeProcess(repoRoot, name, args, env, keepLines);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

let nextPort = 20000 + Math.floor(Math.random() * 10000);

/**
 * `n` loopback ports nobody listens on now, all below 32768 so they never collide with the
 * kernel's ephemeral range (outgoing connections of the many processes).
 */
export async function lowPorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    if (nextPort >= 32700) nextPort = 20000;
    const p = nextPort++;
    if (await portFree(p)) ports.push(p);
  }
  return ports;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
