import { parseOptions, z } from '../../config/options';
import type { MemberId } from '../../contracts/network';
import type { PartitionMode } from '../../contracts/ordering';
import { LOG_LEVELS, type LogLevel } from '../../runtime/logger';

/** What a member process broadcasts. */
export type Workload =
  /** Broadcasts nothing. */
  | { readonly mode: 'idle' }
  /**
   * Broadcasts `perSecond` messages per second (open loop), skipping a tick while `maxPending`
   * broadcasts are unresolved (so a blocked group does not build a backlog).
   */
  | {
      readonly mode: 'rate';
      /** Messages per second from this member. */
      readonly perSecond: number;
      /** Payload size in bytes (the workload text is padded to it); default 0 (no padding). */
      readonly payloadBytes?: number;
      /** Most unresolved broadcasts at once; default 16. */
      readonly maxPending?: number;
    }
  /** Keeps `maxPending` broadcasts in flight at all times (closed loop, for throughput). */
  | {
      readonly mode: 'saturate';
      /** Payload size in bytes; default 0 (no padding). */
      readonly payloadBytes?: number;
      /** Broadcasts kept in flight; default 16. */
      readonly maxPending?: number;
    };

/** Which events a member process writes to its log file. */
export type MemberLogMode =
  /** Every view, delivery, broadcast, resolution and state-transfer event (for the checker). */
  | 'all'
  /** Views, state transfer and the first delivery of each view only (for benchmarks at full speed). */
  | 'views';

/** One configured member's address. */
export interface ProcessMemberAddress {
  /** Member id (`n1`). */
  readonly id: MemberId;
  /** Loopback host it listens on. */
  readonly host: string;
  /** TCP port it listens on. */
  readonly port: number;
}

/** The JSON configuration of one member process (`node member-main.js <config.json>`). */
export interface MemberProcessConfig {
  /** This member's id; must be one of `members`. */
  readonly id: MemberId;
  /** Every configured member with its loopback address, in configuration order. */
  readonly members: readonly ProcessMemberAddress[];
  /** The ordering plugin: a registry name (`sequencer`, `tokenring`, the test-only `naive`) and its options. */
  readonly plugin: { readonly name: string; readonly options?: unknown };
  /** Incarnation: 1 at the first start, +1 per restart (also the network incarnation). */
  readonly incarnation: number;
  /** Partition mode of the group; default `primary-component`. */
  readonly partition?: PartitionMode;
  /** The initial workload; default idle. */
  readonly workload?: Workload;
  /** The JSON-lines event log this member appends to. */
  readonly logFile: string;
  /** Which events go to the log; default `all`. */
  readonly logMode?: MemberLogMode;
  /** Where the plugin's and network's structured logs go (pino JSON lines); default none. */
  readonly diagnosticsFile?: string;
  /** Level of the diagnostics log; default `info`. */
  readonly diagnosticsLevel?: LogLevel;
  /** Largest TCP redial delay, in ms (a restarted peer is found within it); default 250. */
  readonly reconnectMaxMs?: number;
  /**
   * The member exits on its own after this many ms, so a process whose harness died cannot
   * outlive it for long; default 600000 (10 minutes).
   */
  readonly maxLifetimeMs?: number;
}

const positiveInt = z.number().int().min(1);

const workloadSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('idle') }).strict(),
  z
    .object({
      mode: z.literal('rate'),
      perSecond: z.number().positive().max(1_000_000),
      payloadBytes: z
        .number()
        .int()
        .min(0)
        .max(16 * 1024 * 1024)
        .optional(),
      maxPending: positiveInt.max(1_000_000).optional(),
    })
    .strict(),
  z
    .object({
      mode: z.literal('saturate'),
      payloadBytes: z
        .number()
        .int()
        .min(0)
        .max(16 * 1024 * 1024)
        .optional(),
      maxPending: positiveInt.max(1_000_000).optional(),
    })
    .strict(),
]);

const configSchema = z
  .object({
    id: z.string().min(1),
    members: z
      .array(
        z.object({ id: z.string().min(1), host: z.string().min(1), port: z.number().int().min(1).max(65535) }).strict(),
      )
      .min(1),
    plugin: z.object({ name: z.string().min(1), options: z.unknown().optional() }).strict(),
    incarnation: positiveInt,
    partition: z.enum(['primary-component', 'fail-stop']).optional(),
    workload: workloadSchema.optional(),
    logFile: z.string().min(1),
    logMode: z.enum(['all', 'views']).optional(),
    diagnosticsFile: z.string().min(1).optional(),
    diagnosticsLevel: z.enum(LOG_LEVELS).optional(),
    reconnectMaxMs: positiveInt.max(60_000).optional(),
    maxLifetimeMs: positiveInt.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!c.members.some((m) => m.id === c.id))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['id'],
        message: `must be one of the members (${c.members.map((m) => m.id).join(', ')}), got ${c.id}`,
      });
    const seen = new Set<string>();
    c.members.forEach((m, i) => {
      if (seen.has(m.id))
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['members', i, 'id'],
          message: `duplicate member id ${m.id}`,
        });
      seen.add(m.id);
    });
  });

/** Validates a member process configuration; throws `OptionsError` naming every bad field. */
export function parseMemberProcessConfig(input: unknown, source = 'member process config'): MemberProcessConfig {
  return parseOptions(configSchema, input, source) as MemberProcessConfig;
}

/** Validates a workload (sent to a running member); throws `OptionsError` naming every bad field. */
export function parseWorkload(input: unknown, source = 'workload'): Workload {
  return parseOptions(workloadSchema, input, source) as Workload;
}
