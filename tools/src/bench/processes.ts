import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';

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
export class Proc {
  /** Every stdout line so far (unless `keepLines` is false). */
  readonly lines: string[] = [];
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<string>;
  private readonly listeners = new Set<(line: string) => void>();
  private stderr = '';
  private gone = false;

  constructor(
    /** Name for messages. */
    readonly name: string,
    /** The child process. */
    readonly child: ChildProcess,
    private readonly keepLines = true,
  ) {
    let held = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      held += d;
      const parts = held.split('\n');
      held = parts.pop()!;
      for (const line of parts) {
        if (this.keepLines) this.lines.push(line);
        for (const l of this.listeners) l(line);
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-4000)));
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.gone = true;
        resolve(signal ?? String(code));
      }),
    );
  }

  /** Whether the process has exited. */
  get dead(): boolean {
    return this.gone;
  }

  /** The tail of its standard error, for failure messages. */
  get errors(): string {
    return this.stderr;
  }

  /** Resolves with the first line (already printed or future) that satisfies `match`. */
  waitFor(match: (line: string) => boolean, timeoutMs: number, what = 'a line'): Promise<string> {
    const found = this.lines.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms; stderr: ${this.stderr}`));
      }, timeoutMs);
      const listener = (line: string): void => {
        if (!match(line)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(line);
      };
      this.listeners.add(listener);
      void this.exited.then((how) => {
        if (!this.listeners.has(listener)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        reject(new Error(`${this.name}: exited (${how}) before ${what}; stderr: ${this.stderr}`));
      });
    });
  }

  /** Calls `fn` for every future line. */
  onLine(fn: (line: string) => void): void {
    this.listeners.add(fn);
  }

  /** Sends `signal` to this child, by its pid. */
  signal(signal: NodeJS.Signals): void {
    if (!this.gone && this.child.pid) process.kill(this.child.pid, signal);
  }

  /** Kills it for good (resuming it first if it was stopped). */
  async terminate(): Promise<void> {
    if (this.gone) return;
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    await this.exited;
  }
}

/** Spawns `node <args>` from the repository root. */
export function spawnNode(
  name: string,
  args: readonly string[],
  env: Record<string, string> = {},
  keepLines = true,
): Proc {
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, VCL_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Proc(name, child, keepLines);
}

/** A pino JSON line's fields, or undefined. */
export function logLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
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
