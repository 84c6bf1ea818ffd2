import { mkdirSync, readFileSync } from 'node:fs';
import { container as rootContainer } from 'tsyringe';
import type { Clock } from '../contracts/clock';
import type { LinkSecurity } from '../contracts/link-security';
import type { Logger } from '../contracts/logger';
import type { Network } from '../contracts/network';
import type { OrderingProtocol } from '../contracts/ordering';
import type { Endpoint, Substrate } from '../contracts/substrate';
import { resolve, resolveAll } from '../contracts/token';
import {
  AUDITOR,
  AUTHENTICATOR,
  AUTHORIZER,
  CLIENT_LINK_SECURITY,
  CLOCK,
  INTERCEPTOR_LINK_SECURITY,
  LINK_SECURITY,
  LOGGER,
  NETWORK,
  ORDERING,
  RANDOM,
  SUBSTRATE,
} from '../contracts/tokens';
import { assembleStack } from '../assembly/assemble-stack';
import { resolveSingle } from '../assembly/resolve-single';
import type { Stack, SubstrateSection } from '../config/stack';
import { ConfigError, type ServiceFailedError, VclError } from '../errors';
import { pluginRegistry, type PluginRegistry } from '../registry/plugin-registry';
import { bindOrExplain } from '../runtime/listen-error';
import { createLogger } from '../runtime/logger';
import { RateLimitedLog } from '../runtime/rate-limited-log';
import { realClock, realRandom } from '../runtime/real-clock';
import { TcpNetwork } from '../link/tcp-network';
import { AdminEndpoint } from './admin';
import { dialBackend, type ServiceBackend } from './backend';
import { ClientInterceptor } from './client-interceptor';
import type { DivergenceReport } from './divergence';
import type { MemberAddress } from './link-frames';
import { ServiceInterceptor, type ServedSubstrate } from './service-interceptor';
import { newSessionId } from './session-id';
import { TcpLinkTransport } from './tcp-link';
import type { Recovery } from './recovery/recovery';
import type { SnapshotCallbacks } from './recovery/service-state';
import { recoveryFor } from './recovery/setup';
import { commandEnv, expandMember } from './recovery/service-state';
import { stateDigestFor } from './state-digest';
import { resolveDependencies } from './outbound/dependencies';
import { splitOrdering } from './outbound/ordering-split';
import { OutboundInterceptor } from './outbound/outbound-interceptor';
import { probeService, type ServiceProbe } from './service-probe';

/** Client addresses of a stack's members (where client-side interceptors connect). */
export function memberAddresses(stack: Stack): MemberAddress[] {
  return stack.group.members.map((m) => ({ id: m.id, host: m.host, port: m.clientPort }));
}

/** Options of `startServiceMember`. */
export interface ServiceMemberOptions {
  /** The validated stack. */
  readonly stack: Stack;
  /** This member's id (`group.members[].id`). */
  readonly member: string;
  /** Names the stack in errors (its file). */
  readonly source?: string;
  /** Where plugins are loaded from. Default the process-wide registry. */
  readonly registry?: PluginRegistry;
  /** Root logger. Default pino on standard output. */
  readonly logger?: Logger;
  /**
   * Internal mode: where ordered requests are applied (e.g. an `InProcessService`'s backend), for
   * the sessions of every substrate. Default external mode: each session dials its substrate's
   * service target (`substrates[].service`, else the stack's `service`).
   */
  readonly backend?: ServiceBackend;
  /**
   * External mode: dial this instead of the stack's `service.endpoint` (several replicas on one
   * host); substrates with their own `service:` target keep it.
   */
  readonly serviceEndpoint?: Endpoint;
  /** The member<->member network. Default: a `TcpNetwork` over the stack's member addresses. */
  readonly network?: Network;
  /** Serve `/status` and `/metrics` when the member has an `adminPort`. Default: the stack's `admin.enabled`. */
  readonly admin?: boolean;
  /**
   * Internal mode with `service.recovery: snapshot` (or replay with reset): the program's own
   * state, saved at a cut for a joining member and loaded there.
   */
  readonly snapshot?: SnapshotCallbacks;
  /**
   * Internal mode: the program's state digest (any bytes), compared between replicas every
   * `stateDigestEvery` requests of the group (divergence detection of state that does not show in
   * output yet). Called only when every request up to the digest point has been answered and none
   * after it has been applied. Default none (then also none from the stack).
   */
  readonly stateDigest?: () => Promise<Uint8Array>;
  /** Internal mode: requests between two state digests. Default the stack's `service.stateDigest.every`, else 1000. */
  readonly stateDigestEvery?: number;
}

