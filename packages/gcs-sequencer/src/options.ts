import { parseOptions, token, z } from '@vcl/core';

/**
 * Options of the fixed-sequencer ordering plugin. Every field is optional; the defaults aim at a
 * LAN: failures are detected in well under a second (suspicion after 500 ms of silence, confirmed
 * after 250 ms more) without false suspicions when a busy machine stalls the event loop.
 */
export interface SequencerOptions {
  /** Interval between heartbeats to every configured member, in ms. Default 100. */
  readonly heartbeatMs?: number;
  /** Silence from a member after which it is suspected (and probed), in ms. Default 500. */
  readonly suspectTimeoutMs?: number;
  /** Further silence, while probing, that confirms a suspicion and starts a view change, in ms. Default 250. */
  readonly confirmTimeoutMs?: number;
  /** Interval for retransmissions (submissions, negative acks, view-change and state-transfer messages), in ms. Default 100. */
  readonly retransmitMs?: number;
  /** How long one view-change attempt may take before it is retried with a higher ballot, in ms. Default 1000. */
  readonly viewChangeTimeoutMs?: number;
  /** Broadcasts of one member in flight at once (submitted, not yet delivered); later ones wait. Default 256. */
  readonly maxPending?: number;
  /** Messages ordered but not yet delivered by every member; the sequencer stops ordering beyond. Default 1024. */
  readonly windowMessages?: number;
  /**
   * Payload bytes ordered but not yet delivered by every member; the sequencer stops ordering
   * beyond. View-change messages carry up to this much, so keep it below the network's largest
   * message (16 MiB on TCP by default). Default 8 MiB.
   */
  readonly windowBytes?: number;
  /** Largest payload `broadcast` accepts, in bytes. Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** Size at which batches are cut into separate network messages, in bytes. Default 64 KiB. */
  readonly maxFrameBytes?: number;
  /** Size of one state-transfer chunk, in bytes. Default 256 KiB. */
  readonly stateChunkBytes?: number;
  /**
   * How many members must be up to form a brand-new group (when no member has a view). Default
   * `all`: safe, since a member cannot tell its first start from a restart that lost its state.
   * `majority` lets a group form with one member missing on day one, at a risk: if a majority
   * restarts while the members that hold the state are cut off, it starts a second history.
   */
  readonly bootstrapQuorum?: 'all' | 'majority';
}

/** `SequencerOptions` with every default filled in. */
export type ResolvedSequencerOptions = { readonly [K in keyof SequencerOptions]-?: NonNullable<SequencerOptions[K]> };

/** The defaults, as documented on `SequencerOptions`. */
export const SEQUENCER_DEFAULTS: ResolvedSequencerOptions = Object.freeze({
  heartbeatMs: 100,
  suspectTimeoutMs: 500,
  confirmTimeoutMs: 250,
  retransmitMs: 100,
  viewChangeTimeoutMs: 1000,
  maxPending: 256,
  windowMessages: 1024,
  windowBytes: 8 * 1024 * 1024,
  maxMessageBytes: 1024 * 1024,
  maxFrameBytes: 64 * 1024,
  stateChunkBytes: 256 * 1024,
  bootstrapQuorum: 'all',
});

/** The token the plugin registers its resolved options under (in the deployment's container). */
export const SEQUENCER_OPTIONS = token<ResolvedSequencerOptions>('@vcl/gcs-sequencer:Options');

const int = (min: number, max: number) => z.number().int().min(min).max(max).optional();

/** The schema of `SequencerOptions` (strict: unknown keys are errors with a "did you mean" hint). */
export const sequencerOptionsSchema = z
  .object({
    heartbeatMs: int(1, 60_000),
    suspectTimeoutMs: int(1, 600_000),
    confirmTimeoutMs: int(0, 600_000),
    retransmitMs: int(1, 60_000),
    viewChangeTimeoutMs: int(1, 600_000),
    maxPending: int(1, 1_000_000),
    windowMessages: int(1, 10_000_000),
    windowBytes: int(1, 2 ** 40),
    maxMessageBytes: int(1, 2 ** 31),
    maxFrameBytes: int(1024, 2 ** 31),
    stateChunkBytes: int(1024, 2 ** 31),
    bootstrapQuorum: z.enum(['all', 'majority']).optional(),
  })
  .strict()
  .transform((o) => ({ ...SEQUENCER_DEFAULTS, ...stripUndefined(o) }))
  .superRefine((o, ctx) => {
    if (o.maxMessageBytes > o.windowBytes)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['maxMessageBytes'],
        message: `must not exceed windowBytes (${o.windowBytes}), got ${o.maxMessageBytes}`,
        params: { hint: 'one message must fit in the ordering window' },
      });
    if (o.suspectTimeoutMs < 2 * o.heartbeatMs)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['suspectTimeoutMs'],
        message: `must be at least twice heartbeatMs (${2 * o.heartbeatMs}), got ${o.suspectTimeoutMs}`,
        params: { hint: 'one lost heartbeat must not raise a suspicion' },
      });
  });

/**
 * Validates plain option data (from a stack file or code; `undefined` means none) and fills in the
 * defaults. Throws an `OptionsError` (a `ConfigError`) listing every bad field under `source`.
 */
export function resolveSequencerOptions(options: unknown, source = 'sequencer options'): ResolvedSequencerOptions {
  return Object.freeze(parseOptions(sequencerOptionsSchema, options ?? {}, source));
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
