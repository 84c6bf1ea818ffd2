import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from '../contracts/logger';
import type { OrderingProtocol, OrderingStatus } from '../contracts/ordering';
import type { DivergenceStatus } from './divergence';
import type { ServiceInterceptor, ServiceInterceptorStatus } from './service-interceptor';
import type { RecoveryStatus } from './recovery/recovery';
import { shortSessionId } from './session-id';
import { DEFAULT_LIMITS } from './connection-limits';
import { RateLimitedLog } from '../runtime/rate-limited-log';

/** What a member's `/status` returns. */
export interface MemberStatus extends ServiceInterceptorStatus {
  /** The group name. */
  readonly group: string;
  /** The ordering plugin's view of itself (role: sequencer, token holder, ...). */
  readonly ordering: OrderingStatus;
}

/** What a member's `/readyz` returns: whether a load balancer may send it clients, and why not. */
export interface Readiness {
  /** Live (accepting client-side interceptors), caught up (not installing state) and in a primary view. */
  readonly ready: boolean;
  /** Why it is not ready, one line each (empty when ready). */
  readonly reasons: readonly string[];
}

/** The readiness of a member from its status: every reason it would refuse or delay a new client. */
export function readiness(status: MemberStatus, listening: boolean): Readiness {
  const reasons: string[] = [];
  if (!listening) reasons.push('not accepting client-side interceptors (stopped or not started)');
  if (!status.view) reasons.push('no view installed yet (joining the group)');
  else if (!status.view.primary)
    reasons.push(`in a minority view #${status.view.id} [${status.view.members.join(' ')}]`);
  const phase = status.recovery?.phase;
  if (phase === 'catching-up') reasons.push('catching up with the group (installing its state)');
  if (phase === 'refused')
    reasons.push(`refused to join the running group${status.recovery?.error ? `: ${status.recovery.error}` : ''}`);
  return { ready: reasons.length === 0, reasons };
}

/** Options of an `AdminEndpoint`. */
export interface AdminEndpointOptions {
  /** Address to bind. */
  readonly host: string;
  /** Port to bind (0: any). */
  readonly port: number;
  /** The group name, for `/status`. */
  readonly group: string;
  /** The member's service-side interceptor. */
  readonly interceptor: ServiceInterceptor;
  /** The member's ordering protocol. */
  readonly ordering: OrderingProtocol;
  /** Where it logs. */
  readonly logger: Logger;
  /** Connections at once; more are closed at accept (logged, counted). Default 16. */
  readonly maxConnections?: number;
  /** A request must arrive whole within this long; an idle connection is closed after it. Default 5000 ms. */
  readonly requestTimeoutMs?: number;
}

/** The status of one member: interceptor and ordering together. */
export function memberStatus(group: string, interceptor: ServiceInterceptor, ordering: OrderingProtocol): MemberStatus {
  const status = interceptor.status();
  // Session ids are capabilities: `/status` shows a prefix (enough to tell sessions apart).
  const sessions = status.sessions.map((x) => ({ ...x, id: shortSessionId(x.id) }));
  const divergence = status.divergence && {
    ...status.divergence,
    diverged: status.divergence.diverged.map((d) => ({ ...d, session: shortSessionId(d.session) })),
  };
  return { group, ...status, sessions, ...(divergence ? { divergence } : {}), ordering: ordering.status() };
}

/**
 * A member's admin endpoint: `GET /status` (JSON) and `GET /metrics` (Prometheus text format) with
 * ordered messages, deliveries, view changes, fail-overs served, cache bytes and sessions;
 * `GET /healthz` (200 while the process answers: a liveness probe) and `GET /readyz` (200 when
 * `readiness` says ready, else 503 with the reasons: a readiness probe or load-balancer check).
 */
export class AdminEndpoint {
  /** This endpoint's metrics (a registry of its own, so several members can share a process). */
  readonly registry = new Registry();
  private server: http.Server | undefined;
  /** Admin connections refused at `maxConnections`. */
  private refusedHere = 0;
  private readonly peerLog: RateLimitedLog;