/** A running service-side member: network, ordering, interceptor and admin endpoint. */
export class ServiceMember {
  /**
   * Resolves, after the member has stopped, when divergence detection found this member's replica
   * diverged under `onDivergence: evict` (`vcl service` then exits non-zero). Never resolves otherwise.
   */
  readonly evicted: Promise<DivergenceReport>;
  /**
   * Resolves, after the member has stopped, when its service failed (the process behind it is
   * gone): the replica cannot follow the order, so the member left the group (`vcl service` then
   * exits non-zero). Never resolves otherwise.
   */
  readonly serviceFailed: Promise<ServiceFailedError>;
  private stopping: Promise<void> | undefined;

  constructor(
    /** This member's id. */
    readonly id: string,
    /** The service-side interceptor. */
    readonly interceptor: ServiceInterceptor,
    /** The ordering group member. */
    readonly ordering: OrderingProtocol,
    /** The member links. */
    readonly network: Network,
    /** The admin endpoint, if served. */
    readonly admin: AdminEndpoint | undefined,
    private readonly log: Logger,
    /** The outbound engine, when the stack has `dependencies` (internal mode: `outbound.connect(name)`). */
    readonly outbound?: OutboundInterceptor,
    /** Replica recovery (state transfer to and from this member). */
    readonly recovery?: Recovery,
    /** Settles with the reason if the member cannot go on (it refused to join a running group); never otherwise. */
    readonly failed: Promise<VclError> = new Promise(() => undefined),
    /** The probes that wait for the local service to come up (stopped with the member). */
    private readonly probes: readonly ServiceProbe[] = [],
  ) {
    // The diverged member leaves: its clients fail over to the others, the group installs a view
    // without it, and a supervisor may restart it to rejoin.
    this.evicted = interceptor.evicted.then(async (report) => {
      this.log.error(
        { session: report.session, inSeq: report.inSeq, unit: report.unit, majority: report.majority },
        'member evicted: its replica diverged from the majority; stopping',
      );
      await this.stop();
      return report;
    });
    // A member whose service is gone leaves likewise: its clients fail over, and the survivors,
    // which applied everything, go on without it.
    this.serviceFailed = interceptor.serviceFailed.then(async (failure) => {
      this.log.error({ err: failure.message }, 'member leaves the group: its service failed; stopping');
      await this.stop();
      return failure;
    });
  }

  /** Stops in reverse start order: admin, outbound, interceptor, ordering, network (once; later calls wait for it). */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<void> {
    for (const p of this.probes) p.stop();
    await this.admin?.stop();
    await this.outbound?.stop();
    await this.interceptor.stop();
    await this.ordering.stop();
    await this.network.stop();
    this.recovery?.stop();
    this.log.info({}, 'member stopped');
  }
}

/**
 * Assembles and starts one service-side member of a stack (what `vcl service` runs, and what a
 * program under internal replication calls with its own `backend`): transports first, then
 * ordering, then the interceptor, then the admin endpoint.
 */
