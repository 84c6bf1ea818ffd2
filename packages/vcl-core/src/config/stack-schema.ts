import { z } from 'zod';
import type { PathSegment } from './issues';
import type { ServiceSection, Stack } from './stack';

const LOOPBACK = '127.0.0.1';

const port = z
  .number()
  .int()
  .superRefine((value, ctx) => {
    if (value < 1 || value > 65535)
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a port number 1..65535, got ${value}` });
  });
/** Node's timers take at most 2^31-1 ms; a larger value would silently become 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Every timeout of the stack: a whole number of ms that a Node timer can hold. */
const positiveMs = z
  .number()
  .int()
  .positive()
  .max(MAX_TIMER_MS, `expected at most ${MAX_TIMER_MS} ms (2^31-1, the longest timer Node keeps)`);
const nonEmpty = z.string().min(1);
const argv = z.array(nonEmpty).min(1);
const pluginOptions = z.record(z.unknown());

const hostPort = z.object({ host: nonEmpty, port }).strict();

/** Longest id the wire format carries (session events, link hellos): 256 characters. */
const MAX_ID = 256;
const id = nonEmpty.max(MAX_ID, `expected at most ${MAX_ID} characters (the wire format's limit for ids)`);

const member = z.object({ id, host: nonEmpty, port, clientPort: port, adminPort: port.optional() }).strict();

const group = z
  .object({
    // Part of derived session ids (`vcl-dep:<group>:<dependency>:<n>`), which are ids too.
    name: nonEmpty.max(100, 'expected at most 100 characters'),
    members: z.array(member).min(1),
    partition: z.enum(['primary-component', 'fail-stop']).default('primary-component'),
  })
  .strict()
  .superRefine((g, ctx) => {
    const ids = new Map<string, number>();
    const endpoints = new Map<string, string>();
    g.members.forEach((m, i) => {
      const first = ids.get(m.id);
      if (first !== undefined)
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['members', i, 'id'],
          message: `duplicate member id "${m.id}" (also group.members[${first}].id)`,
          params: { hint: 'every member needs its own id' },
        });
      else ids.set(m.id, i);
      const ports: Array<[string, number | undefined]> = [
        ['port', m.port],
        ['clientPort', m.clientPort],
        ['adminPort', m.adminPort],
      ];
      for (const [field, p] of ports) {
        if (p === undefined) continue;
        const key = `${m.host}:${p}`;
        const owner = endpoints.get(key);
        if (owner)
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: ['members', i, field],
            message: `${key} is already used by ${owner}`,
            params: { hint: 'every member port (port, clientPort, adminPort) needs its own host:port' },
          });
        else endpoints.set(key, `group.members[${i}].${field}`);
      }
    });
    if (g.partition === 'fail-stop' && g.members.length !== 2)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['partition'],
        message: `fail-stop is only allowed with exactly 2 members, this group has ${g.members.length}`,
        params: {
          hint: 'use primary-component: with 3 or more members a majority view keeps delivering, without split brain',
        },
      });
  });

const ordering = z.object({ plugin: nonEmpty.default('sequencer'), options: pluginOptions.optional() }).strict();

const BOTH_TARGETS = 'endpoint { host, port } (connect to a running service) or command [argv] (start the service)';
const SUBSTRATE_TARGETS = 'endpoint { host, port } (connect to the service) or command [argv] (run it per request)';

const substrateService = z
  .object({ endpoint: hostPort.optional(), command: argv.optional() })
  .strict()
  .superRefine((t, ctx) => {
    if (t.endpoint && t.command)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['command'],
        message: `substrate service has both endpoint and command; give exactly one: ${SUBSTRATE_TARGETS}`,
        params: { atKey: true },
      });
    if (!t.endpoint && !t.command)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `missing; give exactly one of ${SUBSTRATE_TARGETS}, or leave service out to use the stack's service`,
      });
  });

const substrate = z
  .object({
    plugin: nonEmpty,
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected a name of letters, digits, ".", "_" or "-" (at most 64)')
      .optional(),
    options: pluginOptions.optional(),
    listen: hostPort.optional(),
    service: substrateService.optional(),
    sessions: z.enum(['one-at-a-time', 'isolated']).optional(),
  })
  .strict();

const stateDigest = z
  .object({
    command: argv.optional(),
    every: z.number().int().positive().default(1000),
  })
  .strict();

