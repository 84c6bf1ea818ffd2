import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { concatBytes, type Clock, type Conversation, type Timer } from '@vcl/core';
import { CommandFramer, decodeRequest, encodeResponse, type CommandRequest } from './codec';
import type { ResolvedCliOptions } from './options';

// Room in a response frame for its fixed fields and VCL's own notes on stderr.
const RESPONSE_OVERHEAD = 4 + 2 + 4 + 1 + 4 + 4;
const NOTES = 512;

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/**
 * The service side of the command-line substrate: every request written to it (a framed argv +
 * stdin) runs the configured command with those arguments appended, one at a time in the order
 * written, with a timeout; each run's stdout, stderr and exit code come back as one response
 * frame. One at a time is what makes every replica apply the commands in the total order.
 */
export class CommandConversation implements Conversation {
  readonly remote: string;
  private readonly framer: CommandFramer;
  private readonly queue: CommandRequest[] = [];
  private readonly held: Uint8Array[] = [];
  private running?: ChildProcess;
  private killRunning?: () => void;
  private dataHandler?: (bytes: Uint8Array) => void;
  private endHandler?: (error?: Error) => void;
  private paused = false;
  private ending = false;
  private finished = false;
  private endError?: Error;

  constructor(
    private readonly command: readonly string[],
    private readonly options: ResolvedCliOptions,
    private readonly clock: Clock,
  ) {
    this.remote = `command ${command.join(' ')}`;
    this.framer = new CommandFramer('request', options.maxRequestBytes, decodeRequest);
  }

  write(bytes: Uint8Array): boolean {
    if (this.finished || this.ending) return false;
    try {
      for (const m of this.framer.push(bytes)) this.queue.push(decodeRequest(m));
    } catch (e) {
      this.destroy(e as Error);
      return false;
    }
    this.next();
    return true;
  }

  onData(handler: (bytes: Uint8Array) => void): void {
    this.dataHandler = handler;
    this.flush();
  }

  onDrain(_handler: () => void): void {
    // Writes are queued, never refused.
  }

  onEnd(handler: (error?: Error) => void): void {
    if (this.finished) queueMicrotask(() => handler(this.endError));
    else this.endHandler = handler;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.flush();
  }

  end(): void {
    this.ending = true;
    this.flush();
  }

  destroy(error?: Error): void {
    this.killRunning?.();
    this.finish(error);
  }

  private next(): void {
    if (this.running || this.finished) return;
    const request = this.queue.shift();
    if (!request) return this.flush();
    this.run(request);
  }

  private run(request: CommandRequest): void {
    const [program, ...fixed] = this.command as [string, ...string[]];
    const limit = this.options.maxResponseBytes - RESPONSE_OVERHEAD - NOTES;
    const stdout: Uint8Array[] = [];
    const stderr: Uint8Array[] = [];
    const notes: string[] = [];
    let size = 0;
    let timedOut = false;
    let truncated = false;
    let settled = false;
    let timer: Timer | undefined;
    // Its own process group, so a kill reaches what the command started too (a shell's children
    // would otherwise hold its output open long after it was killed).
    const child = spawn(program, [...fixed, ...request.argv], {
      cwd: this.options.cwd,
      env: { ...process.env, ...this.options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.running = child;
    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, this.options.killSignal);
      } catch {
        child.kill(this.options.killSignal); // the group is gone already
      }
    };
    this.killRunning = kill;
    const collect = (into: Uint8Array[]) => (b: Buffer) => {
      if (truncated) return;
      const room = limit - size;
      if (b.length > room) {
        truncated = true;
        into.push(new Uint8Array(b.subarray(0, room)));
        size = limit;
        notes.push(`vcl: output exceeded ${limit} bytes; the command was killed\n`);
        kill();
        return;
      }
      into.push(new Uint8Array(b));
      size += b.length;
    };
    child.stdout.on('data', collect(stdout));
    child.stderr.on('data', collect(stderr));
    child.stdin.on('error', () => undefined); // a command that does not read its stdin
    child.stdin.end(request.stdin);
    timer = this.clock.setTimer(this.options.timeoutMs, () => {
      timedOut = true;
      notes.push(`vcl: the command ran past its timeout of ${this.options.timeoutMs} ms and was killed\n`);
      kill();
    });
    const done = (exitCode: number): void => {
      if (settled) return;
      settled = true;
      timer?.cancel();
      timer = undefined;
      this.running = undefined;
      this.killRunning = undefined;
      const response = encodeResponse({
        exitCode,
        stdout: concatBytes(stdout),
        stderr: concatBytes([...stderr, ...notes.map(text)]),
        ...(timedOut ? { timedOut } : {}),
        ...(truncated ? { truncated } : {}),
      });
      this.held.push(response);
      this.flush();
      this.next();
    };
    child.on('error', (e) => {
      notes.push(`vcl: cannot run ${program}: ${e.message}\n`);
      done(127);
    });
    child.on('close', (code, signal) => {
      if (timedOut) return done(124);
      if (code !== null) return done(code);
      done(128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  }

  private flush(): void {
    while (!this.paused && this.dataHandler && this.held.length) this.dataHandler(this.held.shift() as Uint8Array);
    if (this.ending && !this.running && this.queue.length === 0 && this.held.length === 0) this.finish();
  }

  private finish(error?: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.endError = error;
    const handler = this.endHandler;
    this.endHandler = undefined;
    handler?.(error);
  }
}