export async function startServiceMember(options: ServiceMemberOptions): Promise<ServiceMember> {
  const { stack } = options;
  const logger = options.logger ?? createLogger({ name: 'vcl-service' });
  const assembly = await assembleStack(stack, options.member, {
    registry: options.registry ?? pluginRegistry,
    logger,
    ...(options.source ? { source: options.source } : {}),
  });
  const c = assembly.container;
  const log = resolve(c, LOGGER);
  const clock = resolve(c, CLOCK);
  const network =
    options.network ??
    new TcpNetwork({
      self: assembly.member.id,
      members: stack.group.members.map((m) => ({ id: m.id, host: m.host, port: m.port })),
      logger: log.child({ component: 'network' }),
      clock,
      random: resolve(c, RANDOM),
      connectTimeoutMs: stack.timeouts.connectMs,
      ...(c.isRegistered(LINK_SECURITY, true) ? { security: resolve(c, LINK_SECURITY) } : {}),
      // Another process holds this member's id: step out of the group (the member stops) rather
      // than go on believing it is in a primary view it no longer is.
      onIdTaken: (error) => fatal(error),
    });
  c.register(NETWORK, { useValue: network });
  const baseOrdering = resolveSingle(c, ORDERING, 'ordering');
  // Dependencies share the member's total order with the session protocol (see outbound/).
  const dependencies = await resolveDependencies(stack, options.member, options.source);
  const split = dependencies.length > 0 ? splitOrdering(baseOrdering) : undefined;
  const ordering = split?.service ?? baseOrdering;
  const substrates = resolveAll(c, SUBSTRATE);
  const served = servedSubstrates(stack, substrates, options, clock, log);
  let fatal: (error: VclError) => void = () => undefined;
  const failed = new Promise<VclError>((resolve) => (fatal = resolve));
  const recovery = recoveryFor({
    stack,
    member: options.member,
    source: options.source ?? 'stack',
    internal: options.backend !== undefined,
    ...(options.snapshot ? { snapshot: options.snapshot } : {}),
    ...(options.backend ? {} : { endpoint: options.serviceEndpoint ?? stack.service.endpoint ?? {} }),
    // A snapshot is cut between answers: every substrate the member serves must answer per request.
    requestResponse: served.every((x) => x.substrate.pattern === 'request-response'),
    clock,
    logger: log,
    onFatal: (error) => fatal(error),
  });
  const stateDigest = stateDigestFor({
    stack,
    member: options.member,
    source: options.source ?? 'stack',
    internal: options.backend !== undefined,
    ...(options.stateDigest ? { digest: options.stateDigest } : {}),
    ...(options.stateDigestEvery !== undefined ? { every: options.stateDigestEvery } : {}),
    ...(options.backend ? {} : { endpoint: options.serviceEndpoint ?? stack.service.endpoint ?? {} }),
    requestResponse: served.every((x) => x.substrate.pattern === 'request-response'),
    timeoutMs: stack.timeouts.requestMs,
  });
  const optional = <T>(t: Parameters<typeof resolveAll<T>>[1]): T | undefined => resolveAll(c, t)[0];
  const member = assembly.member;
  const auditor = optional(AUDITOR);
  // A client-side interceptor that fails the interceptor link's security never reaches the
  // interceptor: log and audit it here.
  // Rate-limited: an unauthenticated peer can trigger these as fast as it can connect.
  const peerLog = new RateLimitedLog(log);
  const refusedClientLink = (remote: string, error: Error): void => {
    peerLog.warn({ remote, err: error.message }, 'client link authentication failed');
    auditor?.audit({ type: 'auth.failure', member: member.id, reason: error.message, details: { remote } });
  };
  const limits = stack.limits;
  // Sockets still in their security set-up count against the same bound (a little above the
  // interceptor's own, which refuses with a typed error frame first).
  const droppedClientLink = (remote: string): void => {
    interceptor.counters.limitRefusals++;
    peerLog.warn(
      { remote, limit: limits.maxConnections },
      'client connection dropped at accept: too many sockets open',
    );
    auditor?.audit({
      type: 'limit.refused',
      member: member.id,
      reason: 'too many sockets open on the client port',
      details: { remote },
    });
  };
  const interceptor = new ServiceInterceptor({
    self: member.id,
    ordering,
    substrates: served,
    transport: new TcpLinkTransport({
      connectTimeoutMs: stack.timeouts.connectMs,
      localId: member.id,
      ...optionalField('security', optional(INTERCEPTOR_LINK_SECURITY)),
      onRefused: (remote, error) => refusedClientLink(remote, error),
      maxFrameBytes: limits.frameBytes,
      preAuthFrameBytes: limits.preAuthFrameBytes,
      maxSockets: limits.maxConnections + 64,
      onDropped: droppedClientLink,
      onAcceptError: (error) => peerLog.error({ err: error.message }, 'client port: accept failed'),
    }),
    listen: { host: member.host, port: member.clientPort },
    members: memberAddresses(stack),
    clock,
    logger: log,
    heartbeatMs: stack.timeouts.heartbeatMs,
    linkTimeoutMs: stack.timeouts.suspectMs,
    recovery,
    limits: {
      preAuthFrameBytes: limits.preAuthFrameBytes,
      frameBytes: limits.frameBytes,
      maxConnections: limits.maxConnections,
      maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
      handshakeTimeoutMs: limits.handshakeTimeoutMs,
    },
    ...(stack.onDivergence !== 'off' ? { divergence: { policy: stack.onDivergence } } : {}),
    ...(stateDigest ? { stateDigest } : {}),
    ...optionalField('authenticator', optional(AUTHENTICATOR)),
    ...optionalField('authorizer', optional(AUTHORIZER)),
    ...optionalField('auditor', auditor),
  });
  // Constructed before the ordering starts, so no outbound delivery can pass unseen.
  const outbound = split
    ? new OutboundInterceptor({
        self: member.id,
        group: stack.group.name,
        ordering: split.outbound,
        // Outbound calls are framed by the stack's first substrate.
        substrate: substrates[0]!,
        dependencies,
        transport: new TcpLinkTransport({ connectTimeoutMs: stack.timeouts.connectMs }),
        clock,
        logger: log,
        heartbeatMs: stack.timeouts.heartbeatMs,
        linkTimeoutMs: stack.timeouts.suspectMs,
        callTimeoutMs: stack.timeouts.requestMs,
      })
    : undefined;
  const serveAdmin = (options.admin ?? stack.admin.enabled) && member.adminPort !== undefined;
  const admin = serveAdmin
    ? new AdminEndpoint({
        host: stack.admin.host,
        port: member.adminPort!,
        group: stack.group.name,
        interceptor,
        ordering,
        logger: log,
        maxConnections: limits.adminMaxConnections,
        requestTimeoutMs: limits.adminRequestTimeoutMs,
      })
    : undefined;
  // What started is stopped again when a later part cannot start (a port in use), so a failed start
  // leaves nothing listening or dialling behind it.
  const started: { stop(): Promise<void> }[] = [];
  const index = stack.group.members.findIndex((m) => m.id === member.id);
  const field = (name: string): string => `group.members[${index}].${name}`;
  const who = `member ${member.id}`;
  try {
    await bindOrExplain(() => network.start(), who, field('port'), { host: member.host, port: member.port });
    started.push(network);
    await ordering.start();
    started.push(ordering);
    await bindOrExplain(() => interceptor.start(), `${who} (client links)`, field('clientPort'), {
      host: member.host,
      port: member.clientPort,
    });
    started.push(interceptor);
    if (outbound) {
      await bindOrExplain(() => outbound.start(), `${who} (dependencies)`, 'dependencies[].listen', {});
      started.push(outbound);
    }
    if (admin) {
      await bindOrExplain(() => admin.start(), `${who} (admin)`, `${field('adminPort')} on admin.host`, {
        host: stack.admin.host,
        port: member.adminPort!,
      });
      started.push(admin);
    }
  } catch (error) {
    for (const part of started.reverse()) await part.stop().catch(() => undefined);
    recovery?.stop();
    throw error;
  }
  // Say what the member waits for when its service is not up yet (once per address).
  const probes = [
    ...new Map(served.flatMap((x) => (x.probe ? [[`${x.probe.host}:${x.probe.port}`, x.probe]] : []))).values(),
  ].map((p) => probeService({ ...p, clock, logger: log.child({ component: 'service-probe' }) }));
  log.info(
    { mode: options.backend ? 'internal' : 'external', substrates: served.map((x) => x.name) },
    'member started',
  );
  return new ServiceMember(member.id, interceptor, ordering, network, admin, log, outbound, recovery, failed, probes);
}

