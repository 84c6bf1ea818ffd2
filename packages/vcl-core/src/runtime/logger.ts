import pino from 'pino';
import type { Logger } from '../contracts/logger';
import { ConfigError } from '../errors';

/** The log levels `createLogger` accepts, quietest last. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** One of `LOG_LEVELS`. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** The lowest level written; default `VCL_LOG_LEVEL` from the environment, else `info`. */
  readonly level?: LogLevel;
  /** Added to every line as `name` (e.g. `vcl-service`); default none. */
  readonly name?: string;
  /**
   * Where lines go: a file path, a file descriptor, or a writable stream (anything with
   * `write(line)`); default standard output.
   */
  readonly destination?: string | number | { write(line: string): unknown };
}

function isLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/**
 * A structured JSON logger (pino) behind the `Logger` contract. An unknown level (from the options
 * or `VCL_LOG_LEVEL`) is a `ConfigError` naming the accepted levels.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const fromEnv = process.env['VCL_LOG_LEVEL'];
  const level = options.level ?? (fromEnv === undefined || fromEnv === '' ? 'info' : fromEnv);
  if (!isLevel(level))
    throw new ConfigError(options.level !== undefined ? 'logger options' : 'environment', [
      {
        path: options.level !== undefined ? 'level' : 'VCL_LOG_LEVEL',
        message: `unknown log level "${level}"; expected one of ${LOG_LEVELS.join(', ')}`,
      },
    ]);
  const dest = options.destination;
  const stream =
    dest === undefined
      ? undefined
      : typeof dest === 'string' || typeof dest === 'number'
        ? pino.destination({ dest, sync: false, mkdir: typeof dest === 'string' })
        : dest;
  const opts = { level, ...(options.name !== undefined ? { name: options.name } : {}) };
  return stream ? pino(opts, stream) : pino(opts);
}

/** A logger that writes nothing (tests, the simulator); `child` returns the same no-op logger. */
export function silentLogger(): Logger {
  const noop = (): void => undefined;
  const logger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => logger };
  return logger;
}
