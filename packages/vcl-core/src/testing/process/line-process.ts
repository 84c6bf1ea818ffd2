import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/**
 * A spawned process whose stdout is followed line by line (the e2e harness, `npm run bench` and
 * `npm run chaos` drive `vcl service`, `vcl client` and services through it).
 */
export class LineProcess {
  /** Every stdout line so far (unless `keepLines` is false). */
  readonly lines: string[] = [];
  /** When each kept stdout line arrived (ms, `performance.now()`). */
  readonly times: number[] = [];
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<string>;
  private readonly listeners = new Set<(line: string) => void>();
  private stderr = '';
  private gone = false;

  constructor(
    /** Name for messages. */
    readonly name: string,
    /** The child process (stdout and stderr piped). */
    readonly child: ChildProcess,
    /** Keep every line in `lines` (false for chatty processes only listened to). Default true. */
    private readonly keepLines = true,
  ) {
    let held = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      held += d;
      const parts = held.split('\n');
      held = parts.pop()!;
      for (const line of parts) {
        if (this.keepLines) {
          this.lines.push(line);
          this.times.push(performance.now());
        }
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

  /**
   * Resolves with the first line (already printed or future) that satisfies `match`; rejects after
   * `timeoutMs`, or as soon as the process exits without printing one.
   */
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

/** Spawns `node <args>` in `cwd` with `VCL_LOG_LEVEL=info` (overridable through `env`). */
export function spawnNodeProcess(
  cwd: string,
  name: string,
  args: readonly string[],
  env: Record<string, string> = {},
  keepLines = true,
): LineProcess {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, VCL_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new LineProcess(name, child, keepLines);
}

/**
 * The arguments of `node <cli> service` for one member of a stack on loopback, in front of its own
 * replica at `servicePort` (`cli`: the built `vcl` command, packages/vcl-core/dist/cli/main.js).
 */
export function vclServiceArgs(cli: string, stackFile: string, member: string, servicePort: number): string[] {
  return [cli, 'service', '--config', stackFile, '--member', member, '--service-endpoint', `127.0.0.1:${servicePort}`];
}

/** A pino JSON line's fields, or undefined for any other line. */
export function logLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
