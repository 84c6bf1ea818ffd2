import { parseOptions, token, z } from '@vcl/core';

/** Options of the token ring ordering plugin. Every field is optional; defaults are stated per field. */
export interface TokenRingOptions {
  /**
   * A member that has not seen the token for this long starts a membership round (Totem's token
   * timeout). Default 1000 ms.
   */
  readonly tokenLossMs?: number;
  /** The sender of a token re-sends it this often until the successor acknowledges it. Default 20 ms. */
  readonly tokenRetransmitMs?: number;
  /**
   * How long an idle member holds the token before passing it on, so an idle ring does not spin.
   * Capped at runtime to `tokenLossMs / (2 * ring size)` so failure detection keeps working. Default 100 ms.
   */
  readonly holdMs?: number;
  /** Interval at which a gathering member re-sends its join message. Default 50 ms. */
  readonly joinMs?: number;
  /** How long a gathering member waits for agreement before giving up on silent members. Default 300 ms. */
  readonly consensusMs?: number;
  /** Interval of merge probes to configured members outside the ring (partition heal, restarts). Default 500 ms. */
  readonly mergeMs?: number;
  /** Most messages stamped during one token rotation, shared by backlog (Totem's window_size). Default 50. */
  readonly window?: number;
  /** Most messages one member stamps per token visit (Totem's max_messages). Default 17 (at most `window`). */
  readonly maxPerVisit?: number;
  /**
   * Consecutive rotations a member may go without receiving what the ring stamped before it is
   * removed from the ring (Totem's fail_recv_const). Default 100.
   */
  readonly failToReceiveRotations?: number;
  /** Largest payload `broadcast` accepts; larger ones reject with `BroadcastRejectedError`. Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** Size of one state-transfer chunk. Default 32768 bytes. */
  readonly stateChunkBytes?: number;
  /** The state provider re-sends unacknowledged chunks this often. Default 100 ms. */
  readonly stateRetransmitMs?: number;
}

/** Token ring options with every default filled in. */
export type ResolvedTokenRingOptions = { readonly [K in keyof TokenRingOptions]-?: number };

/** The defaults, as documented on `TokenRingOptions`. */
export const TOKEN_RING_DEFAULTS: ResolvedTokenRingOptions = Object.freeze({
  tokenLossMs: 1000,
  tokenRetransmitMs: 20,
  holdMs: 100,
  joinMs: 50,
  consensusMs: 300,
  mergeMs: 500,
  window: 50,
  maxPerVisit: 17,
  failToReceiveRotations: 100,
  maxMessageBytes: 1024 * 1024,
  stateChunkBytes: 32768,
  stateRetransmitMs: 100,
});

/** The token under which `tokenRing()` registers its resolved options. */
export const TOKEN_RING_OPTIONS = token<ResolvedTokenRingOptions>('@vcl/gcs-tokenring:Options');

const ms = (max: number) => z.number().positive().max(max).optional();
const int = (min: number, max: number) => z.number().int().min(min).max(max).optional();

/** The schema of `TokenRingOptions` (strict: unknown keys are errors with a "did you mean" hint). */
export const tokenRingOptionsSchema = z
  .object({
    tokenLossMs: ms(600_000),
    tokenRetransmitMs: ms(60_000),
    holdMs: ms(60_000),
    joinMs: ms(60_000),
    consensusMs: ms(600_000),
    mergeMs: ms(600_000),
    window: int(1, 100_000),
    maxPerVisit: int(1, 100_000),
    failToReceiveRotations: int(1, 1_000_000),
    maxMessageBytes: int(1, 2 ** 30),
    stateChunkBytes: int(1024, 2 ** 30),
    stateRetransmitMs: ms(60_000),
  })
  .strict()
  .transform((o) => {
    const out = { ...TOKEN_RING_DEFAULTS, ...stripUndefined(o) };
    // A small window given alone brings the per-visit default down with it.
    if (o.maxPerVisit === undefined) out.maxPerVisit = Math.min(out.maxPerVisit, out.window);
    return out;
  })
  .superRefine((o, ctx) => {
    const issue = (path: string, message: string, hint: string) =>
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [path], message, params: { hint } });
    if (o.tokenRetransmitMs >= o.tokenLossMs)
      issue(
        'tokenRetransmitMs',
        `must be less than tokenLossMs (${o.tokenLossMs}), got ${o.tokenRetransmitMs}`,
        'a lost hop must be re-sent before the token counts as lost',
      );
    if (o.joinMs >= o.consensusMs)
      issue(
        'joinMs',
        `must be less than consensusMs (${o.consensusMs}), got ${o.joinMs}`,
        "members must hear each other's joins before giving up on each other",
      );
    if (o.maxPerVisit > o.window)
      issue(
        'maxPerVisit',
        `must be at most window (${o.window}), got ${o.maxPerVisit}`,
        'a visit stamps within the window',
      );
  });

/**
 * Validates plain option data (from a stack file or code; `undefined` means none) and fills in the
 * defaults. Throws an `OptionsError` (a `ConfigError`) listing every bad field under `source`.
 */
export function parseTokenRingOptions(input: unknown, source = 'tokenring options'): ResolvedTokenRingOptions {
  return Object.freeze(parseOptions(tokenRingOptionsSchema, input ?? {}, source));
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
