import { defineOptions, token, z } from '@vcl/core';

/**
 * Options of the resp substrate. Every field is optional; the defaults suit a Redis whose requests
 * fit one ordered message of the default ordering plugins (1 MiB).
 */
export interface RespOptions {
  /** Largest request (one command with its arguments), in bytes; larger ones get `-ERR` and the connection closes. Default 512 KiB. */
  readonly maxRequestBytes?: number;
  /** Largest reply, in bytes; a larger one fails the member's conversation with its replica for that session (logged). Default 64 MiB. */
  readonly maxReplyBytes?: number;
  /**
   * Commands refused by default to pass on anyway, by name (`SPOP`, `TIME`, `CLIENT ID`, or a whole
   * container such as `CLIENT`); see the README for what each risks. Default none.
   */
  readonly allow?: readonly string[];
  /** Extra commands that change no state, which only the member serving the session then runs. Default none. */
  readonly reads?: readonly string[];
  /** Commands of the read-only table that every replica must run anyway (a module's side effects, say). Default none. */
  readonly writes?: readonly string[];
  /** Whether consecutive requests of one session go to the service without waiting for each reply. Default true. */
  readonly pipelining?: boolean;
  /** Disables Nagle's algorithm on client and service connections (request-response latency). Default true. */
  readonly noDelay?: boolean;
  /** How long a connection to the service may take, in ms. Default 5000. */
  readonly connectTimeoutMs?: number;
  /**
   * How long a client conversation ended after an error reply keeps reading and discarding before
   * it is closed, so the client reads the reply instead of a connection reset, in ms. Default 1000.
   */
  readonly lingerMs?: number;
}

/** `RespOptions` with every default filled in. */
export type ResolvedRespOptions = Required<RespOptions>;

const commandNames = z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9_|-]*( [A-Za-z][A-Za-z0-9_|-]*)?$/)).default([]);

/** The options schema (strict: unknown keys are errors, with a "did you mean" hint). */
export const respOptions = defineOptions({
  maxRequestBytes: z
    .number()
    .int()
    .min(16)
    .max(2 ** 31)
    .default(512 * 1024),
  maxReplyBytes: z
    .number()
    .int()
    .min(16)
    .max(2 ** 31)
    .default(64 * 1024 * 1024),
  allow: commandNames,
  reads: commandNames,
  writes: commandNames,
  pipelining: z.boolean().default(true),
  noDelay: z.boolean().default(true),
  connectTimeoutMs: z.number().int().min(1).max(600_000).default(5000),
  lingerMs: z.number().int().min(0).max(60_000).default(1000),
});

/** The defaults, as documented on `RespOptions`. */
export const RESP_DEFAULTS: ResolvedRespOptions = Object.freeze(respOptions.parse(undefined, 'resp options'));

/** The token the plugin registers its resolved options under (in the deployment's container). */
export const RESP_OPTIONS = token<ResolvedRespOptions>('@vcl/substrate-resp:Options');

/** Validates plain option data (stack file or code) and fills in the defaults; throws `OptionsError` naming each bad field. */
export function resolveRespOptions(options: unknown, source = 'resp options'): ResolvedRespOptions {
  return Object.freeze(respOptions.parse(options, source)) as ResolvedRespOptions;
}
