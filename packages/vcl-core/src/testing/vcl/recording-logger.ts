import type { Logger } from '../../contracts/logger';

/** One line recorded by a `RecordingLogger`. */
export interface LogLine {
  /** The level. */
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  /** Fields, including the bindings of child loggers. */
  readonly fields: Readonly<Record<string, unknown>>;
  /** The message. */
  readonly msg?: string;
}

/** A `Logger` that keeps every line in memory, so tests can assert that something was logged. */
export class RecordingLogger implements Logger {
  constructor(
    /** Every line logged through this logger or its children. */
    readonly lines: LogLine[] = [],
    private readonly bindings: Record<string, unknown> = {},
    private readonly echo = false,
  ) {}

  /** A recorder that also prints each line (for debugging a failing test). */
  static echoing(): RecordingLogger {
    return new RecordingLogger([], {}, true);
  }

  debug(obj: object, msg?: string): void {
    this.record('debug', obj, msg);
  }
  info(obj: object, msg?: string): void {
    this.record('info', obj, msg);
  }
  warn(obj: object, msg?: string): void {
    this.record('warn', obj, msg);
  }
  error(obj: object, msg?: string): void {
    this.record('error', obj, msg);
  }
  child(bindings: Record<string, unknown>): Logger {
    return new RecordingLogger(this.lines, { ...this.bindings, ...bindings }, this.echo);
  }

  /** Lines at `level` whose message contains `text`. */
  find(level: LogLine['level'], text: string): LogLine[] {
    return this.lines.filter((l) => l.level === level && (l.msg ?? '').includes(text));
  }

  private record(level: LogLine['level'], obj: object, msg?: string): void {
    const line = { level, fields: { ...this.bindings, ...obj }, ...(msg !== undefined ? { msg } : {}) };
    this.lines.push(line);
    if (this.echo) console.log(JSON.stringify(line));
  }
}