const service = z
  .object({
    endpoint: hostPort.optional(),
    command: argv.optional(),
    cwd: nonEmpty.optional(),
    env: z.record(z.string()).optional(),
    resetCommand: argv.optional(),
    snapshot: z.object({ save: argv, load: argv }).strict().optional(),
    stateDigest: stateDigest.optional(),
    recovery: z.enum(['none', 'replay', 'snapshot']).default('none'),
    dataDir: nonEmpty.optional(),
    replayLog: z
      .object({ maxBytes: z.number().int().min(4096) })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.replayLog && s.recovery !== 'replay')
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['replayLog'],
        message: `replayLog only applies with recovery: replay (recovery is ${s.recovery})`,
        params: { atKey: true },
      });
    if (s.endpoint && s.command)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['command'],
        message: `service has both endpoint and command; give exactly one: ${BOTH_TARGETS}`,
        params: { atKey: true },
      });
    if (!s.endpoint && !s.command)
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `missing; give exactly one of ${BOTH_TARGETS}` });
    if (!s.command)
      for (const field of ['cwd', 'env'] as const)
        if (s[field] !== undefined)
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: [field],
            message: `${field} only applies when the service is started by command`,
            params: { atKey: true },
          });
    if (s.recovery === 'snapshot' && !s.snapshot)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['recovery'],
        message: 'recovery snapshot needs service.snapshot { save, load }',
        params: { hint: 'add the snapshot commands, or use recovery: replay' },
      });
  })
  .transform((s) => s as ServiceSection);

const client = z
  .object({
    listen: z.object({ host: nonEmpty.default(LOOPBACK), port }).strict(),
    failoverTimeoutMs: positiveMs.default(10000),
  })
  .strict();

const requireFields = (
  ctx: z.RefinementCtx,
  value: Record<string, unknown>,
  fields: readonly string[],
  why: string,
  path: PathSegment[] = [],
): void => {
  for (const f of fields)
    if (value[f] === undefined)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [...path, f], message: `missing; ${why}` });
};

const aaa = z
  .object({
    link: z
      .object({
        mode: z.enum(['none', 'hmac', 'tls']).default('none'),
        keyFile: nonEmpty.optional(),
        ca: nonEmpty.optional(),
        cert: nonEmpty.optional(),
        key: nonEmpty.optional(),
      })
      .strict()
      .default({}),
    clients: z
      .object({
        mode: z.enum(['none', 'token', 'tls']).default('none'),
        tokensFile: nonEmpty.optional(),
        ca: nonEmpty.optional(),
        cert: nonEmpty.optional(),
        key: nonEmpty.optional(),
      })
      .strict()
      .default({}),
    client: z
      .object({
        tokenFile: nonEmpty.optional(),
        ca: nonEmpty.optional(),
        cert: nonEmpty.optional(),
        key: nonEmpty.optional(),
      })
      .strict()
      .optional(),
    policy: z.union([nonEmpty, z.array(z.unknown())]).optional(),
    audit: z.object({ file: nonEmpty, maxBytes: z.number().int().positive().optional() }).strict().optional(),
    allowInsecureNetwork: z.boolean().optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.allowInsecureNetwork === true && a.link.mode !== 'none')
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['allowInsecureNetwork'],
        message: `allowInsecureNetwork only applies with link.mode: none (it is ${a.link.mode})`,
        params: { atKey: true },
      });
    if (a.link.mode === 'hmac')
      requireFields(ctx, a.link, ['keyFile'], 'link mode hmac needs keyFile (the shared group key)', ['link']);
    if (a.link.mode === 'tls')
      requireFields(ctx, a.link, ['ca', 'cert', 'key'], 'link mode tls needs ca, cert and key', ['link']);
    if (a.clients.mode === 'token')
      requireFields(ctx, a.clients, ['tokensFile'], 'clients mode token needs tokensFile', ['clients']);
    if (a.clients.mode === 'tls')
      for (const f of ['ca', 'cert', 'key'] as const)
        if (a.clients[f] === undefined && a.link[f] === undefined)
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: ['clients', f],
            message: `missing; clients mode tls needs ${f} (here or in aaa.link)`,
          });
  });

const timeouts = z
  .object({
    heartbeatMs: positiveMs.default(100),
    suspectMs: positiveMs.default(1000),
    connectMs: positiveMs.default(2000),
    requestMs: positiveMs.default(30000),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.suspectMs <= t.heartbeatMs)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['suspectMs'],
        message: `suspectMs (${t.suspectMs}) must be larger than heartbeatMs (${t.heartbeatMs})`,
        params: { hint: 'a member is suspected only after several missed heartbeats' },
      });
  });