  constructor(private readonly options: AdminEndpointOptions) {
    const { interceptor, ordering } = options;
    this.peerLog = new RateLimitedLog(options.logger);
    const reg = [this.registry];
    const counter = (name: string, help: string, value: () => number): void =>
      void new Counter({
        name,
        help,
        registers: reg,
        collect() {
          this.reset();
          this.inc(value());
        },
      });
    const gauge = (name: string, help: string, value: () => number): void =>
      void new Gauge({
        name,
        help,
        registers: reg,
        collect() {
          this.set(value());
        },
      });
    const c = interceptor.counters;
    counter('vcl_ordered_messages_total', 'Session events this member broadcast that were ordered', () => c.ordered);
    counter('vcl_deliveries_total', 'Session events delivered at this member', () => c.deliveries);
    counter('vcl_view_changes_total', 'Views installed at this member', () => c.viewChanges);
    counter('vcl_failovers_served_total', 'Sessions re-attached here after a fail-over', () => c.failoversServed);
    counter('vcl_requests_applied_total', 'Requests applied to the local service', () => c.requests);
    counter(
      'vcl_duplicates_dropped_total',
      'Duplicate or stale requests dropped in the ordered stream',
      () => c.duplicatesDropped,
    );
    counter(
      'vcl_sessions_overflowed_total',
      'Sessions closed (in the total order) because their client left more unacknowledged output than maxCacheBytes',
      () => c.overflows,
    );
    counter('vcl_bad_input_total', 'Client links refused for bad frames, unknown sessions or policy', () => c.badInput);
    counter(
      'vcl_limit_refusals_total',
      'Connections and frames refused at a limit (client port and admin port: connections, frame size, timeouts)',
      () => c.limitRefusals + this.refusedHere,
    );
    gauge(
      'vcl_cache_bytes',
      'Output cached for unacknowledged client output, all sessions',
      () => interceptor.status().cacheBytes,
    );
    gauge('vcl_ready', 'Whether /readyz answers 200: live, caught up and in a primary view', () =>
      this.readiness().ready ? 1 : 0,
    );
    gauge('vcl_sessions', 'Open sessions', () => interceptor.status().sessions.length);
    gauge('vcl_client_links', 'Client-side interceptors connected to this member', () => interceptor.status().links);
    gauge('vcl_view_id', 'Id of the installed view', () => ordering.view()?.id ?? 0);
    gauge('vcl_view_members', 'Members of the installed view', () => ordering.view()?.members.length ?? 0);
    gauge('vcl_ordering_pending', 'Broadcasts of this member not yet delivered', () => ordering.status().pending);
    gauge('vcl_ordering_delivered_seq', 'Highest sequence number delivered', () => ordering.status().delivered);
    // Recovery: a member that cannot catch up shows it here, not only in its log.
    const recovery = (): RecoveryStatus | undefined => interceptor.status().recovery;
    gauge(
      'vcl_recovery_catching_up_seconds',
      'Seconds the state install under way has taken (0 when live)',
      () => (recovery()?.catchingUpMs ?? 0) / 1000,
    );
    counter('vcl_recovery_state_installs_total', 'State transfers installed here', () => recovery()?.installs ?? 0);
    counter(
      'vcl_recovery_catch_up_stalls_total',
      'Reports that this member cannot catch up (an install past the bound, or re-admitted again and again)',
      () => recovery()?.catchUpStalls ?? 0,
    );
    const divergence = (): DivergenceStatus | undefined => interceptor.status().divergence;
    counter(
      'vcl_divergence_compared_total',
      'Output units (responses or stream blocks) whose hashes were compared',
      () => divergence()?.counters.compared ?? 0,
    );
    counter(
      'vcl_divergence_divergent_outputs_total',
      'Output hashes that differed from the majority',
      () => divergence()?.counters.divergentOutputs ?? 0,
    );
    counter(
      'vcl_divergence_undecided_total',
      'Compared units whose hashes differed with no majority (2 members, a tie)',
      () => divergence()?.counters.undecided ?? 0,
    );
    counter(
      'vcl_divergence_hashes_sent_total',
      'Output hashes this member put into the total order',
      () => divergence()?.counters.hashesSent ?? 0,
    );
    counter(
      'vcl_divergence_state_digests_total',
      'State digests this member took and shared (service.stateDigest)',
      () => divergence()?.counters.stateDigests ?? 0,
    );
    counter(
      'vcl_divergence_state_digest_errors_total',
      'State digests that failed (command or callback error); nothing was shared for them',
      () => divergence()?.counters.stateDigestErrors ?? 0,
    );
    gauge(
      'vcl_divergence_diverged_members',
      'Members found diverged from the majority',
      () => divergence()?.diverged.length ?? 0,
    );
    void new Gauge({
      name: 'vcl_diverged',
      help: 'A member found diverged (1), with the session and the unit (request or stream block) where it started',
      labelNames: ['member', 'session', 'unit', 'seq'],
      registers: reg,
      collect() {
        this.reset();
        for (const d of divergence()?.diverged ?? [])
          this.set({ member: d.member, session: d.session, unit: d.unit, seq: String(d.inSeq) }, 1);
      },
    });
  }