/** The name sessions of `section`'s substrate carry: its `name`, else the substrate's own. */
export function substrateName(section: SubstrateSection, substrate: Pick<Substrate, 'name'>): string {
  return section.name ?? substrate.name;
}

/**
 * Pairs each `substrates[]` entry with the substrate its plugin registered (in stack order: every
 * substrate plugin registers exactly one) and its backend: the program's (internal mode) or a dial
 * of its own service target (external mode), checked against what the substrate dials.
 */
function servedSubstrates(
  stack: Stack,
  substrates: readonly Substrate[],
  options: ServiceMemberOptions,
  clock: Clock,
  log: Logger,
  /** Whether to create each member's working and data directories (not for `vcl check`). */
  prepare = true,
): ServedWithProbe[] {
  const source = options.source ?? 'stack';
  if (substrates.length !== stack.substrates.length)
    throw new ConfigError(source, [
      {
        path: 'substrates',
        message: `${stack.substrates.length} substrates configured (${stack.substrates.map((s) => s.plugin).join(', ')}) but their plugins registered ${substrates.length}; each substrate plugin must register exactly one`,
      },
    ]);
  const issues: { path: string; message: string; hint?: string }[] = [];
  const seen = new Map<string, number>();
  const served = stack.substrates.map((section, i): ServedWithProbe => {
    const substrate = substrates[i]!;
    const name = substrateName(section, substrate);
    const first = seen.get(name);
    if (first !== undefined)
      issues.push({
        path: `substrates[${i}]`,
        message: `two substrates named "${name}" (also substrates[${first}])`,
        hint: 'give each substrate its own name:',
      });
    seen.set(name, i);
    const sessions = section.sessions !== undefined ? { sessions: section.sessions } : {};
    if (options.backend) return { name, substrate, backend: options.backend, ...sessions };
    const target = serviceTarget(stack, section, options);
    const problem = targetProblem(substrate, target);
    if (problem)
      issues.push({
        path: `substrates[${i}].service`,
        message: `substrate "${name}" (${section.plugin}) ${problem}`,
        hint:
          substrate.dialTarget === 'command'
            ? `give it its own target: substrates[${i}].service: { command: [argv] }`
            : `give it its own target: substrates[${i}].service: { endpoint: { host, port } }`,
      });
    // (Without a target the member does not start: the issue above is thrown below.)
    // A member's own working and data directories exist before its first command runs.
    if (prepare)
      for (const dir of [target?.command ? target.cwd : undefined, target?.env?.['VCL_DATA_DIR']])
        if (dir) mkdirSync(dir, { recursive: true });
    const field = targetField(section, i, options);
    return {
      name,
      substrate,
      backend: dialBackend(substrate, target ?? {}, {
        forMs: stack.timeouts.connectMs,
        clock,
        onRetry: (error, delayMs) =>
          log.debug(
            { substrate: name, field, err: error.message, retryInMs: delayMs },
            'service refused a session; retrying',
          ),
      }),
      ...(target?.port !== undefined ? { probe: { host: target.host ?? '127.0.0.1', port: target.port, field } } : {}),
      ...sessions,
    };
  });
  if (issues.length) throw new ConfigError(source, issues);
  return served;
}

