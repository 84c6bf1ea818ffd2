import { defineOptions, token, z } from '@vcl/core';

/**
 * Options of the command-line substrate. Every field is optional. Replicas run the same command
 * for every request, so the command must be deterministic: same argv and stdin, same output.
 */
export interface CliOptions {
  /** Largest request (arguments and stdin, framed), in bytes. Default 512 KiB (fits one ordered message). */
  readonly maxRequestBytes?: number;
  /** Largest response (stdout and stderr, framed), in bytes; output past it is cut and the command killed. Default 8 MiB. */
  readonly maxResponseBytes?: number;
  /** How long one command may run before it is killed (exit code 124), in ms. Default 30000. */
  readonly timeoutMs?: number;
  /** Signal that kills a command past its timeout or output limit. Default `SIGKILL`. */
  readonly killSignal?: NodeJS.Signals;
  /** Working directory of the commands; default the interceptor's. */
  readonly cwd?: string;
  /** Extra environment variables for the commands (added to the interceptor's). Default none. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * How long a client conversation ended after an error reply keeps reading and discarding before
   * it is closed, so `vcl-exec` reads the reply instead of a connection reset, in ms. Default 2000.
   */
  readonly lingerMs?: number;
}

/** `CliOptions` with every default filled in (`cwd` stays optional). */
export type ResolvedCliOptions = Required<Omit<CliOptions, 'cwd'>> & Pick<CliOptions, 'cwd'>;

const int = (min: number) => z.number().int().min(min);
const SIGNALS = ['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'] as const;

/** The options schema (strict: unknown keys are errors, with a "did you mean" hint). */
export const cliOptions = defineOptions({
  maxRequestBytes: int(64)
    .max(2 ** 31)
    .default(512 * 1024),
  maxResponseBytes: int(1024)
    .max(2 ** 31)
    .default(8 * 1024 * 1024),
  timeoutMs: int(1)
    .max(24 * 3600 * 1000)
    .default(30_000),
  killSignal: z.enum(SIGNALS).default('SIGKILL'),
  cwd: z.string().min(1).optional(),
  env: z.record(z.string()).default({}),
  lingerMs: int(0).max(60_000).default(2000),
});

/** The defaults, as documented on `CliOptions`. */
export const CLI_DEFAULTS: ResolvedCliOptions = Object.freeze(cliOptions.parse(undefined, 'cli options'));

/** The token the plugin registers its resolved options under (in the deployment's container). */
export const CLI_OPTIONS = token<ResolvedCliOptions>('@vcl/substrate-cli:Options');

/** Validates plain option data (stack file or code) and fills in the defaults; throws `OptionsError` naming each bad field. */
export function resolveCliOptions(options: unknown, source = 'cli options'): ResolvedCliOptions {
  return Object.freeze(cliOptions.parse(options, source));
}
