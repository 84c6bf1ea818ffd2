import type { Clock, Timer } from '../contracts/clock';
import type { Logger } from '../contracts/logger';

/** Options of a `RateLimitedLog`. */
export interface RateLimitedLogOptions {
  /** The window over which lines of one kind are counted, in ms. Default 10 000. */
  readonly windowMs?: number;
  /** Lines of one kind written in full per window; the rest are counted. Default 5. */
  readonly burst?: number;
  /** Time (the simulator's in tests). Default: the process clock, with timers that never keep it alive. */
  readonly clock?: Clock;
}

interface Window {
  readonly level: 'info' | 'warn' | 'error';
  readonly msg: string;
  written: number;
  suppressed: number;
  /** Fields of the last suppressed line, shown with the count. */
  last?: object;
  timer: Timer;
}

const processClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/**
 * Warnings and errors a remote peer can trigger (refusals, bad frames, authentication failures),
 * rate-limited per kind: the first `burst` lines of a window are written as they come, the rest are
 * counted and summed up once the window ends ("… and 6,282 more in the last 10 s"), so a flood
 * cannot fill the disk or stall the event loop with logging, and the operator still sees its size.
 */
export class RateLimitedLog {
  private readonly windowMs: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly log: Logger,
    options: RateLimitedLogOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 10_000;
    this.burst = options.burst ?? 5;
    this.clock = options.clock ?? processClock;
  }

  /** An info line of kind `msg` that a peer can cause (a client link dropped). */
  info(fields: object, msg: string, kind = msg): void {
    this.write('info', fields, msg, kind);
  }

  /** A warning of kind `kind` (default the message; fields vary freely). */
  warn(fields: object, msg: string, kind = msg): void {
    this.write('warn', fields, msg, kind);
  }

  /** An error of kind `kind` (default the message: give a kind when the message names a member or place). */
  error(fields: object, msg: string, kind = msg): void {
    this.write('error', fields, msg, kind);
  }

  /** Writes every pending summary now (on stop). */
  flush(): void {
    for (const [key, w] of [...this.windows]) {
      w.timer.cancel();
      this.close(key, w);
    }
  }

  private write(level: 'info' | 'warn' | 'error', fields: object, msg: string, kind: string): void {
    const key = `${level}\u0000${kind}`;
    let w = this.windows.get(key);
    if (!w) {
      w = {
        level,
        msg: kind,
        written: 0,
        suppressed: 0,
        timer: this.clock.setTimer(this.windowMs, () => this.close(key)),
      };
      this.windows.set(key, w);
    }
    if (w.written < this.burst) {
      w.written++;
      this.log[level](fields, msg);
      return;
    }
    w.suppressed++;
    w.last = fields;
  }

  private close(key: string, w = this.windows.get(key)): void {
    if (!w) return;
    this.windows.delete(key);
    if (w.suppressed === 0) return;
    const seconds = Math.round(this.windowMs / 1000);
    this.log[w.level](
      { ...w.last, suppressed: w.suppressed, windowMs: this.windowMs },
      `${w.msg} … and ${w.suppressed.toLocaleString('en-US')} more in the last ${seconds} s`,
    );
  }
}
