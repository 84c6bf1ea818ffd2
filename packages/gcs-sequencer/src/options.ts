import { ConfigError, token, type ConfigIssue } from '@vcl/core';

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
  /** Payload bytes ordered but not yet delivered by every member; the sequencer stops ordering beyond. Default 8 MiB. */
  readonly windowBytes?: number;
  /** Largest payload `broadcast` accepts, in bytes. Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** Size at which batches are cut into separate network messages, in bytes. Default 64 KiB. */
  readonly maxFrameBytes?: number;
  /** Size of one state-transfer chunk, in bytes. Default 256 KiB. */
  readonly stateChunkBytes?: number;
}

/** `SequencerOptions` with every default filled in. */
export type ResolvedSequencerOptions = Required<SequencerOptions>;

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
});

/** The token the plugin registers its resolved options under (in the deployment's container). */
export const SEQUENCER_OPTIONS = token<ResolvedSequencerOptions>('@vcl/gcs-sequencer:Options');

const LIMITS: Record<keyof SequencerOptions, readonly [min: number, max: number]> = {
  heartbeatMs: [1, 60_000],
  suspectTimeoutMs: [1, 600_000],
  confirmTimeoutMs: [0, 600_000],
  retransmitMs: [1, 60_000],
  viewChangeTimeoutMs: [1, 600_000],
  maxPending: [1, 1_000_000],
  windowMessages: [1, 10_000_000],
  windowBytes: [1, 2 ** 40],
  maxMessageBytes: [1, 2 ** 31],
  maxFrameBytes: [1024, 2 ** 31],
  stateChunkBytes: [1024, 2 ** 31],
};

/**
 * Validates plain option data (from a stack file or code) and fills in the defaults. Throws a
 * `ConfigError` listing every bad field.
 */
export function resolveSequencerOptions(options: unknown, source = 'sequencer options'): ResolvedSequencerOptions {
  if (options === undefined || options === null) return SEQUENCER_DEFAULTS;
  const issues: ConfigIssue[] = [];
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigError(source, [{ path: '(root)', message: `expected an object, got ${describe(options)}` }]);
  }
  const input = options as Record<string, unknown>;
  const out: Record<string, number> = { ...SEQUENCER_DEFAULTS };
  for (const key of Object.keys(input)) {
    if (!(key in LIMITS)) {
      issues.push({
        path: key,
        message: 'unknown option',
        hint: `known options: ${Object.keys(LIMITS).join(', ')}`,
      });
      continue;
    }
    const value = input[key];
    if (value === undefined) continue;
    const [min, max] = LIMITS[key as keyof SequencerOptions];
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      issues.push({ path: key, message: `expected an integer, got ${describe(value)}` });
    } else if (value < min || value > max) {
      issues.push({ path: key, message: `must be between ${min} and ${max}, got ${value}` });
    } else out[key] = value;
  }
  if (issues.length === 0) {
    if (out.maxMessageBytes! > out.windowBytes!)
      issues.push({
        path: 'maxMessageBytes',
        message: `must not exceed windowBytes (${out.windowBytes}), got ${out.maxMessageBytes}`,
        hint: 'one message must fit in the ordering window',
      });
    if (out.suspectTimeoutMs! < 2 * out.heartbeatMs!)
      issues.push({
        path: 'suspectTimeoutMs',
        message: `must be at least twice heartbeatMs (${2 * out.heartbeatMs!}), got ${out.suspectTimeoutMs}`,
        hint: 'one lost heartbeat must not raise a suspicion',
      });
  }
  if (issues.length) throw new ConfigError(source, issues);
  return Object.freeze(out) as unknown as ResolvedSequencerOptions;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return typeof v === 'number' ? String(v) : `a ${typeof v}`;
}
