import { defineOptions, token, z } from '@vcl/core';

/** Options of the resp substrate. Every field is optional. */
export interface RespOptions {
  /** Largest message (one request or response, its line end included), in bytes. Default 65536. */
  readonly maxMessageBytes?: number;
  /**
   * How long a client conversation ended after an error reply keeps reading and discarding before
   * it is closed, so the client reads the reply instead of a connection reset, in ms. Default 1000.
   */
  readonly lingerMs?: number;
}

/** `RespOptions` with every default filled in. */
export type ResolvedRespOptions = Required<RespOptions>;

/** The options schema (strict: unknown keys are errors, with a "did you mean" hint). */
export const respOptions = defineOptions({
  maxMessageBytes: z
    .number()
    .int()
    .min(2)
    .max(2 ** 31)
    .default(65536),
  lingerMs: z.number().int().min(0).max(60_000).default(1000),
});

/** The defaults, as documented on `RespOptions`. */
export const RESP_DEFAULTS: ResolvedRespOptions = Object.freeze(respOptions.parse(undefined, 'resp options'));

/** The token the plugin registers its resolved options under (in the deployment's container). */
export const RESP_OPTIONS = token<ResolvedRespOptions>('@vcl/substrate-resp:Options');

/** Validates plain option data (stack file or code) and fills in the defaults; throws `OptionsError` naming each bad field. */
export function resolveRespOptions(options: unknown, source = 'resp options'): ResolvedRespOptions {
  return Object.freeze(respOptions.parse(options, source));
}
