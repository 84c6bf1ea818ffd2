import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { ConfigError, TimeoutError, type ConfigIssue } from '@vcl/core';
import {
  killFreezeScenario,
  killRestartScenario,
  OrderingProcessGroup,
  pickLeader,
  scenarioProblems,
  wallNow,
  type MemberProcessStats,
} from '@vcl/core/testing';

/** Parsed `npm run bench:ordering` arguments. */
export interface OrderingBenchArgs {
  /** Ordering plugin name (`sequencer`, `tokenring`, a package, or the test-only `naive`). */
  readonly ordering: string;
  /** Plugin options (JSON); default none (the plugin's defaults). */
  readonly options: unknown;
  /** Group sizes. */
  readonly groups: readonly number[];
  /** Payload sizes in bytes. */
  readonly sizes: readonly number[];
  /** Seconds measured per throughput/latency point. */
  readonly seconds: number;
  /** Seconds of warm-up before each point. */
  readonly warmupSeconds: number;
  /** Broadcasts each member keeps in flight when saturating. */
  readonly window: number;
  /** Messages per second per member for the light-load latency point. */
  readonly lightRate: number;
  /** Fail-over runs per group size. */
  readonly failoverRuns: number;
  /** Seconds over which an idle group's CPU is measured. */
  readonly idleSeconds: number;
  /** Print JSON instead of Markdown. */
  readonly json: boolean;
  /**
   * Instead of measuring, run a shared real-process scenario (`kill-freeze`: 5 members, SIGKILL
   * the leader, SIGSTOP the next, thaw; `kill-restart`: 3 members, SIGKILL the leader, restart it)
   * `runs` times and report each verdict, to reproduce a failing real-TCP test from the command line.
   */
  readonly scenario?: 'kill-freeze' | 'kill-restart';
  /** Scenario runs. */
  readonly runs: number;
}

export const ORDERING_BENCH_USAGE = `usage: npm run bench:ordering -- --ordering <name> [--options <json>] [--groups 3,5] [--sizes 100,1024]
                      [--seconds 5] [--warmup 2] [--window 32] [--light-rate 50] [--failover-runs 3]
                      [--idle-seconds 5] [--json] [--scenario kill-freeze|kill-restart] [--runs N]
  --ordering       ordering plugin: sequencer, tokenring, a package name or path (test-only: naive)
  --options        plugin options as JSON (default: the plugin's defaults)
  --groups         group sizes (default 3,5); each member is a separate process on loopback TCP
  --sizes          payload sizes in bytes (default 100,1024)
  --seconds        measured seconds per point (default 5)
  --warmup         warm-up seconds per point (default 2)
  --window         broadcasts each member keeps in flight when saturating (default 32)
  --light-rate     messages/s per member for the light-load latency (default 50)
  --failover-runs  kills of the sequencer / token holder per group size (default 3)
  --idle-seconds   seconds an idle group's CPU is measured over (default 5)
  --json           print the results as JSON
  --scenario       kill-freeze | kill-restart: run the real-TCP test scenario instead of measuring
  --runs           scenario runs (default 1)`;

