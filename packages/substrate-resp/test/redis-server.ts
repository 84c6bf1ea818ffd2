import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeWhenInstalled, freePorts, type RunningService } from '@vcl/core/testing';
import { RespClient, until } from './support';

// Real redis-server replicas for the specs, and the rule for machines without one: the specs that
// need it do not run, and say so plainly (and fail under CI, which installs redis-server).

/** `describe` when redis-server, redis-cli and redis-benchmark are installed (see `describeWhenInstalled`). */
export function describeWithRedis(name: string, body: () => void): void {
  describeWhenInstalled(
    { programs: ['redis-server', 'redis-cli', 'redis-benchmark'], install: 'apt-get install redis-server redis-tools' },
    name,
    body,
  );
}

/** One redis-server replica the spec started (its own child, killed by pid). */
export interface RedisReplica extends RunningService {
  /** The child process. */
  readonly child: ChildProcess;
  /** Its data directory (the `--save` file goes there). */
  readonly dir: string;
  /** A direct connection (not through VCL) for digests and dumps. */
  direct(): Promise<RespClient>;
}

/** Starts redis-server on a free loopback port; `args` are extra command-line options. */
export async function startRedis(args: readonly string[] = [], port?: number): Promise<RedisReplica> {
  const [p] = port ? [port] : await freePorts(1);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-redis-'));
  const child = spawn(
    'redis-server',
    [
      '--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
      '--enable-debug-command', 'local', '--protected-mode', 'no', ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  ); // prettier-ignore
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await until(
    `redis-server on port ${p} ready (${output.slice(-300)})`,
    () => /Ready to accept connections/.test(output),
    20_000,
  );
  return {
    child,
    dir,
    endpoint: { host: '127.0.0.1', port: p },
    direct: () => RespClient.connect(p!),
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `DEBUG DIGEST` of a replica, read on a direct connection. */
export async function digest(replica: RedisReplica): Promise<string> {
  const client = await replica.direct();
  try {
    return await client.call('DEBUG', 'DIGEST');
  } finally {
    client.close();
  }
}

/** Waits until the replicas' `DEBUG DIGEST`s are equal (the others may still apply the last requests); returns them. */
export async function settledDigests(replicas: readonly RedisReplica[]): Promise<string[]> {
  let last: string[] = [];
  await until('equal DEBUG DIGEST on every replica', async () => {
    last = await Promise.all(replicas.map(digest));
    return new Set(last).size === 1;
  }).catch(() => undefined);
  return last;
}