/** A served substrate and, for a TCP service target, the address the member probes at start. */
type ServedWithProbe = ServedSubstrate & { readonly probe?: { host: string; port: number; field: string } };

/** The stack field (or flag) that sets `section`'s service target, for messages to the operator. */
function targetField(section: SubstrateSection, index: number, options: ServiceMemberOptions): string {
  if (section.service) return `substrates[${index}].service`;
  if (options.serviceEndpoint) return 'the --service-endpoint flag';
  return 'service.endpoint';
}

/** Where `section`'s sessions reach the replica: its own target, else the member's override or the stack's. */
function serviceTarget(stack: Stack, section: SubstrateSection, options: ServiceMemberOptions): Endpoint | undefined {
  const own = section.service;
  if (own?.endpoint) return own.endpoint;
  const command =
    own?.command ?? (options.serviceEndpoint || stack.service.endpoint ? undefined : stack.service.command);
  if (!command) return options.serviceEndpoint ?? stack.service.endpoint;
  // A command runs with the member's own arguments, working directory and environment, so one
  // stack file serves every member (three sqlite3 replicas on one host each get their directory).
  const member = options.member;
  const svc = stack.service;
  return {
    command: command.map((a) => expandMember(a, member)),
    ...(svc.cwd ? { cwd: expandMember(svc.cwd, member) } : {}),
    env: { ...commandEnv(stack, member), ...svc.env },
  };
}