/** Parses the command line; throws `ConfigError` naming each bad argument. */
export function parseOrderingBenchArgs(argv: readonly string[]): OrderingBenchArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        ordering: { type: 'string' },
        options: { type: 'string' },
        groups: { type: 'string' },
        sizes: { type: 'string' },
        seconds: { type: 'string' },
        warmup: { type: 'string' },
        window: { type: 'string' },
        'light-rate': { type: 'string' },
        'failover-runs': { type: 'string' },
        'idle-seconds': { type: 'string' },
        json: { type: 'boolean' },
        scenario: { type: 'string' },
        runs: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new ConfigError('bench:ordering arguments', [{ path: '(command line)', message: (err as Error).message }]);
  }
  const issues: ConfigIssue[] = [];
  const num = (name: string, fallback: number, min: number, max: number, integer = true): number => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      issues.push({
        path: `--${name}`,
        message: `must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}, got ${String(raw)}`,
      });
      return fallback;
    }
    return n;
  };
  const list = (name: string, fallback: number[], min: number, max: number): number[] => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const ns = String(raw)
      .split(',')
      .map((s) => Number(s.trim()));
    if (ns.length === 0 || ns.some((n) => !Number.isInteger(n) || n < min || n > max)) {
      issues.push({
        path: `--${name}`,
        message: `must be a comma-separated list of integers in ${min}..${max}, got ${String(raw)}`,
      });
      return fallback;
    }
    return ns;
  };
  const ordering = values['ordering'];
  if (typeof ordering !== 'string' || ordering === '')
    issues.push({ path: '--ordering', message: 'is required (e.g. --ordering sequencer)' });
  let options: unknown;
  if (values['options'] !== undefined) {
    try {
      options = JSON.parse(String(values['options']));
    } catch (err) {
      issues.push({ path: '--options', message: `must be JSON: ${(err as Error).message}` });
    }
  }
  const parsed: OrderingBenchArgs = {
    ordering: String(ordering ?? ''),
    options,
    groups: list('groups', [3, 5], 1, 15),
    sizes: list('sizes', [100, 1024], 0, 1024 * 1024),
    seconds: num('seconds', 5, 0.5, 600, false),
    warmupSeconds: num('warmup', 2, 0, 600, false),
    window: num('window', 32, 1, 100_000),
    lightRate: num('light-rate', 50, 1, 100_000, false),
    failoverRuns: num('failover-runs', 3, 0, 100),
    idleSeconds: num('idle-seconds', 5, 0.5, 600, false),
    json: values['json'] === true,
    runs: num('runs', 1, 1, 1000),
  };
  const scenario = values['scenario'];
  if (scenario !== undefined) {
    if (scenario === 'kill-freeze' || scenario === 'kill-restart') Object.assign(parsed, { scenario });
    else issues.push({ path: '--scenario', message: `must be kill-freeze or kill-restart, got ${String(scenario)}` });
  }
  if (issues.length) throw new ConfigError('bench:ordering arguments', issues);
  return parsed;
}

/** One throughput/latency point. */
export interface LoadPoint {
  readonly members: number;
  readonly payloadBytes: number;
  /** `saturated` (window in flight per member) or `rate` (lightRate per member). */
  readonly load: 'saturated' | 'rate';
  /** Ordered (delivered) messages per second, mean over members. */
  readonly orderedPerSecond: number;
  /** Broadcast-to-local-delivery latency percentiles in ms, over every member's own messages. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Latency samples. */
  readonly samples: number;
}

/** One group size's fail-over runs. */
export interface FailoverPoint {
  readonly members: number;
  /** Per run: the member killed, its role, ms to the first survivor's new view and to its first delivery there. */
  readonly runs: readonly {
    readonly killed: string;
    readonly role: string;
    /** Kill to the first delivery at a survivor, in any view (may be a message ordered before the kill). */
    readonly anyDeliveryMs: number;
    /** Kill to the first survivor's new view. */
    readonly viewMs: number;
    /** Kill to the first delivery in the new view at a survivor: the fail-over time. */
    readonly deliveryMs: number;
  }[];
}

/** One group size's idle CPU. */
export interface IdlePoint {
  readonly members: number;
  readonly seconds: number;
  /** CPU ms (user + system) per member over the period. */
  readonly cpuMs: readonly number[];
}

/** Everything one benchmark run measured. */
export interface OrderingBenchResult {
  readonly args: OrderingBenchArgs;
  readonly node: string;
  readonly cpus: number;
  readonly loadAvg: readonly number[];
  readonly load: LoadPoint[];
  readonly failover: FailoverPoint[];
  readonly idle: IdlePoint[];
  readonly wallSeconds: number;
}

/** The `q` quantile (0..1) of ascending `sorted` samples (nearest rank); NaN when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** How long a fail-over run waits for the first delivery in a new view; longer counts as "none". */
const FAILOVER_LIMIT_MS = 30_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function statsAll(group: OrderingProcessGroup, drainLatencies = false): Promise<MemberProcessStats[]> {
  return Promise.all(group.running().map((id) => group.stats(id, { drainLatencies, timeoutMs: 20_000 })));
}

