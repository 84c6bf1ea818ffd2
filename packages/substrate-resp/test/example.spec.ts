import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { freePorts, LineProcess } from '@vcl/core/testing';
import { describeWithRedis } from './redis-server';
import { buildForProcesses, RespClient, until } from './support';

// examples/redis: its stack file with every port moved to a free one, started by its script; then
// redis-cli through it, the three replicas compared directly, and the script stopped.

jest.setTimeout(180_000);
const run = promisify(execFile);
const root = path.resolve(__dirname, '../../..');

/** Whether something accepts connections on `port`. */
const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });

describeWithRedis('examples/redis (stack file and start script)', () => {
  let dir: string;
  let script: LineProcess | undefined;
  beforeAll(() => buildForProcesses(), 300_000);
  afterAll(async () => {
    await script?.terminate();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts 3 redis-server replicas behind VCL; redis-cli works through it; replicas equal; SIGTERM stops everything', async () => {
    const original = fs.readFileSync(path.join(root, 'examples/redis/stack.yaml'), 'utf8');
    const used = [...new Set([...original.matchAll(/\b(6\d{3}|7\d{3})\b/g)].map((m) => m[1]!))];
    const free = await freePorts(used.length + 3);
    let stack = original;
    used.forEach((p, i) => (stack = stack.replace(new RegExp(`\\b${p}\\b`, 'g'), String(free[i]))));
    const redisPorts = free.slice(used.length);
    const clientPort = free[used.indexOf('6390')]!;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-redis-example-spec-'));
    const stackFile = path.join(dir, 'stack.yaml');
    fs.writeFileSync(stackFile, stack);

    script = new LineProcess(
      'start.mjs',
      spawn(
        process.execPath,
        [
          path.join(root, 'examples/redis/start.mjs'),
          '--stack',
          stackFile,
          '--redis-ports',
          redisPorts.join(','),
          '--no-build',
        ],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    await script.waitFor((l) => l.includes('ready: redis-cli'), 90_000, 'the example ready');
    expect(script.lines.find((l) => l.includes('ready:'))).toContain(`-p ${clientPort}`);

    const cli = (...args: string[]) => run('redis-cli', ['-p', String(clientPort), ...args], { timeout: 30_000 });
    expect((await cli('INCR', 'visits')).stdout).toBe('1\n');
    expect((await cli('INCR', 'visits')).stdout).toBe('2\n');
    expect((await cli('RPUSH', 'queue', 'a', 'b')).stdout).toBe('2\n');
    expect((await cli('LRANGE', 'queue', '0', '-1')).stdout).toBe('a\nb\n');
    let digests: string[] = [];
    await until('equal digests', async () => {
      digests = await Promise.all(
        redisPorts.map(async (p) => {
          const c = await RespClient.connect(p);
          const d = await c.call('DEBUG', 'DIGEST');
          c.close();
          return d;
        }),
      );
      return new Set(digests).size === 1;
    }).catch(() => undefined);
    expect(new Set(digests).size).toBe(1);

    script.child.kill('SIGTERM');
    await script.exited;
    expect(script.lines.at(-1)).toBe('redis-example: stopped');
    expect(await Promise.all([...redisPorts, clientPort].map(listening))).toEqual([false, false, false, false]);
  });
});
