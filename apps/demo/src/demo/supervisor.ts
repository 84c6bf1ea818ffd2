import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** How to start one child process. */
export interface ChildSpec {
  /** Short unique name (`mds1`, `n2`, `client`); also the log file's name. */
  readonly name: string;
  /** Executable (usually `process.execPath`). */
  readonly command: string;
  /** Arguments. */
  readonly args: readonly string[];
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory; default the supervisor's. */
  readonly cwd?: string;
}

/** One line a child wrote: its JSON log entry when it is one (pino format), else the raw text. */
export interface ChildLine {
  /** The child's name. */
  readonly child: string;
  /** `stdout` or `stderr`. */
  readonly stream: 'stdout' | 'stderr';
  /** The line as written. */
  readonly text: string;
  /** The parsed JSON object, when the line is one. */
  readonly entry?: Readonly<Record<string, unknown>>;
}

/** How a child ended. */
export interface ChildExit {
  /** Exit code, or null when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it, or null. */
  readonly signal: NodeJS.Signals | null;
}

/** Options of `Supervisor`. */
export interface SupervisorOptions {
  /** Directory for the log files: `<name>.log` per child and `all.log` with every line prefixed. */
  readonly logDir: string;
  /** Told of every line any child writes. */
  readonly onLine?: (line: ChildLine) => void;
  /** Told when a child exits. */
  readonly onExit?: (name: string, exit: ChildExit) => void;
  /** How long `stopAll` waits after SIGTERM before SIGKILL; default 3000 ms. */
  readonly stopTimeoutMs?: number;
}

/** A child the supervisor started. */
export class SupervisedChild {
  /** Resolves once the process exited. */
  readonly exited: Promise<ChildExit>;
  private readonly recent: string[] = [];
  private readonly watchers = new Set<(line: ChildLine) => void>();
  private exit: ChildExit | undefined;