/** Waits until no member has a broadcast in flight and all delivered the same seq (between points). */
async function quiesce(group: OrderingProcessGroup): Promise<void> {
  group.setWorkload({ mode: 'idle' });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const stats = await statsAll(group);
    if (stats.every((s) => s.pending === 0) && new Set(stats.map((s) => s.delivered)).size === 1) return;
    if (Date.now() > deadline) throw new Error(`the group did not quiesce in 30 s:\n${group.describe()}`);
    await sleep(50);
  }
}

async function measureLoad(
  group: OrderingProcessGroup,
  a: OrderingBenchArgs,
  payloadBytes: number,
  load: 'saturated' | 'rate',
): Promise<LoadPoint> {
  group.setWorkload(
    load === 'saturated'
      ? { mode: 'saturate', payloadBytes, maxPending: a.window }
      : { mode: 'rate', perSecond: a.lightRate, payloadBytes, maxPending: a.window },
  );
  await sleep(a.warmupSeconds * 1000);
  const before = await statsAll(group, true);
  await sleep(a.seconds * 1000);
  const after = await statsAll(group, true);
  await quiesce(group);
  const rates = after.map((s, i) => (s.delivered - before[i]!.delivered) / ((s.t - before[i]!.t) / 1000));
  const latencies = after.flatMap((s) => s.latenciesMs ?? []).sort((x, y) => x - y);
  return {
    members: group.members.length,
    payloadBytes,
    load,
    orderedPerSecond: rates.reduce((x, y) => x + y, 0) / rates.length,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    samples: latencies.length,
  };
}

async function measureIdle(group: OrderingProcessGroup, seconds: number): Promise<IdlePoint> {
  await sleep(1000);
  const before = await statsAll(group);
  await sleep(seconds * 1000);
  const after = await statsAll(group);
  return {
    members: group.members.length,
    seconds,
    cpuMs: after.map((s, i) => (s.cpu.user + s.cpu.system - before[i]!.cpu.user - before[i]!.cpu.system) / 1000),
  };
}

async function measureFailover(a: OrderingBenchArgs, members: number): Promise<FailoverPoint['runs'][number]> {
  const group = await OrderingProcessGroup.start({
    plugin: a.ordering,
    pluginOptions: a.options,
    members,
    workload: { mode: 'rate', perSecond: a.lightRate, payloadBytes: 100, maxPending: a.window },
    keepLogs: false,
  });
  try {
    await group.waitForView(group.members, { timeoutMs: 30_000 });
    await group.waitForDelivered(group.maxDelivered() + 50, { timeoutMs: 30_000 });
    const victim = await pickLeader(group);
    const role = (await group.stats(victim)).role;
    const survivors = group.members.filter((m) => m !== victim);
    const viewBefore = group.member(survivors[0]!).view!.id;
    const killedAt = wallNow();
    await group.kill(victim);
    const first = (pick: (id: string) => number | undefined) => {
      const ts = survivors.map(pick).filter((t): t is number => t !== undefined);
      return ts.length ? Math.min(...ts) - killedAt : undefined;
    };
    const newView = (id: string) =>
      group.events(id).find((e) => e.type === 'view' && e.id > viewBefore && e.t >= killedAt)?.t;
    const newDelivery = (id: string) =>
      group.events(id).find((e) => e.type === 'deliver' && e.view > viewBefore && e.t >= killedAt)?.t;
    const anyDelivery = (id: string) => group.events(id).find((e) => e.type === 'deliver' && e.t >= killedAt)?.t;
    const timedOut = await group
      .waitFor('a delivery in a new view at a survivor', () => first(newDelivery) !== undefined, FAILOVER_LIMIT_MS)
      .then(
        () => false,
        (err: unknown) => {
          if (err instanceof TimeoutError) return true;
          throw err;
        },
      );
    if (timedOut)
      return {
        killed: victim,
        role,
        anyDeliveryMs: first(anyDelivery) ?? NaN,
        viewMs: first(newView) ?? NaN,
        deliveryMs: NaN,
      };
    return {
      killed: victim,
      role,
      anyDeliveryMs: first(anyDelivery)!,
      viewMs: first(newView)!,
      deliveryMs: first(newDelivery)!,
    };
  } finally {
    await group.stop();
  }
}