const limits = z
  .object({
    preAuthFrameBytes: z
      .number()
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(64 * 1024),
    frameBytes: z
      .number()
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(16 * 1024 * 1024),
    maxConnections: z.number().int().positive().default(2048),
    maxConnectionsPerAddress: z.number().int().positive().default(512),
    handshakeTimeoutMs: positiveMs.default(10_000),
    partialRequestTimeoutMs: positiveMs.default(10_000),
    adminMaxConnections: z.number().int().positive().default(16),
    adminRequestTimeoutMs: positiveMs.default(5_000),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (l.preAuthFrameBytes > l.frameBytes)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['preAuthFrameBytes'],
        message: `preAuthFrameBytes (${l.preAuthFrameBytes}) must not exceed frameBytes (${l.frameBytes})`,
      });
  });

const admin = z.object({ host: nonEmpty.default(LOOPBACK), enabled: z.boolean().default(true) }).strict();

const dependency = z
  .object({
    name: nonEmpty
      .max(100, 'expected at most 100 characters')
      .regex(/^[^:]+$/, 'a dependency name must not contain ":"'),
    mode: z.enum(['replicated', 'exclusive']),
    stack: nonEmpty.optional(),
    members: z
      .array(z.object({ id: nonEmpty, host: nonEmpty, port }).strict())
      .min(1)
      .optional(),
    target: hostPort.optional(),
    idempotent: z.boolean().default(false),
    failureResponse: z.string().optional(),
    listen: hostPort.optional(),
    memberListen: z.record(hostPort).optional(),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.mode === 'replicated') {
      if ((d.stack === undefined) === (d.members === undefined))
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['stack'],
          message: 'a replicated dependency needs exactly one of stack (its stack file) or members (client addresses)',
        });
      for (const field of ['target', 'failureResponse'] as const)
        if (d[field] !== undefined)
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: [field],
            message: `${field} only applies to an exclusive dependency`,
            params: { atKey: true },
          });
    } else {
      if (!d.target)
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['target'],
          message: 'missing; an exclusive dependency needs target { host, port }',
        });
      for (const field of ['stack', 'members'] as const)
        if (d[field] !== undefined)
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: [field],
            message: `${field} only applies to a replicated dependency`,
            params: { atKey: true },
          });
    }
  });

/** The zod schema of a stack file (input: the parsed YAML; output: a `Stack`). */
export const stackSchema = z
  .object({
    group,
    ordering: ordering.default({}),
    substrate: substrate.optional(),
    substrates: z.array(substrate).min(1).optional(),
    service,
    client,
    aaa: aaa.optional(),
    timeouts: timeouts.default({}),
    admin: admin.default({}),
    limits: limits.default({}),
    onDivergence: z.enum(['report', 'evict', 'off']).default('report'),
    dependencies: z.array(dependency).optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.substrate && s.substrates)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['substrate'],
        message: 'give either substrate (one) or substrates (a list), not both',
        params: { atKey: true },
      });
    if (s.service.stateDigest && s.onDivergence === 'off')
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['service', 'stateDigest'],
        message: 'state digests are compared by divergence detection, which onDivergence: off turns off',
        params: { hint: 'set onDivergence: report (or evict), or remove service.stateDigest' },
      });
    if (!s.substrate && !s.substrates)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['substrates'],
        message: 'missing; expected a list of substrates (or a single substrate:)',
      });
    // Names default to the plugin's substrate name, known only once it is loaded; the plugin as
    // written is the best guess here (the member checks the loaded names again).
    const named = new Map<string, number>();
    s.substrates?.forEach((sub, i) => {
      const name = sub.name ?? sub.plugin;
      const first = named.get(name);
      if (first === undefined) named.set(name, i);
      else
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['substrates', i, sub.name ? 'name' : 'plugin'],
          message: `two substrates named "${name}" (also substrates[${first}])`,
          params: { hint: 'give each substrate its own name:, e.g. name: tcp-admin' },
        });
    });
    const names = new Set<string>();
    const ids = new Set(s.group.members.map((m) => m.id));
    s.dependencies?.forEach((d, i) => {
      if (names.has(d.name))
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['dependencies', i, 'name'],
          message: `duplicate dependency name "${d.name}"`,
        });
      names.add(d.name);
      for (const id of Object.keys(d.memberListen ?? {}))
        if (!ids.has(id))
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: ['dependencies', i, 'memberListen', id],
            message: `"${id}" is not a member of the group`,
            params: { hint: `members are ${[...ids].join(', ')}` },
          });
    });
  })
  .transform(({ substrate: single, substrates, ...rest }): Stack => ({
    ...rest,
    substrates: substrates ?? (single ? [single] : []),
  }));