  constructor(
    readonly spec: ChildSpec,
    readonly process: ChildProcess,
    /** This child's log file. */
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => {
      process.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      // A process that could not be spawned at all emits 'error' and may never emit 'exit'.
      process.once('error', () => {
        if (process.pid !== undefined || this.exit) return;
        this.exit = { code: 127, signal: null };
        resolve(this.exit);
      });
    });
  }

  /** The child's name. */
  get name(): string {
    return this.spec.name;
  }

  /** The process id. */
  get pid(): number | undefined {
    return this.process.pid;
  }

  /** True until the process exited. */
  get alive(): boolean {
    return this.exit === undefined;
  }

  /** The last lines the child wrote (at most 20), for error reports. */
  get lastLines(): readonly string[] {
    return this.recent;
  }

  /**
   * Resolves with the first line (from now on) that `match` accepts; rejects if the child exits
   * first or after `timeoutMs`, quoting the child's last lines.
   */
  waitFor(match: (line: ChildLine) => boolean, what: string, timeoutMs = 15000): Promise<ChildLine> {
    if (!this.alive) return Promise.reject(this.failure(`exited before ${what}`));
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.watchers.delete(watch);
      };
      const watch = (line: ChildLine): void => {
        if (!match(line)) return;
        done();
        resolve(line);
      };
      const timer = setTimeout(() => {
        done();
        reject(this.failure(`did not log ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.watchers.add(watch);
      void this.exited.then((e) => {
        if (!this.watchers.has(watch)) return;
        done();
        reject(this.failure(`exited (${e.signal ?? `code ${e.code}`}) before ${what}`));
      });
    });
  }

  /** @internal Feeds one line (called by the supervisor). */
  line(line: ChildLine): void {
    this.recent.push(line.text);
    if (this.recent.length > 20) this.recent.shift();
    for (const w of [...this.watchers]) w(line);
  }

  private failure(what: string): Error {
    return new Error(
      `${this.name} ${what}; its log is ${this.logFile}${this.recent.length ? `, last lines:\n  ${this.recent.join('\n  ')}` : ''}`,
    );
  }
}

/**
 * Starts child processes, writes everything they print to log files (one per child, and one
 * combined file with each line prefixed by the child's name), and stops them all: on `stopAll`
 * (SIGTERM, then SIGKILL after a grace period), and as a last resort with SIGKILL when this
 * process exits, so nothing it started outlives it.
 */
export class Supervisor {
  private readonly children = new Map<string, SupervisedChild>();
  private readonly combined: WriteStream;
  private readonly drained = new Set<Promise<void>>();
  private readonly onProcessExit = (): void => this.killAllNow();
  private closed = false;

  constructor(private readonly options: SupervisorOptions) {
    this.combined = createWriteStream(join(options.logDir, 'all.log'), { flags: 'a' });
    process.on('exit', this.onProcessExit);
  }

  /** Every child started (the latest incarnation per name). */
  list(): SupervisedChild[] {
    return [...this.children.values()];
  }

  /** The child with this name, if started. */
  get(name: string): SupervisedChild | undefined {
    return this.children.get(name);
  }

  /** Starts a child; a name already running is an error, a name that exited is started again (log appended). */
  start(spec: ChildSpec): SupervisedChild {
    if (this.closed) throw new Error(`the supervisor is stopped; cannot start ${spec.name}`);
    const previous = this.children.get(spec.name);
    if (previous?.alive) throw new Error(`${spec.name} is already running (pid ${previous.pid})`);
    const logFile = join(this.options.logDir, `${spec.name}.log`);
    const file = createWriteStream(logFile, { flags: 'a' });
    const proc = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const child = new SupervisedChild(spec, proc, logFile);
    this.children.set(spec.name, child);
    let open = 2;
    let allClosed!: () => void;
    const drained = new Promise<void>((resolve) => (allClosed = resolve));
    this.drained.add(drained);
    for (const stream of ['stdout', 'stderr'] as const) {
      const rl = createInterface({ input: proc[stream]! });
      rl.on('line', (text) => {
        file.write(`${text}\n`);
        this.combined.write(`[${spec.name}] ${text}\n`);
        let entry: Record<string, unknown> | undefined;
        if (text.startsWith('{')) {
          try {
            entry = JSON.parse(text) as Record<string, unknown>;
          } catch {
            entry = undefined;
          }
        }
        const line: ChildLine = { child: spec.name, stream, text, ...(entry ? { entry } : {}) };
        child.line(line);
        this.options.onLine?.(line);
      });
      rl.on('close', () => {
        if (--open === 0)
          file.end(() => {
            this.drained.delete(drained);
            allClosed();
          });
      });
    }
    proc.on('error', (err) => {
      const text = `supervisor: cannot start ${spec.name}: ${err.message}`;
      file.write(`${text}\n`);
      this.combined.write(`[${spec.name}] ${text}\n`);
    });
    void child.exited.then((exit) => {
      this.combined.write(`[${spec.name}] supervisor: exited ${exit.signal ?? `with code ${exit.code}`}\n`);
      this.options.onExit?.(spec.name, exit);
    });
    return child;
  }

  /** Sends `signal` to a running child (SIGKILL by default); resolves once it exited. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<ChildExit> {
    const child = this.children.get(name);
    if (!child) throw new Error(`no child named ${name}`);
    if (child.alive) child.process.kill(signal);
    return child.exited;
  }

  /** Stops every running child: SIGTERM, then SIGKILL for those still alive after the grace period. */
  async stopAll(): Promise<void> {
    const running = this.list().filter((c) => c.alive);
    for (const c of running) c.process.kill('SIGTERM');
    const grace = this.options.stopTimeoutMs ?? 3000;
    await Promise.all(
      running.map(async (c) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            if (c.alive) c.process.kill('SIGKILL');
            resolve();
          }, grace);
        });
        await Promise.race([c.exited, late]);
        clearTimeout(timer);
        await c.exited;
      }),
    );
  }

  /** Stops every child, waits until everything they wrote is in the log files, and closes them. */
  async close(): Promise<void> {
    await this.stopAll();
    this.closed = true;
    process.off('exit', this.onProcessExit);
    await Promise.all([...this.drained]);
    await new Promise<void>((resolve) => this.combined.end(resolve));
  }

  /** SIGKILLs every running child at once, synchronously (for `process.on('exit')`). */
  killAllNow(): void {
    for (const c of this.children.values()) if (c.alive) c.process.kill('SIGKILL');
  }
}