/**
 * Runs the ordering benchmark: per group size, one group of separate member processes on loopback
 * measures idle CPU, then throughput and latency per payload size (saturated, and at a light
 * rate); then fresh groups measure fail-over after SIGKILLing the sequencer / token holder.
 */
export async function runOrderingBench(
  a: OrderingBenchArgs,
  progress: (line: string) => void = () => undefined,
): Promise<OrderingBenchResult> {
  const started = Date.now();
  const result: OrderingBenchResult = {
    args: a,
    node: process.version,
    cpus: cpus().length,
    loadAvg: loadavg().map((x) => Math.round(x * 100) / 100),
    load: [],
    failover: [],
    idle: [],
    wallSeconds: 0,
  };
  for (const members of a.groups) {
    progress(`${members} members: starting`);
    const group = await OrderingProcessGroup.start({
      plugin: a.ordering,
      pluginOptions: a.options,
      members,
      logMode: 'views',
      keepLogs: false,
    });
    try {
      await group.waitForView(group.members, { timeoutMs: 30_000 });
      progress(`${members} members: idle CPU over ${a.idleSeconds} s`);
      result.idle.push(await measureIdle(group, a.idleSeconds));
      for (const size of a.sizes)
        for (const load of ['saturated', 'rate'] as const) {
          progress(`${members} members: ${size} B ${load}`);
          const point = await measureLoad(group, a, size, load);
          result.load.push(point);
          progress(
            `  ${point.orderedPerSecond.toFixed(0)} msg/s, p50 ${point.p50Ms.toFixed(2)} ms, p99 ${point.p99Ms.toFixed(2)} ms`,
          );
        }
    } finally {
      await group.stop();
    }
    const runs: FailoverPoint['runs'][number][] = [];
    for (let i = 0; i < a.failoverRuns; i++) {
      progress(`${members} members: fail-over run ${i + 1}/${a.failoverRuns}`);
      const run = await measureFailover(a, members);
      runs.push(run);
      progress(
        `  killed ${run.killed} (${run.role}): next delivery ${fo(run.anyDeliveryMs)} ms, new view ` +
          `${fo(run.viewMs)} ms, first delivery in it ${fo(run.deliveryMs)} ms`,
      );
    }
    if (runs.length) result.failover.push({ members, runs });
  }
  return { ...result, wallSeconds: Math.round((Date.now() - started) / 100) / 10 };
}