function targetProblem(substrate: Substrate, target: Endpoint | undefined): string | undefined {
  if (!target) return 'has no service target';
  const shown = target.command ? `the command [${target.command.join(' ')}]` : `${target.host}:${target.port}`;
  if (substrate.dialTarget === 'command' && !target.command?.length)
    return `runs a command for each request, but its service target is ${shown}`;
  if (substrate.dialTarget === 'endpoint' && target.port === undefined)
    return `connects to a host and port, but its service target is ${shown}`;
  return undefined;
}

function optionalField<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** Options of `startClientInterceptor` and `startClientInterceptors`. */
export interface ClientOptions {
  /** The validated stack. */
  readonly stack: Stack;
  /** Where plugins are loaded from. Default the process-wide registry. */
  readonly registry?: PluginRegistry;
  /** Root logger. Default pino on standard output. */
  readonly logger?: Logger;
  /**
   * External mode: listen for the real client here (default: the substrate's `listen`, else
   * `client.listen`; only for one substrate). Internal mode (`false`): no listener; the program
   * calls `connect()`.
   */
  readonly listen?: Endpoint | false;
  /** Credentials for the members' authenticator. Default: the token in the stack's `aaa.client.tokenFile`, else none. */
  readonly credentials?: Uint8Array;
  /**
   * Which substrate (its `substrates[].name`, default the plugin's substrate name). Default: the
   * only one; a stack with several needs this for `startClientInterceptor`, while
   * `startClientInterceptors` then starts one per substrate.
   */
  readonly substrate?: string;
  /** Names the stack in errors (its file). */
  readonly source?: string;
}

/**
 * The client-side interceptor's link security: the AAA plugins the stack's `aaa.link.mode` and
 * `aaa.clients.mode` name, created for the client side (they read only `aaa.client` and the shared
 * key), register it as `CLIENT_LINK_SECURITY`. Undefined when the stack has none.
 */
async function clientLinkSecurity(stack: Stack, registry: PluginRegistry): Promise<LinkSecurity | undefined> {
  const aaa = stack.aaa;
  if (!aaa) return undefined;
  const names = new Set([aaa.link.mode, aaa.clients.mode].filter((m) => m === 'hmac' || m === 'tls'));
  const child = rootContainer.createChildContainer();
  for (const name of names) (await registry.load('aaa', name)).create({ ...aaa, side: 'client' }).register(child);
  return resolveAll(child, CLIENT_LINK_SECURITY)[0];
}

/** The token in `aaa.client.tokenFile`, trimmed; a ConfigError naming the file when it cannot be read or is empty. */
function clientToken(stack: Stack): Uint8Array | undefined {
  const file = stack.aaa?.client?.tokenFile;
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new ConfigError(
      'stack',
      [{ path: 'aaa.client.tokenFile', message: `cannot read ${file}: ${(error as Error).message}` }],
      {
        cause: error,
      },
    );
  }
  if (!text) throw new ConfigError('stack', [{ path: 'aaa.client.tokenFile', message: `${file} is empty` }]);
  return new TextEncoder().encode(text);
}

/** A stack's substrate as the client side loads it. */
interface ClientSubstrate {
  readonly index: number;
  readonly section: SubstrateSection;
  readonly name: string;
  readonly substrate: Substrate;
  readonly container: ReturnType<typeof rootContainer.createChildContainer>;
}

/** Loads every substrate of the stack (each in its own child container) and names it. */
async function clientSubstrates(options: ClientOptions): Promise<ClientSubstrate[]> {
  const registry = options.registry ?? pluginRegistry;
  const loaded: ClientSubstrate[] = [];
  for (const [index, section] of options.stack.substrates.entries()) {
    const registration = await registry.load('substrate', section.plugin);
    const container = rootContainer.createChildContainer();
    registration.create(section.options).register(container);
    const substrate = resolveAll(container, SUBSTRATE)[0];
    if (!substrate) throw new VclError(`substrate plugin ${section.plugin} registered no substrate`);
    loaded.push({ index, section, name: substrateName(section, substrate), substrate, container });
  }
  return loaded;
}

