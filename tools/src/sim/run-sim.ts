import { parseArgs } from 'node:util';
import { ConfigError, pluginRegistry, VclError, type Plugin, type PluginRegistry } from '@vcl/core';
import {
  FAULT_PROFILES,
  formatTimeline,
  formatViolations,
  naiveOrderingRegistrations,
  runOrderingSweep,
  type FaultProfile,
  type OrderingRunResult,
} from '@vcl/core/testing';

/** Where the command writes: stdout for the report, stderr for progress. */
export interface SimIo {
  /** One report line. */
  out(line: string): void;
  /** Progress text (no newline added; `\r` updates one line on a terminal). */
  progress(text: string): void;
}

/** Parsed `npm run sim` arguments. */
export interface SimArgs {
  /** Ordering plugin name (`sequencer`, `tokenring`, a package, or a test-only `naive` / `broken-<flaw>`). */
  readonly ordering: string;
  /** How many seeds. */
  readonly seeds: number;
  /** The first seed. */
  readonly seed: number;
  /** Group size. */
  readonly members: number;
  /** Fault profile. */
  readonly faults: FaultProfile;
  /** Virtual ms of faults. */
  readonly durationMs: number;
  /** Plugin options (JSON), handed to the registration's `create`. */
  readonly options: unknown;
  /** Print the failing seed's timeline. */
  readonly trace: boolean;
}

export const SIM_USAGE = `usage: npm run sim -- --ordering <name> --seeds <N> [--seed S] [--members K] [--faults <profile>]
                      [--duration ms] [--options <json>] [--trace]
  --ordering  ordering plugin: sequencer, tokenring, a package name or path; test-only: naive, broken-<flaw>
  --seeds     how many seeds to run (default 100)
  --seed      first seed (default 1); with --seeds 1 it replays exactly that seed
  --members   group size (default 3)
  --faults    ${FAULT_PROFILES.join(' | ')} (default chaos)
  --duration  virtual ms of faults before heal and quiet period (default 10000)
  --options   plugin options as JSON (as in a stack file)
  --trace     print the timeline of the first failing seed (of the seed, with --seeds 1)`;

/** Parses the command line; throws `ConfigError` naming each bad argument. */
export function parseSimArgs(argv: readonly string[]): SimArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        ordering: { type: 'string' },
        seeds: { type: 'string' },
        seed: { type: 'string' },
        members: { type: 'string' },
        faults: { type: 'string' },
        duration: { type: 'string' },
        options: { type: 'string' },
        trace: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new ConfigError('sim arguments', [{ path: '(command line)', message: (err as Error).message }]);
  }
  const issues: { path: string; message: string }[] = [];
  const int = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min || n > max)
      issues.push({ path: `--${name}`, message: `must be an integer in ${min}..${max}, got ${String(raw)}` });
    return n;
  };
  const ordering = typeof values.ordering === 'string' ? values.ordering : '';
  if (!ordering) issues.push({ path: '--ordering', message: 'is required (e.g. --ordering sequencer)' });
  const faults = (values.faults ?? 'chaos') as FaultProfile;
  if (!FAULT_PROFILES.includes(faults))
    issues.push({ path: '--faults', message: `must be one of ${FAULT_PROFILES.join(', ')}, got ${String(faults)}` });
  let options: unknown;
  if (typeof values.options === 'string') {
    try {
      options = JSON.parse(values.options);
    } catch (err) {
      issues.push({ path: '--options', message: `is not valid JSON: ${(err as Error).message}` });
    }
  }
  const args: SimArgs = {
    ordering,
    seeds: int('seeds', 100, 1),
    seed: int('seed', 1, 0, 0xffffffff),
    members: int('members', 3, 1, 64),
    faults,
    durationMs: int('duration', 10_000, 0),
    options,
    trace: values.trace === true,
  };
  if (issues.length) throw new ConfigError('sim arguments', issues);
  return args;
}

/** The command that replays one seed of a run with `args`. */
export function replayCommand(args: SimArgs, seed: number): string {
  return (
    `npm run sim -- --ordering ${args.ordering} --seeds 1 --seed ${seed} --members ${args.members} ` +
    `--faults ${args.faults} --duration ${args.durationMs}` +
    (args.options !== undefined ? ` --options '${JSON.stringify(args.options)}'` : '') +
    ' --trace'
  );
}

/**
 * Finds the ordering plugin by name in the plugin registry. The test-only protocols (`naive`,
 * `broken-<flaw>`) are added to the registry only when asked for, so they never shadow a real one.
 */
export async function loadOrderingPlugin(
  name: string,
  options: unknown,
  registry: PluginRegistry = pluginRegistry,
): Promise<Plugin> {
  const testOnly = naiveOrderingRegistrations.find((r) => r.name === name);
  if (testOnly && !registry.has('ordering', name)) registry.add(testOnly);
  const registration = await registry.load('ordering', name);
  return registration.create(options);
}

/** Runs `npm run sim`; returns the exit code (0: no violation, 1: violations, 2: bad arguments or plugin). */
export async function runSim(
  argv: readonly string[],
  io: SimIo,
  registry: PluginRegistry = pluginRegistry,
): Promise<number> {
  let args: SimArgs;
  let plugin: Plugin;
  try {
    args = parseSimArgs(argv);
    plugin = await loadOrderingPlugin(args.ordering, args.options, registry);
  } catch (err) {
    io.out(err instanceof VclError ? `sim: ${err.message}` : `sim: ${String(err)}`);
    io.out(SIM_USAGE);
    return 2;
  }
  const started = Date.now();
  let firstFailure: OrderingRunResult | undefined;
  let only: OrderingRunResult | undefined;
  const result = await runOrderingSweep({
    plugin,
    seeds: args.seeds,
    firstSeed: args.seed,
    members: args.members,
    faults: args.faults,
    durationMs: args.durationMs,
    keepFailures: 1,
    onProgress: (p) => {
      if (!firstFailure && p.result.violations.length > 0) firstFailure = p.result;
      if (p.total === 1) only = p.result;
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      io.progress(
        `sim: ${args.ordering} ${args.faults} ${p.done}/${p.total} seeds, ${p.failingSeeds.length} failing, ` +
          `${p.violations} violations, ${secs}s`,
      );
    },
  });
  io.progress('\n');
  if (firstFailure) {
    io.out(`first failing seed: ${firstFailure.seed} (fingerprint ${firstFailure.fingerprint})`);
    io.out(formatViolations(firstFailure.violations));
    if (args.trace) io.out(`timeline of seed ${firstFailure.seed}:\n${formatTimeline(firstFailure.history)}`);
    io.out(
      `failing seeds: ${result.failingSeeds.slice(0, 20).join(', ')}${result.failingSeeds.length > 20 ? ', ...' : ''}`,
    );
    io.out(`replay: ${replayCommand(args, firstFailure.seed)}`);
  } else if (only && args.trace) {
    io.out(`timeline of seed ${only.seed} (fingerprint ${only.fingerprint}):\n${formatTimeline(only.history)}`);
  }
  io.out(
    `members=${args.members} faults=${args.faults} first-seed=${args.seed} duration=${args.durationMs}ms ` +
      `failing-seeds=${result.failingSeeds.length} deliveries=${result.totals.deliveries} ` +
      `wall=${((Date.now() - started) / 1000).toFixed(1)}s`,
  );
  io.out(`sim: ordering=${args.ordering} seeds=${result.seedsRun} violations=${result.violations}`);
  return result.violations > 0 ? 1 : 0;
}
