import { hostname } from 'node:os';

/** Log levels by name, with pino's numbers. */
export const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;

/** A level name. */
export type LevelName = keyof typeof LEVELS;

/** A structured logger with pino's call shape: `log.info({ port }, 'listening')`. */
export interface JsonLogger {
  /** Fine-grained events (every request); off at the default level. */
  debug(obj: object, msg?: string): void;
  /** Life-cycle events: listening, connection opened, stopped. */
  info(obj: object, msg?: string): void;
  /** Survived trouble: a malformed request, a broken connection. */
  warn(obj: object, msg?: string): void;
  /** Lost function: the server could not listen. */
  error(obj: object, msg?: string): void;
  /** A logger adding `bindings` to every line. */
  child(bindings: Record<string, unknown>): JsonLogger;
}

/** Options of `jsonLogger`. */
export interface JsonLoggerOptions {
  /** Lowest level written; default `info`. */
  readonly level?: LevelName;
  /** Added to every line as `name`; default none. */
  readonly name?: string;
  /** Where lines go; default standard output. */
  readonly stream?: { write(line: string): unknown };
}

function serialize(value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { type: value.name, message: value.message, ...(code !== undefined ? { code } : {}), stack: value.stack };
  }
  return value;
}

/**
 * A small logger that writes pino's JSON line format (`level`, `time`, `pid`, `hostname`, `name`,
 * fields, `msg`), so pino tooling (`pino-pretty`) reads it. The metadata server uses it instead of
 * a VCL logger because it is an ordinary service that knows nothing of VCL.
 */
export function jsonLogger(options: JsonLoggerOptions = {}): JsonLogger {
  const min = LEVELS[options.level ?? 'info'];
  if (min === undefined)
    throw new Error(`unknown log level "${options.level}"; expected one of ${Object.keys(LEVELS).join(', ')}`);
  const stream = options.stream ?? process.stdout;
  const base: Record<string, unknown> = { pid: process.pid, hostname: hostname() };
  if (options.name !== undefined) base['name'] = options.name;
  const make = (bindings: Record<string, unknown>): JsonLogger => {
    const write = (level: number, obj: object, msg?: string): void => {
      if (level < min) return;
      const fields: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(obj)) fields[k] = serialize(v);
      const line = { level, time: Date.now(), ...base, ...bindings, ...fields, ...(msg !== undefined ? { msg } : {}) };
      stream.write(`${JSON.stringify(line)}\n`);
    };
    return {
      debug: (obj, msg) => write(LEVELS.debug, obj, msg),
      info: (obj, msg) => write(LEVELS.info, obj, msg),
      warn: (obj, msg) => write(LEVELS.warn, obj, msg),
      error: (obj, msg) => write(LEVELS.error, obj, msg),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return make({});
}

/** A logger that writes nothing. */
export function nullLogger(): JsonLogger {
  const noop = (): void => undefined;
  const logger: JsonLogger = { debug: noop, info: noop, warn: noop, error: noop, child: () => logger };
  return logger;
}
