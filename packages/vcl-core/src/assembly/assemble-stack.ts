import { container as rootContainer, type DependencyContainer, type InjectionToken } from 'tsyringe';
import type { Clock } from '../contracts/clock';
import type { Logger } from '../contracts/logger';
import type { GroupConfig } from '../contracts/ordering';
import type { Plugin, PluginKind, PluginRegistration } from '../contracts/plugin';
import type { Random } from '../contracts/random';
import type { Substrate } from '../contracts/substrate';
import { resolve, resolveAll, tokenName } from '../contracts/token';
import { CLOCK, GROUP, LOGGER, MEMBER, ORDERING, RANDOM, STACK, SUBSTRATE } from '../contracts/tokens';
import { memberOf } from '../config/load-stack';
import type { MemberConfig, Stack } from '../config/stack';
import { ConfigError, joinConfigPath, OptionsError, SlotError, type ConfigIssue } from '../errors';
import { pluginRegistry, type PluginRegistry } from '../registry/plugin-registry';
import { createLogger } from '../runtime/logger';
import { realClock, realRandom } from '../runtime/real-clock';

/** Options of `assembleStack`. */
export interface AssembleOptions {
  /** Where plugins are looked up and loaded; default the process-wide `pluginRegistry`. */
  readonly registry?: PluginRegistry;
  /** Parent of the deployment's child container; default tsyringe's root container. */
  readonly parent?: DependencyContainer;
  /** Root logger (bound to group and member here); default the parent's `LOGGER`, else `createLogger()`. */
  readonly logger?: Logger;
  /** Clock; default the parent's `CLOCK`, else the real clock. */
  readonly clock?: Clock;
  /** Randomness; default the parent's `RANDOM`, else `Math.random`. */
  readonly random?: Random;
  /** Names the stack in errors (the file path); default `stack <group name>`. */
  readonly source?: string;
}

/** One plugin the stack names, and where. */
export interface PlannedPlugin {
  /** The slot. */
  readonly kind: PluginKind;
  /** Short name or package, as the stack says. */
  readonly name: string;
  /** The options given to the plugin's `create`. */
  readonly options: unknown;
  /** Where in the stack file the plugin is named (`substrates[1]`). */
  readonly path: string;
  /** Where in the stack file its options are (`substrates[1].options`). */
  readonly optionsPath: string;
}

/** A deployment assembled but not started. */
export interface StackAssembly {
  /** The deployment's own child container: GROUP, STACK, MEMBER, LOGGER, CLOCK, RANDOM and every plugin's registrations. */
  readonly container: DependencyContainer;
  /** The configured plugins, in the order they were registered (ordering, substrates, aaa). */
  readonly plugins: readonly Plugin[];
  /** The stack. */
  readonly stack: Stack;
  /** This member's entry in the stack. */
  readonly member: MemberConfig;
  /** The group as the ordering plugin sees it. */
  readonly group: GroupConfig;
}

/**
 * The plugins a stack names: its ordering plugin, each substrate, and the AAA plugins its `aaa`
 * section implies (`hmac`/`tls` for `link.mode`, `token`/`tls` for `clients.mode`, `policy`,
 * `file-audit` for `audit`). Each AAA plugin is created once with the whole `aaa` section.
 */
export function planPlugins(stack: Stack): PlannedPlugin[] {
  const planned: PlannedPlugin[] = [
    {
      kind: 'ordering',
      name: stack.ordering.plugin,
      options: stack.ordering.options,
      path: 'ordering.plugin',
      optionsPath: 'ordering.options',
    },
    ...stack.substrates.map((s, i) => ({
      kind: 'substrate' as const,
      name: s.plugin,
      options: s.options,
      path: `substrates[${i}].plugin`,
      optionsPath: `substrates[${i}].options`,
    })),
  ];
  const aaa = stack.aaa;
  if (aaa) {
    const names = new Set<string>();
    if (aaa.link.mode !== 'none') names.add(aaa.link.mode);
    if (aaa.clients.mode !== 'none') names.add(aaa.clients.mode);
    if (aaa.policy !== undefined) names.add('policy');
    if (aaa.audit) names.add('file-audit');
    for (const name of names) planned.push({ kind: 'aaa', name, options: aaa, path: 'aaa', optionsPath: 'aaa' });
  }
  return planned;
}

const REGISTER_METHODS = new Set<PropertyKey>(['register', 'registerSingleton', 'registerType', 'registerInstance']);

/** `container` as `plugin` sees it: every token it registers is recorded against its name. */
function recording(container: DependencyContainer, record: (t: InjectionToken<unknown>) => void): DependencyContainer {
  const proxy: DependencyContainer = new Proxy(container, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (!REGISTER_METHODS.has(prop) || typeof value !== 'function') return value;
      return (t: InjectionToken<unknown>, ...rest: unknown[]) => {
        record(t);
        (value as (...args: unknown[]) => unknown).apply(target, [t, ...rest]);
        return proxy;
      };
    },
  });
  return proxy;
}

