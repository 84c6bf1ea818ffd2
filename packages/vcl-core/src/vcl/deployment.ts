import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { container as rootContainer } from 'tsyringe';
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
import type { Stack } from '../config/stack';
import { ConfigError, VclError } from '../errors';
import { pluginRegistry, type PluginRegistry } from '../registry/plugin-registry';
import { createLogger } from '../runtime/logger';
import { realClock, realRandom } from '../runtime/real-clock';
import { TcpNetwork } from '../link/tcp-network';
import { AdminEndpoint } from './admin';
import { dialBackend, type ServiceBackend } from './backend';
import { ClientInterceptor } from './client-interceptor';
import type { DivergenceReport } from './divergence';
import type { MemberAddress } from './link-frames';
import { ServiceInterceptor } from './service-interceptor';
import { TcpLinkTransport } from './tcp-link';
import { resolveDependencies } from './outbound/dependencies';
import { splitOrdering } from './outbound/ordering-split';
import { OutboundInterceptor } from './outbound/outbound-interceptor';

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
   * Internal mode: where ordered requests are applied (e.g. an `InProcessService`'s backend).
   * Default external mode: each session dials the service through the substrate.
   */
  readonly backend?: ServiceBackend;
  /** External mode: dial this instead of the stack's `service.endpoint` (several replicas on one host). */
  readonly serviceEndpoint?: Endpoint;
  /** The member<->member network. Default: a `TcpNetwork` over the stack's member addresses. */
  readonly network?: Network;
  /** Serve `/status` and `/metrics` when the member has an `adminPort`. Default: the stack's `admin.enabled`. */
  readonly admin?: boolean;
}

/** A running service-side member: network, ordering, interceptor and admin endpoint. */
export class ServiceMember {
  /**
   * Resolves, after the member has stopped, when divergence detection found this member's replica
   * diverged under `onDivergence: evict` (`vcl service` then exits non-zero). Never resolves otherwise.
   */
  readonly evicted: Promise<DivergenceReport>;
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
  }

  /** Stops in reverse start order: admin, outbound, interceptor, ordering, network (once; later calls wait for it). */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<void> {
    await this.admin?.stop();
    await this.outbound?.stop();
    await this.interceptor.stop();
    await this.ordering.stop();
    await this.network.stop();
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
    });
  c.register(NETWORK, { useValue: network });
  const baseOrdering = resolveSingle(c, ORDERING, 'ordering');
  // Dependencies share the member's total order with the session protocol (see outbound/).
  const dependencies = await resolveDependencies(stack, options.member, options.source);
  const split = dependencies.length > 0 ? splitOrdering(baseOrdering) : undefined;
  const ordering = split?.service ?? baseOrdering;
  const substrate = resolveAll(c, SUBSTRATE)[0];
  if (!substrate)
    throw new ConfigError(options.source ?? 'stack', [{ path: 'substrates', message: 'no substrate registered' }]);
  const backend = options.backend ?? externalBackend(stack, substrate, options);
  const optional = <T>(t: Parameters<typeof resolveAll<T>>[1]): T | undefined => resolveAll(c, t)[0];
  const member = assembly.member;
  const auditor = optional(AUDITOR);
  // A client-side interceptor that fails the interceptor link's security never reaches the
  // interceptor: log and audit it here.
  const refusedClientLink = (remote: string, error: Error): void => {
    log.warn({ remote, err: error.message }, 'client link authentication failed');
    auditor?.audit({ type: 'auth.failure', member: member.id, reason: error.message, details: { remote } });
  };
  const interceptor = new ServiceInterceptor({
    self: member.id,
    ordering,
    substrate,
    backend,
    transport: new TcpLinkTransport({
      connectTimeoutMs: stack.timeouts.connectMs,
      localId: member.id,
      ...optionalField('security', optional(INTERCEPTOR_LINK_SECURITY)),
      onRefused: (remote, error) => refusedClientLink(remote, error),
    }),
    listen: { host: member.host, port: member.clientPort },
    members: memberAddresses(stack),
    clock,
    logger: log,
    heartbeatMs: stack.timeouts.heartbeatMs,
    linkTimeoutMs: stack.timeouts.suspectMs,
    ...(stack.onDivergence !== 'off' ? { divergence: { policy: stack.onDivergence } } : {}),
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
        substrate,
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
      })
    : undefined;
  await network.start();
  await ordering.start();
  await interceptor.start();
  await outbound?.start();
  await admin?.start();
  log.info({ mode: options.backend ? 'internal' : 'external', substrate: substrate.name }, 'member started');
  return new ServiceMember(member.id, interceptor, ordering, network, admin, log, outbound);
}

function externalBackend(stack: Stack, substrate: Substrate, options: ServiceMemberOptions): ServiceBackend {
  const endpoint: Endpoint | undefined =
    options.serviceEndpoint ??
    stack.service.endpoint ??
    (stack.service.command ? { command: stack.service.command } : undefined);
  if (!endpoint)
    throw new ConfigError(options.source ?? 'stack', [{ path: 'service', message: 'no service endpoint or command' }]);
  return dialBackend(substrate, endpoint);
}

function optionalField<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** Options of `startClientInterceptor`. */
export interface ClientOptions {
  /** The validated stack. */
  readonly stack: Stack;
  /** Where plugins are loaded from. Default the process-wide registry. */
  readonly registry?: PluginRegistry;
  /** Root logger. Default pino on standard output. */
  readonly logger?: Logger;
  /**
   * External mode: listen for the real client here (default: the substrate's `listen`, else
   * `client.listen`). Internal mode (`false`): no listener; the program calls `connect()`.
   */
  readonly listen?: Endpoint | false;
  /** Credentials for the members' authenticator. Default: the token in the stack's `aaa.client.tokenFile`, else none. */
  readonly credentials?: Uint8Array;
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

/**
 * Assembles and starts a client-side interceptor for a stack (what `vcl client` runs, and what a
 * client program under internal replication calls with `listen: false`).
 */
export async function startClientInterceptor(options: ClientOptions): Promise<ClientInterceptor> {
  const { stack } = options;
  const logger = options.logger ?? createLogger({ name: 'vcl-client' });
  const registry = options.registry ?? pluginRegistry;
  const security = await clientLinkSecurity(stack, registry);
  const credentials = options.credentials ?? clientToken(stack);
  const section = stack.substrates[0]!;
  const registration = await registry.load('substrate', section.plugin);
  const child = rootContainer.createChildContainer();
  registration.create(section.options).register(child);
  const substrate = resolveAll(child, SUBSTRATE)[0];
  if (!substrate) throw new VclError(`substrate plugin ${section.plugin} registered no substrate`);
  const listen = options.listen === false ? undefined : (options.listen ?? section.listen ?? stack.client.listen);
  const client = new ClientInterceptor({
    members: memberAddresses(stack),
    transport: new TcpLinkTransport({
      connectTimeoutMs: stack.timeouts.connectMs,
      ...optionalField('security', security),
    }),
    substrate,
    clock: child.isRegistered(CLOCK, true) ? resolve(child, CLOCK) : realClock(),
    random: child.isRegistered(RANDOM, true) ? resolve(child, RANDOM) : realRandom(),
    logger: logger.child({ group: stack.group.name }),
    failoverTimeoutMs: stack.client.failoverTimeoutMs,
    heartbeatMs: stack.timeouts.heartbeatMs,
    linkTimeoutMs: stack.timeouts.suspectMs,
    newSessionId: () => randomUUID(),
    ...(listen ? { listen } : {}),
    ...(credentials ? { credentials } : {}),
  });
  await client.start();
  return client;
}