/** The substrates to start: the one named by `options.substrate`, or all. */
function chooseSubstrates(all: ClientSubstrate[], options: ClientOptions): ClientSubstrate[] {
  if (options.substrate === undefined) return all;
  const chosen = all.find((s) => s.name === options.substrate);
  if (!chosen)
    throw new ConfigError(options.source ?? 'stack', [
      {
        path: 'substrates',
        message: `no substrate named "${options.substrate}"; the stack has ${all.map((s) => s.name).join(', ')}`,
      },
    ]);
  return [chosen];
}

/** Where each chosen substrate listens (external mode); a `ConfigError` for every one that cannot. */
function listenAddresses(chosen: ClientSubstrate[], all: ClientSubstrate[], options: ClientOptions): Endpoint[] {
  const { stack } = options;
  const source = options.source ?? 'stack';
  if (options.listen === false) return [];
  if (options.listen) {
    if (chosen.length > 1)
      throw new ConfigError(source, [
        {
          path: 'substrates',
          message: `one listen address given for ${chosen.length} substrates (${chosen.map((s) => s.name).join(', ')})`,
          hint: 'choose one substrate (--substrate <name>), or give each substrates[].listen',
        },
      ]);
    return [options.listen];
  }
  // With one substrate, `client.listen` is its address; with several each needs its own.
  if (all.length === 1) return [chosen[0]!.section.listen ?? stack.client.listen];
  const issues = chosen
    .filter((s) => !s.section.listen)
    .map((s) => ({
      path: `substrates[${s.index}].listen`,
      message: `missing; substrate "${s.name}" needs its own listen address: the stack has ${all.length} substrates`,
      hint: 'give every substrate listen: { host, port }, or start one with --substrate <name> --listen host:port',
    }));
  const seen = new Map<string, string>();
  for (const s of chosen) {
    const l = s.section.listen;
    if (!l || l.port === 0) continue;
    const key = `${l.host}:${l.port}`;
    const other = seen.get(key);
    if (other)
      issues.push({
        path: `substrates[${s.index}].listen`,
        message: `${key} is also the listen address of substrate "${other}"`,
        hint: 'every substrate needs its own listen address',
      });
    seen.set(key, s.name);
  }
  if (issues.length) throw new ConfigError(source, issues);
  return chosen.map((s) => s.section.listen!);
}

/** What every client-side interceptor of one stack shares: link security and credentials. */
interface ClientLinkSetup {
  readonly security: LinkSecurity | undefined;
  readonly credentials: Uint8Array | undefined;
}

async function clientLinkSetup(options: ClientOptions): Promise<ClientLinkSetup> {
  return {
    security: await clientLinkSecurity(options.stack, options.registry ?? pluginRegistry),
    credentials: options.credentials ?? clientToken(options.stack),
  };
}

function clientInterceptor(
  s: ClientSubstrate,
  listen: Endpoint | undefined,
  options: ClientOptions,
  logger: Logger,
  setup: ClientLinkSetup,
): ClientInterceptor {
  const { stack } = options;
  const child = s.container;
  const credentials = setup.credentials;
  return new ClientInterceptor({
    members: memberAddresses(stack),
    transport: new TcpLinkTransport({
      connectTimeoutMs: stack.timeouts.connectMs,
      ...optionalField('security', setup.security),
    }),
    substrate: s.substrate,
    substrateName: s.name,
    clock: child.isRegistered(CLOCK, true) ? resolve(child, CLOCK) : realClock(),
    random: child.isRegistered(RANDOM, true) ? resolve(child, RANDOM) : realRandom(),
    logger: logger.child({ group: stack.group.name, substrate: s.name }),
    failoverTimeoutMs: stack.client.failoverTimeoutMs,
    heartbeatMs: stack.timeouts.heartbeatMs,
    linkTimeoutMs: stack.timeouts.suspectMs,
    newSessionId,
    limits: {
      maxConnections: stack.limits.maxConnections,
      maxConnectionsPerAddress: stack.limits.maxConnectionsPerAddress,
      partialRequestTimeoutMs: stack.limits.partialRequestTimeoutMs,
    },
    ...(listen ? { listen } : {}),
    ...(credentials ? { credentials } : {}),
  });
}

/**
 * Assembles and starts a client-side interceptor for one substrate of a stack (what a client
 * program under internal replication calls with `listen: false`). A stack with several substrates
 * needs `substrate`; `startClientInterceptors` starts one per substrate.
 */