  /** The bound address (after `start`). */
  get address(): { host: string; port: number } | undefined {
    const a = this.server?.address() as AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port } : undefined;
  }

  /** Starts serving. */
  async start(): Promise<void> {
    const timeoutMs = this.options.requestTimeoutMs ?? DEFAULT_LIMITS.adminRequestTimeoutMs;
    // Slow clients (slowloris: a byte every few seconds) are cut at `timeoutMs`, checked every
    // second rather than Node's default 30 s.
    const server = http.createServer(
      { requestTimeout: timeoutMs, headersTimeout: timeoutMs, connectionsCheckingInterval: Math.min(1000, timeoutMs) },
      (req, res) => void this.handle(req, res),
    );
    server.keepAliveTimeout = Math.min(5000, timeoutMs);
    server.setTimeout(timeoutMs, (socket) => socket.destroy());
    server.maxConnections = this.options.maxConnections ?? DEFAULT_LIMITS.adminMaxConnections;
    server.on('drop', (d?: { remoteAddress?: string; remotePort?: number }) => {
      this.refusedHere++;
      this.peerLog.warn(
        { remote: `${d?.remoteAddress ?? '?'}:${d?.remotePort ?? '?'}`, limit: server.maxConnections },
        'admin connection refused at limits.adminMaxConnections',
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        // From now on an accept error (EMFILE) is logged and the endpoint keeps listening.
        server.on('error', (error) => this.peerLog.error({ err: error.message }, 'admin endpoint: accept failed'));
        resolve();
      });
    });
    this.server = server;
    this.options.logger.info({ admin: this.address }, 'admin endpoint listening');
  }

  /** Stops serving. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.peerLog.flush();
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** This member's readiness now (what `/readyz` answers). */
  readiness(): Readiness {
    const { group, interceptor, ordering } = this.options;
    return readiness(memberStatus(group, interceptor, ordering), interceptor.address !== undefined);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method === 'GET' && path === '/status') {
        const body = JSON.stringify(memberStatus(this.options.group, this.options.interceptor, this.options.ordering));
        res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      } else if (req.method === 'GET' && path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (req.method === 'GET' && path === '/readyz') {
        const r = this.readiness();
        res.writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(r)}\n`);
      } else if (req.method === 'GET' && path === '/metrics') {
        const body = await this.registry.metrics();
        res.writeHead(200, { 'content-type': this.registry.contentType }).end(body);
      } else {
        res
          .writeHead(404, { 'content-type': 'text/plain' })
          .end('not found: try /status, /metrics, /healthz or /readyz\n');
      }
    } catch (error) {
      this.options.logger.warn({ err: (error as Error).message, path }, 'admin request failed');
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(error as Error).message}\n`);
    }
  }
}