function describeError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Assembles one member of a stack without starting anything: loads the plugins the stack names
 * through the registry, creates them from their options, and registers them in a new child
 * container of `parent` together with GROUP, STACK, MEMBER, LOGGER, CLOCK and RANDOM. Each
 * deployment has its own child container, so several stacks (or members) live in one process.
 * The single-choice ordering slot must end up with exactly one registration (`SlotError`
 * otherwise). Every stack problem found on the way (unknown plugin, bad options) is reported in
 * one `ConfigError` with its path in the stack.
 */
export async function assembleStack(
  stack: Stack,
  memberId: string,
  options: AssembleOptions = {},
): Promise<StackAssembly> {
  const registry = options.registry ?? pluginRegistry;
  const parent = options.parent ?? rootContainer;
  const source = options.source ?? `stack ${stack.group.name}`;
  const member = memberOf(stack, memberId);

  const issues: ConfigIssue[] = [];
  const causes: unknown[] = [];
  const planned = planPlugins(stack);
  const registrations = await Promise.all(
    planned.map((p) =>
      registry.load(p.kind, p.name).catch((e: unknown): PluginRegistration | undefined => {
        issues.push({ path: p.path, message: describeError(e) });
        causes.push(e);
        return undefined;
      }),
    ),
  );
  const plugins: Plugin[] = [];
  planned.forEach((p, i) => {
    const registration = registrations[i];
    if (!registration) return;
    try {
      const plugin = registration.create(p.options);
      if (plugin.kind !== p.kind)
        issues.push({
          path: p.path,
          message: `plugin ${p.name} created a ${plugin.kind} plugin, expected a ${p.kind} plugin`,
        });
      else plugins.push(plugin);
    } catch (e) {
      causes.push(e);
      if (e instanceof OptionsError)
        issues.push(
          ...e.relativeIssues.map((issue) => ({ ...issue, path: joinConfigPath(p.optionsPath, issue.path) })),
        );
      else if (e instanceof ConfigError)
        issues.push(...e.issues.map((issue) => ({ ...issue, path: joinConfigPath(p.optionsPath, issue.path) })));
      else issues.push({ path: p.optionsPath, message: `plugin ${p.name} rejected its options: ${describeError(e)}` });
    }
  });
  if (issues.length)
    throw new ConfigError(source, issues, { cause: causes.length === 1 ? causes[0] : new AggregateError(causes) });

  const group: GroupConfig = {
    self: member.id,
    members: stack.group.members.map((m) => m.id),
    partition: stack.group.partition,
  };
  const child = parent.createChildContainer();
  const baseLogger =
    options.logger ?? (parent.isRegistered(LOGGER, true) ? resolve(parent, LOGGER) : createLogger({ name: 'vcl' }));
  child.register(GROUP, { useValue: group });
  child.register(STACK, { useValue: stack });
  child.register(MEMBER, { useValue: member });
  child.register(LOGGER, { useValue: baseLogger.child({ group: stack.group.name, member: member.id }) });
  if (options.clock || !parent.isRegistered(CLOCK, true))
    child.register(CLOCK, { useValue: options.clock ?? realClock() });
  if (options.random || !parent.isRegistered(RANDOM, true))
    child.register(RANDOM, { useValue: options.random ?? realRandom() });

  const orderingBy: string[] = [];
  for (const plugin of plugins)
    plugin.register(
      recording(child, (t) => {
        if (t === ORDERING) orderingBy.push(plugin.name);
      }),
    );
  // The ordering slot is single-choice: with two candidates tsyringe would silently take the last.
  if (orderingBy.length !== 1)
    throw new SlotError(
      `slot ordering (${tokenName(ORDERING)}) needs exactly one registration, found ${orderingBy.length}` +
        (orderingBy.length
          ? `: ${orderingBy.join(', ')}`
          : ` (ordering plugin ${plugins.find((p) => p.kind === 'ordering')?.name ?? '?'} registered none)`),
    );
  streamSessionsCheck(stack, resolveAll(child, SUBSTRATE), source);
  return { container: child, plugins, stack, member, group };
}

/**
 * A stream substrate cannot be applied deterministically with several sessions open at a shared
 * service (each member's service interleaves its connections in its own order): the stack must
 * say under which setting it is safe (`sessions:`), else it is refused here, by `vcl check` and
 * by every command that assembles it, never left to diverge.
 */
function streamSessionsCheck(stack: Stack, substrates: readonly Substrate[], source: string): void {
  const issues: ConfigIssue[] = [];
  stack.substrates.forEach((section, i) => {
    const substrate = substrates[i];
    if (substrate?.pattern !== 'stream' || section.sessions !== undefined) return;
    issues.push({
      path: `substrates[${i}].sessions`,
      message:
        `substrate ${section.plugin} is a byte stream here (e.g. tcp framing: raw): request boundaries are unknown, so ` +
        `the total order cannot decide how each replica's service interleaves concurrent sessions and the replicas would diverge`,
      hint:
        'use a request-response framing (tcp framing: line or length-prefixed, http, cli), or state the setting under which ' +
        'the stream is safe: sessions: one-at-a-time (the group refuses a session while another is open) or ' +
        'sessions: isolated (you assert the service keeps no state shared between sessions)',
    });
  });
  if (issues.length) throw new ConfigError(source, issues);
}
