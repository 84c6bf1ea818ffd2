import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePorts, type RunningService } from '@vcl/core/testing';
import { RespClient, until } from './support';

// Real redis-server replicas for the specs, and the rule for machines without one: the specs that
// need it do not run, and say so plainly (and fail under CI, which installs redis-server).

/** Whether `program` is on the PATH. */
export function onPath(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).status === 0;
}

/**
 * `describe` when redis-server and redis-cli are on the PATH. Otherwise one test in its place that
 * logs which tests did not run and why, and fails when `CI=true` (CI installs redis-server, so a
 * missing one there is a broken setup, not a reason to pass).
 */
export function describeWithRedis(name: string, body: () => void): void {
  const missing = ['redis-server', 'redis-cli', 'redis-benchmark'].filter((p) => !onPath(p));
  if (!missing.length) {
    describe(name, body);
    return;
  }
  const titles = testTitles(body);
  describe(name, () => {
    it(`did not run: ${missing.join(', ')} not on the PATH`, () => {
      const line =
        `NOT RUN (${missing.join(', ')} not on the PATH; apt-get install redis-server redis-tools): ` +
        titles.map((t) => `"${name} ${t}"`).join(', ');
      console.log(line);
      if (process.env['CI'] === 'true') throw new Error(line);
    });
  });
}

/** The titles of the tests `body` would register, without running any of it (for the NOT RUN line). */
function testTitles(body: () => void): string[] {
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = ['describe', 'it', 'test', 'beforeAll', 'afterAll', 'beforeEach', 'afterEach'].map(
    (k) => [k, g[k]] as const,
  );
  const titles: string[] = [];
  const prefix: string[] = [];
  const noop = (): void => undefined;
  Object.assign(g, {
    describe: (title: string, inner: () => void) => {
      prefix.push(title);
      inner();
      prefix.pop();
    },
    it: (title: string) => titles.push([...prefix, title].join(' ')),
    test: (title: string) => titles.push([...prefix, title].join(' ')),
    beforeAll: noop,
    afterAll: noop,
    beforeEach: noop,
    afterEach: noop,
  });
  try {
    body();
  } finally {
    for (const [k, v] of saved) g[k] = v;
  }
  return titles;
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