const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
/** A fail-over figure: NaN means nothing happened within the limit. */
const fo = (x: number) => (Number.isNaN(x) ? `none in ${FAILOVER_LIMIT_MS / 1000} s` : x.toFixed(0));
/** Median and max of fail-over figures, a run without the event counting as the largest. */
const foStats = (xs: readonly number[]) => {
  const sorted = [...xs].map((x) => (Number.isNaN(x) ? Infinity : x)).sort((a, b) => a - b);
  const show = (x: number) => (x === Infinity ? fo(NaN) : fo(x));
  return `${show(quantile(sorted, 0.5))} / ${show(sorted[sorted.length - 1]!)}`;
};
const bytes = (n: number) => (n >= 1024 && n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`);

/** The results as Markdown tables. */
export function formatOrderingBench(r: OrderingBenchResult): string {
  const a = r.args;
  const lines = [
    `## Ordering benchmark: ${a.ordering}`,
    '',
    `Plugin options: ${a.options === undefined ? 'defaults' : JSON.stringify(a.options)}. Node ${r.node}, ${r.cpus} CPUs ` +
      `(load average ${r.loadAvg.join(' / ')} at start), one process per member, TCP over loopback. ` +
      `${a.seconds} s measured after ${a.warmupSeconds} s warm-up per point; took ${r.wallSeconds} s.`,
    '',
    '### Throughput and latency (broadcast to local delivery of the sender’s own message)',
    '',
    '| members | payload | load | ordered msg/s | p50 latency (ms) | p99 latency (ms) | samples |',
    '|---:|---:|---|---:|---:|---:|---:|',
    ...r.load.map(
      (p) =>
        `| ${p.members} | ${bytes(p.payloadBytes)} | ${p.load === 'saturated' ? `saturated (${a.window} in flight per member)` : `${a.lightRate} msg/s per member`} ` +
        `| ${fmt(p.orderedPerSecond, 0)} | ${fmt(p.p50Ms, 2)} | ${fmt(p.p99Ms, 2)} | ${p.samples} |`,
    ),
  ];
  if (r.failover.length) {
    lines.push(
      '',
      `### Fail-over (SIGKILL of the sequencer / token holder under ${a.lightRate} msg/s per member)`,
      '',
      '| members | runs | killed | kill to next delivery at a survivor, any view, median / max (ms) | kill to new view at first survivor, median / max (ms) | kill to first delivery in the new view (fail-over), median / max (ms) |',
      '|---:|---:|---|---:|---:|---:|',
      ...r.failover.map(
        (f) =>
          `| ${f.members} | ${f.runs.length} | ${[...new Set(f.runs.map((x) => `${x.killed} (${x.role})`))].join(', ')} ` +
          `| ${foStats(f.runs.map((x) => x.anyDeliveryMs))} | ${foStats(f.runs.map((x) => x.viewMs))} ` +
          `| ${foStats(f.runs.map((x) => x.deliveryMs))} |`,
      ),
    );
  }
  if (r.idle.length) {
    lines.push(
      '',
      `### Idle group CPU (no broadcasts, ${a.idleSeconds} s, process.cpuUsage of each member)`,
      '',
      `| members | CPU per member over ${a.idleSeconds} s, mean / max (ms) | % of one core per member (mean) | group total (% of one core) |`,
      '|---:|---:|---:|---:|',
      ...r.idle.map((p) => {
        const mean = p.cpuMs.reduce((x, y) => x + y, 0) / p.cpuMs.length;
        const total = p.cpuMs.reduce((x, y) => x + y, 0);
        return (
          `| ${p.members} | ${fmt(mean)} / ${fmt(Math.max(...p.cpuMs))} | ${fmt((mean / (p.seconds * 1000)) * 100, 2)} % ` +
          `| ${fmt((total / (p.seconds * 1000)) * 100, 2)} % |`
        );
      }),
    );
  }
  return lines.join('\n');
}

/** One scenario run's outcome. */
export interface ScenarioRun {
  /** `ok`, or what was wrong (claims broken, or the error that stopped the run). */
  readonly verdict: string;
  /** The run's report (violations, members, timeline, logs), when it did not pass. */
  readonly report?: string;
  /** Fail-over times measured in the run, in ms. */
  readonly failoverMs: readonly number[];
  /** Wall seconds. */
  readonly seconds: number;
}

/** Runs the shared real-TCP scenario `a.scenario` `a.runs` times with the plugin and options of `a`. */
export async function runOrderingScenarios(
  a: OrderingBenchArgs,
  progress: (line: string) => void = () => undefined,
): Promise<ScenarioRun[]> {
  const runs: ScenarioRun[] = [];
  const scenario = a.scenario === 'kill-restart' ? killRestartScenario : killFreezeScenario;
  for (let i = 0; i < a.runs; i++) {
    const started = Date.now();
    const seconds = () => Math.round((Date.now() - started) / 100) / 10;
    try {
      const r = await scenario({
        plugin: a.ordering,
        pluginOptions: a.options,
        trace: (line) => progress(`  ${line}`),
      });
      const problems = scenarioProblems(r);
      runs.push({
        verdict: problems.length ? problems.join('; ') : 'ok',
        ...(problems.length ? { report: r.report } : {}),
        failoverMs: r.failoverMs.map((x) => Math.round(x)),
        seconds: seconds(),
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const [first, ...rest] = message.split('\n');
      runs.push({ verdict: `failed: ${first}`, report: rest.join('\n'), failoverMs: [], seconds: seconds() });
    }
    progress(`${a.scenario} run ${i + 1}/${a.runs}: ${runs.at(-1)!.verdict} (${runs.at(-1)!.seconds} s)`);
  }
  return runs;
}
