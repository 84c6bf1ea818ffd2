import { ConfigError, token, type ConfigIssue } from '@vcl/core';

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
  /** Most messages one member stamps per token visit (Totem's max_messages). Default 17. */
  readonly maxPerVisit?: number;
  /**
   * Consecutive rotations a member may go without receiving what the ring stamped before it is
   * removed from the ring (Totem's fail_recv_const). Default 100.
   */
  readonly failToReceiveRotations?: number;
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
  stateChunkBytes: 32768,
  stateRetransmitMs: 100,
});

/** The token under which `tokenRing()` registers its resolved options. */
export const TOKEN_RING_OPTIONS = token<ResolvedTokenRingOptions>('@vcl/gcs-tokenring:Options');

const INTEGER_FIELDS = new Set<keyof TokenRingOptions>([
  'window',
  'maxPerVisit',
  'failToReceiveRotations',
  'stateChunkBytes',
]);

/**
 * Validates options given in code or in a stack file and fills in the defaults. Throws `ConfigError`
 * listing every bad field.
 */
export function parseTokenRingOptions(input: unknown, source = 'tokenring options'): ResolvedTokenRingOptions {
  if (input === undefined || input === null) return TOKEN_RING_DEFAULTS;
  if (typeof input !== 'object' || Array.isArray(input))
    throw new ConfigError(source, [{ path: '(root)', message: `expected an object, got ${describe(input)}` }]);
  const issues: ConfigIssue[] = [];
  const given = input as Record<string, unknown>;
  const out: Record<string, number> = { ...TOKEN_RING_DEFAULTS };
  for (const [key, value] of Object.entries(given)) {
    if (!(key in TOKEN_RING_DEFAULTS)) {
      issues.push({
        path: key,
        message: 'unknown option',
        hint: `known options: ${Object.keys(TOKEN_RING_DEFAULTS).join(', ')}`,
      });
      continue;
    }
    if (value === undefined) continue;
    const integer = INTEGER_FIELDS.has(key as keyof TokenRingOptions);
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
      issues.push({
        path: key,
        message: `expected a positive ${integer ? 'integer' : 'number'}, got ${describe(value)}`,
      });
      continue;
    }
    out[key] = value;
  }
  if (issues.length === 0) {
    const o = out as ResolvedTokenRingOptions;
    if (o.tokenRetransmitMs >= o.tokenLossMs)
      issues.push({
        path: 'tokenRetransmitMs',
        message: `must be less than tokenLossMs (${o.tokenLossMs}), got ${o.tokenRetransmitMs}`,
      });
    if (o.joinMs >= o.consensusMs)
      issues.push({ path: 'joinMs', message: `must be less than consensusMs (${o.consensusMs}), got ${o.joinMs}` });
    if (o.maxPerVisit > o.window)
      issues.push({ path: 'maxPerVisit', message: `must be at most window (${o.window}), got ${o.maxPerVisit}` });
  }
  if (issues.length) throw new ConfigError(source, issues);
  return Object.freeze(out) as ResolvedTokenRingOptions;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}