export async function startClientInterceptor(options: ClientOptions): Promise<ClientInterceptor> {
  const logger = options.logger ?? createLogger({ name: 'vcl-client' });
  const all = await clientSubstrates(options);
  if (all.length > 1 && options.substrate === undefined)
    throw new ConfigError(options.source ?? 'stack', [
      {
        path: 'substrates',
        message: `the stack has ${all.length} substrates (${all.map((s) => s.name).join(', ')}); say which one this client interceptor serves`,
        hint: 'pass substrate: <name>, or use startClientInterceptors for all of them',
      },
    ]);
  const chosen = chooseSubstrates(all, options);
  const [listen] = listenAddresses(chosen, all, options);
  const client = clientInterceptor(chosen[0]!, listen, options, logger, await clientLinkSetup(options));
  await startClient(client, chosen[0]!, all, options, listen);
  return client;
}

/**
 * Starts `client` (stopping it again if it cannot); a listen address in use is reported with the
 * stack field (or flag) that chose it.
 */
async function startClient(
  client: ClientInterceptor,
  s: ClientSubstrate,
  all: ClientSubstrate[],
  options: ClientOptions,
  listen: Endpoint | undefined,
): Promise<void> {
  const field = options.listen
    ? 'the --listen flag'
    : all.length === 1 && !s.section.listen
      ? 'client.listen'
      : `substrates[${s.index}].listen`;
  try {
    await (listen
      ? bindOrExplain(() => client.start(), `vcl client (substrate ${s.name})`, field, listen)
      : client.start());
  } catch (error) {
    await client.stop();
    throw error;
  }
}

/** The client-side interceptors of one `vcl client` process: one per substrate. */
export class ClientInterceptors {
  constructor(
    /** Each running client-side interceptor, by substrate name, in stack order. */
    readonly bySubstrate: ReadonlyMap<string, ClientInterceptor>,
  ) {}

  /** Stops every interceptor. */
  async stop(): Promise<void> {
    await Promise.all([...this.bySubstrate.values()].map((c) => c.stop()));
  }
}

/**
 * Assembles and starts what `vcl client` runs: a client-side interceptor per substrate of the
 * stack (or only `substrate`), each listening on its substrate's `listen` address. Their sessions
 * all go to the same members, so every substrate's requests share the one total order.
 */
export async function startClientInterceptors(options: ClientOptions): Promise<ClientInterceptors> {
  const logger = options.logger ?? createLogger({ name: 'vcl-client' });
  const all = await clientSubstrates(options);
  const chosen = chooseSubstrates(all, options);
  const listen = listenAddresses(chosen, all, options);
  const setup = await clientLinkSetup(options);
  const started = new Map<string, ClientInterceptor>();
  try {
    for (const [i, s] of chosen.entries()) {
      const client = clientInterceptor(s, listen[i], options, logger, setup);
      await startClient(client, s, all, options, listen[i]);
      started.set(s.name, client);
    }
  } catch (error) {
    await Promise.all([...started.values()].map((c) => c.stop()));
    throw error;
  }
  return new ClientInterceptors(started);
}

/**
 * Everything `vcl service` (every member) and `vcl client` check at start-up, with nothing
 * started: plugins and their options, AAA files (keys, tokens, certificates, policy), each
 * substrate against its service target, and the client side's substrates, listen addresses and
 * credentials. Throws the first `ConfigError` found (the one a start would have thrown).
 */
export async function checkStack(
  stack: Stack,
  source: string,
  registry: PluginRegistry = pluginRegistry,
): Promise<void> {
  const silent: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => silent };
  for (const m of stack.group.members) {
    const assembly = await assembleStack(stack, m.id, { source, logger: silent, registry });
    servedSubstrates(
      stack,
      resolveAll(assembly.container, SUBSTRATE),
      { stack, member: m.id, source },
      realClock(),
      silent,
      false,
    );
    await resolveDependencies(stack, m.id, source);
  }
  const options: ClientOptions = { stack, registry, source };
  const all = await clientSubstrates(options);
  listenAddresses(all, all, options);
  await clientLinkSetup(options);
}

function noop(): void {}
