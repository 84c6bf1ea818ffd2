import type { AccessDecision, AccessRequest, Auditor, Authenticator, Authorizer, Principal } from '../contracts/aaa';
import type { Clock, Timer } from '../contracts/clock';
import type { LinkFrame } from '../contracts/link-security';
import type { Startable } from '../contracts/lifecycle';
import type { Logger } from '../contracts/logger';
import type { MemberId } from '../contracts/network';
import type { Delivery, OrderingProtocol, View } from '../contracts/ordering';
import type { SessionsPolicy } from '../config/stack';
import type { Conversation, Framer, SessionPlanner, Substrate } from '../contracts/substrate';
import {
  AuthorizationError,
  ExpiredSessionError,
  FrameTooLargeError,
  IntegrityError,
  LimitExceededError,
  MalformedFrameError,
  ServiceFailedError,
  SessionHijackError,
  SessionLimitError,
  SessionOverflowError,
  StoppedError,
  TimeoutError,
  UnreplicableRequestError,
  UnavailableError,
  UnknownSessionError,
  UnknownSubstrateError,
  VclError,
} from '../errors';
import type { ServiceBackend } from './backend';
import type { LinkConnection, LinkListener, LinkTransport } from './link';
import {
  DivergenceMonitor,
  STATE_DIGEST_SESSION,
  type DivergenceOptions,
  type DivergenceReport,
  type DivergenceStatus,
} from './divergence';
import { decodeClientFrame, encodeMemberFrame, type MemberAddress, type MemberFrame } from './link-frames';
import { OutputCache, type OutputChunk } from './output-cache';
import { decodeSessionEvent, encodeSessionEvent, type SessionEvent, type SessionId } from './session-events';
import { shortSessionId } from './session-id';
import { ConnectionLimiter, DEFAULT_LIMITS, LimitReport } from './connection-limits';
import { RateLimitedLog } from '../runtime/rate-limited-log';
import { SessionTable, type Applied, type SessionRecord } from './session-table';
import type { Recovery, RecoveryHost, RecoveryStatus } from './recovery/recovery';
import type { CacheState, LoggedEvent, TableState } from './recovery/recovery-state';

/** Lets every principal in; the default when no `Authenticator` is configured. */
export const permissiveAuthenticator: Authenticator = {
  authenticate: async (peer) => ({ id: peer.claimedId ?? 'anonymous', kind: peer.kind }),
};
/** Allows everything; the default when no `Authorizer` is configured. */
export const permissiveAuthorizer: Authorizer = { authorize: () => ({ allow: true }) };
/** Records nothing; the default when no `Auditor` is configured. */
export const silentAuditor: Auditor = { audit: () => undefined };

/** What the service-side interceptor uses of a substrate. */
export type ServiceSideSubstrate = Pick<
  Substrate,
  'name' | 'pattern' | 'responseFramer' | 'errorResponse' | 'describeRequest' | 'execution' | 'digestView'
>;

/** One substrate a member serves, under the name its sessions carry in OPEN/HELLO. */
export interface ServedSubstrate {
  /** The name sessions carry (the stack's `substrates[].name`; default the substrate's own name). */
  readonly name: string;
  /** The substrate: pattern, response framer, `errorResponse` and `describeRequest`. */
  readonly substrate: ServiceSideSubstrate;
  /** Where this substrate's ordered requests are applied (its own service target). */
  readonly backend: ServiceBackend;
  /**
   * A stream substrate's sessions policy (the stack's `substrates[].sessions`): `one-at-a-time`
   * makes the group refuse an OPEN while another session of it is open. Default none.
   */
  readonly sessions?: SessionsPolicy;
}

/** Options of a `ServiceInterceptor`. */
export interface ServiceInterceptorOptions {
  /** This member's id. */
  readonly self: MemberId;
  /** This member's ordering group member; the interceptor sets its deliver and view handlers. */
  readonly ordering: OrderingProtocol;
  /**
   * The substrate, when the member serves one: its pattern and response framer (and `errorResponse`
   * for denied requests). Required unless `substrates` is given.
   */
  readonly substrate?: ServiceSideSubstrate;
  /** Where `substrate`'s ordered requests are applied: the local service (external) or the program (internal). */
  readonly backend?: ServiceBackend;
  /**
   * Several substrates in one stack: each session is served by the one its OPEN names; a session
   * that names none (an older client) gets the first. Replaces `substrate` and `backend`.
   * Requests of every substrate go through the one total order and the one dispatcher.
   */
  readonly substrates?: readonly ServedSubstrate[];
  /** Accepts client-side interceptor links. */
  readonly transport: LinkTransport;
  /** Where to accept them. */
  readonly listen: { readonly host: string; readonly port: number };
  /** Client addresses of every configured member (told to clients, filtered by the view). */
  readonly members: readonly MemberAddress[];
  /** Time. */
  readonly clock: Clock;
  /** Where it logs. */
  readonly logger: Logger;
  /** Authenticates client-side interceptors at session open and resume. Default: everyone is `anonymous`. */
  readonly authenticator?: Authenticator;
  /** Checked at session open and before each request enters the total order. Default: allow all. */
  readonly authorizer?: Authorizer;
  /** Audit trail. Default: none. */
  readonly auditor?: Auditor;
  /**
   * Unacknowledged output per session that a client may leave (a slow consumer). Past it a
   * request-response session is closed with reason `overflow`, decided in the total order (the
   * dispatcher never waits for a full cache, so one client never stalls the others); its cache
   * holds at most twice this bound meanwhile. A stream session's service is read no further until
   * the client acknowledges (its conversation is its own). Default 1 MiB.
   */
  readonly maxCacheBytes?: number;
  /** Keep-alive interval on client links. Default 200 ms. */
  readonly heartbeatMs?: number;
  /** A client link silent this long is dropped. Default 1000 ms. */
  readonly linkTimeoutMs?: number;
  /** A session with no client link anywhere and no event this long is closed (in total order). Default 60 s. */
  readonly sessionTimeoutMs?: number;
  /** Replica recovery (`service.recovery`): sets the ordering member's state-transfer hook. Default: none set. */
  readonly recovery?: Recovery;
  /** Divergence detection (hash every output unit, compare in the total order). Default off. */
  readonly divergence?: DivergenceOptions;
  /** Limits of the client port (the stack's `limits:`); each field defaults to `DEFAULT_LIMITS`. */
  readonly limits?: ClientPortLimits;
  /**
   * The service's state digest, compared like output every `every` requests of the group (needs
   * `divergence` and request-response substrates only). Default none.
   */
  readonly stateDigest?: StateDigestOptions;
}

/** Limits of a member's client port. */
export interface ClientPortLimits {
  /** Largest frame before the session is open (needs a link that supports `setMaxFrameBytes`). Default 64 KiB. */
  readonly preAuthFrameBytes?: number;
  /** Largest frame once the session is open. Default 16 MiB. */
  readonly frameBytes?: number;
  /** Client links at once. Default 2048. */
  readonly maxConnections?: number;
  /** Client links at once from one remote address. Default 512. */
  readonly maxConnectionsPerAddress?: number;
  /** A link whose session is not open this long after it connected is refused. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
}

/** Options of state digests (`ServiceInterceptorOptions.stateDigest`). */
export interface StateDigestOptions {
  /** Requests of the group (over all sessions, in delivery order) between two digests; a positive integer. */
  readonly every: number;
  /**
   * Returns the service's state digest (any bytes). Called only when every request up to the
   * digest point has been answered and none after it has reached the service.
   */
  readonly digest: () => Promise<Uint8Array>;
}

/** One session as `vcl status` shows it. */
export interface SessionStatus {
  /** Session id. */
  readonly id: SessionId;
  /** The member its client-side interceptor is attached to. */
  readonly attached: MemberId;
  /** The substrate it belongs to, when its OPEN named one. */
  readonly substrate?: string;
  /** Highest request number applied. */
  readonly lastInSeq: number;
  /** Output position acknowledged by the client. */
  readonly ackedOut: number;
  /** Output produced by this member's service. */
  readonly produced: number;
  /** Bytes cached here. */
  readonly cacheBytes: number;
  /** Whether this member's service connection is paused because the cache is full. */
  readonly backpressure: boolean;
}

/** Logged events a joiner applies between two turns of the event loop while it replays. */
const REPLAY_SLICE = 1000;

/** Counters for `/metrics`. */
export interface ServiceInterceptorCounters {
  /** Session events this member broadcast and saw ordered. */
  ordered: number;
  /** Session events delivered here. */
  deliveries: number;
  /** Views installed. */
  viewChanges: number;
  /** Sessions re-attached here after a fail-over. */
  failoversServed: number;
  /** Requests applied to the service. */
  requests: number;
  /** Duplicate or stale requests dropped. */
  duplicatesDropped: number;
  /** Bad frames or events refused. */
  badInput: number;
  /** Client links and frames refused at a limit (connections, frame size, handshake time). */
  limitRefusals: number;
  /** Sessions closed because their client left more unacknowledged output than `maxCacheBytes`. */
  overflows: number;
}

/** What `status()` reports. */
export interface ServiceInterceptorStatus {
  /** This member. */
  readonly self: MemberId;
  /** Installed view. */
  readonly view?: View;
  /** Open sessions, in opening order. */
  readonly sessions: readonly SessionStatus[];
  /** Bytes cached over all sessions. */
  readonly cacheBytes: number;
  /** Client links connected here. */
  readonly links: number;
  /** Counters. */
  readonly counters: Readonly<ServiceInterceptorCounters>;
  /** Replica recovery: catching up or live, and the figures of the last rejoin. */
  readonly recovery?: RecoveryStatus;
  /** Divergence detection, when on. */
  readonly divergence?: DivergenceStatus;
}

type LinkState = 'handshake' | 'pending' | 'attached' | 'closed';

interface ClientLink {
  readonly link: LinkConnection;
  state: LinkState;
  session?: SessionId;
  /** The substrate its OPEN/HELLO named. */
  served?: ServedSubstrate;
  attempt: number;
  principal?: Principal;
  /** Output the client already has; nothing at or below it is sent again. */
  sentOut: number;
  lastRecv: number;
  lastSend: number;
  /** When it connected (handshake timeout). */
  readonly acceptedAt: number;
  /** Counted by the connection limiter (released when it goes). */
  admitted: boolean;
  /** Frames waiting behind an asynchronous authorization, so they reach the total order in order. */
  queue?: Promise<void>;
}

/**
 * The service-side interceptor: one per node, a member of the ordering group.
 *
 * It accepts client-side interceptor links, submits their session events to the total order and
 * applies delivered events to the local service. Every member applies the same events in the same
 * order, so every replica goes through the same state transitions; only the member a client is
 * attached to sends that client its output, from a cache that every member keeps alike.
 */
export class ServiceInterceptor implements Startable {
  /** Counters for metrics. */
  readonly counters: ServiceInterceptorCounters = {
    ordered: 0,
    deliveries: 0,
    viewChanges: 0,
    failoversServed: 0,
    requests: 0,
    duplicatesDropped: 0,
    badInput: 0,
    limitRefusals: 0,
    overflows: 0,
  };

  private readonly table = new SessionTable({
    oneAtATime: (name) => {
      const x = this.servedFor(name);
      return x?.substrate.pattern === 'stream' && x.sessions === 'one-at-a-time';
    },
  });
  private readonly local = new Map<SessionId, LocalSession>();
  private readonly links = new Set<ClientLink>();
  private readonly attachedLinks = new Map<SessionId, ClientLink>();
  private readonly pending = new Map<SessionId, ClientLink>();
  private readonly expiring = new Map<SessionId, number>();
  /** Overflow closes proposed: the ack they were conditional on (-1: unconditional). */
  private readonly overflowProposed = new Map<SessionId, number>();
  private readonly dispatcher: Dispatcher;
  private readonly divergence: DivergenceMonitor | undefined;
  private readonly log: Logger;
  private readonly authenticator: Authenticator;
  private readonly authorizer: Authorizer;
  private readonly auditor: Auditor;
  private readonly maxCacheBytes: number;
  private readonly heartbeatMs: number;
  private readonly linkTimeoutMs: number;
  private readonly sessionTimeoutMs: number;
  /** Warnings a client can trigger, rate-limited. */
  private readonly peerLog: RateLimitedLog;
  private readonly limitReport: LimitReport;
  private readonly limiter: ConnectionLimiter;
  private readonly preAuthFrameBytes: number;
  private readonly frameBytes: number;
  private readonly handshakeTimeoutMs: number;
  private listener: LinkListener | undefined;
  private ticker: Timer | undefined;
  private currentView: View | undefined;
  private attempts = 0;
  private stopped = false;
  private readonly served: readonly ServedSubstrate[];
  private readonly servedByName = new Map<string, ServedSubstrate>();

  constructor(private readonly options: ServiceInterceptorOptions) {
    this.log = options.logger.child({ component: 'service-interceptor', member: options.self });
    this.served =
      options.substrates ??
      (options.substrate && options.backend
        ? [{ name: options.substrate.name, substrate: options.substrate, backend: options.backend }]
        : []);
    if (this.served.length === 0)
      throw new VclError('a service-side interceptor needs a substrate and backend, or substrates');
    for (const x of this.served) {
      if (this.servedByName.has(x.name)) throw new VclError(`two served substrates named "${x.name}"`);
      this.servedByName.set(x.name, x);
    }
    this.authenticator = options.authenticator ?? permissiveAuthenticator;
    this.authorizer = options.authorizer ?? permissiveAuthorizer;
    this.auditor = options.auditor ?? silentAuditor;
    this.maxCacheBytes = options.maxCacheBytes ?? 1024 * 1024;
    this.heartbeatMs = options.heartbeatMs ?? 200;
    this.linkTimeoutMs = options.linkTimeoutMs ?? 1000;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 60_000;
    this.dispatcher = new Dispatcher(this.log);
    this.peerLog = new RateLimitedLog(this.log, { clock: options.clock });
    this.limitReport = new LimitReport(this.peerLog, options.self, this.auditor);
    const limits = options.limits ?? {};
    this.preAuthFrameBytes = limits.preAuthFrameBytes ?? DEFAULT_LIMITS.preAuthFrameBytes;
    this.frameBytes = limits.frameBytes ?? DEFAULT_LIMITS.frameBytes;
    this.handshakeTimeoutMs = limits.handshakeTimeoutMs ?? DEFAULT_LIMITS.handshakeTimeoutMs;
    this.limiter = new ConnectionLimiter(
      {
        maxConnections: limits.maxConnections ?? DEFAULT_LIMITS.maxConnections,
        maxConnectionsPerAddress: limits.maxConnectionsPerAddress ?? DEFAULT_LIMITS.maxConnectionsPerAddress,
      },
      `member ${options.self} client port`,
      this.limitReport,
    );
    if (options.stateDigest) {
      const every = options.stateDigest.every;
      if (!Number.isSafeInteger(every) || every < 1)
        throw new VclError(`stateDigest.every must be a positive integer, got ${every}`);
      if (!options.divergence) throw new VclError('stateDigest needs divergence detection (divergence option)');
      const stream = this.served.find((x) => x.substrate.pattern !== 'request-response');
      if (stream)
        throw new VclError(
          `stateDigest needs request-response substrates: "${stream.name}" is a stream, where the service is never known to be quiet`,
        );
    }
    this.divergence = options.divergence
      ? new DivergenceMonitor({
          ...options.divergence,
          self: options.self,
          unit: this.served[0]!.substrate.pattern === 'request-response' ? 'request' : 'block',
          unitOf: (session) =>
            this.servedFor(this.table.get(session)?.substrate)?.substrate.pattern === 'request-response'
              ? 'request'
              : 'block',
          broadcast: (event) => options.ordering.broadcast(encodeSessionEvent(event)),
          members: options.ordering.view()?.members ?? options.members.map((m) => m.id),
          logger: this.log,
          auditor: this.auditor,
          appliedIn: (session) =>
            session === STATE_DIGEST_SESSION ? this.table.requestsApplied : this.table.get(session)?.lastInSeq,
        })
      : undefined;
    this.serviceFailed = new Promise((resolve) => (this.resolveServiceFailed = resolve));
    // Handlers are set at construction so no delivery can happen before the engine sees it.
    options.ordering.onDeliver((d) => this.deliver(d));
    options.ordering.onView((v) => this.installView(v));
    if (options.recovery) {
      options.recovery.bind(this.recoveryHost());
      options.ordering.setStateTransfer(options.recovery.transfer);
    }
  }

  /**
   * Resolves when divergence detection finds this member's replica diverged under the `evict`
   * policy; the owner then stops the member. Never resolves otherwise.
   */
  get evicted(): Promise<DivergenceReport> {
    return this.divergence?.evicted ?? new Promise<DivergenceReport>(() => undefined);
  }

  /**
   * Resolves once this member's service is gone (a conversation broke or ended unasked and a fresh
   * dial is refused): the replica cannot follow the total order any more, so the owner stops the
   * member and its clients fail over. Never resolves otherwise.
   */
  readonly serviceFailed: Promise<ServiceFailedError>;
  private resolveServiceFailed: ((e: ServiceFailedError) => void) | undefined;
  private serviceDown = false;

  /** The address client-side interceptors connect to (after `start`). */
  get address(): { host: string; port: number } | undefined {
    return this.listener && { host: this.listener.host, port: this.listener.port };
  }

  /** Starts accepting client-side interceptor links. */
  async start(): Promise<void> {
    if (this.listener) return;
    this.stopped = false;
    this.listener = await this.options.transport.listen(this.options.listen.host, this.options.listen.port, (link) =>
      this.accept(link),
    );
    this.currentView ??= this.options.ordering.view();
    this.ticker = this.options.clock.setTimer(this.heartbeatMs, () => this.tick());
    this.log.info({ host: this.listener.host, port: this.listener.port }, 'service interceptor listening');
  }

  /** Stops accepting, drops every link and closes every service conversation. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.ticker?.cancel();
    this.peerLog.flush();
    this.divergence?.stop();
    for (const l of [...this.links]) this.dropLink(l);
    await this.listener?.close();
    this.listener = undefined;
    for (const s of this.local.values()) s.dispose();
    this.local.clear();
    this.dispatcher.clear();
  }

  /** A snapshot for `vcl status`. */
  status(): ServiceInterceptorStatus {
    const sessions = this.table.list().map((r): SessionStatus => {
      const l = this.local.get(r.id);
      return {
        id: r.id,
        attached: r.attached,
        ...(r.substrate !== undefined ? { substrate: r.substrate } : {}),
        lastInSeq: r.lastInSeq,
        ackedOut: r.ackedOut,
        produced: l?.cache.produced ?? 0,
        cacheBytes: l?.cache.bytes ?? 0,
        backpressure: l?.paused ?? false,
      };
    });
    return {
      self: this.options.self,
      ...(this.currentView ? { view: this.currentView } : {}),
      sessions,
      cacheBytes: sessions.reduce((n, s) => n + s.cacheBytes, 0),
      links: this.links.size,
      counters: { ...this.counters },
      ...(this.options.recovery ? { recovery: this.options.recovery.status() } : {}),
      ...(this.divergence ? { divergence: this.divergenceStatus(this.divergence) } : {}),
    };
  }

  private divergenceStatus(divergence: DivergenceMonitor): DivergenceStatus {
    const sd = this.options.stateDigest;
    return {
      ...divergence.status(),
      ...(sd
        ? {
            stateDigest: {
              every: sd.every,
              requests: this.table.requestsApplied,
              taking: this.takingStateDigests,
              open: divergence.openStateComparisons,
            },
          }
        : {}),
    };
  }

  // ---- client links -------------------------------------------------------------------------

  private accept(link: LinkConnection): void {
    if (this.stopped) {
      link.destroy();
      return;
    }
    const now = this.options.clock.now();
    const l: ClientLink = {
      link,
      state: 'handshake',
      attempt: 0,
      sentOut: 0,
      lastRecv: now,
      lastSend: now,
      acceptedAt: now,
      admitted: false,
    };
    this.links.add(l);
    const over = this.limiter.admit(link.remote);
    if (over) {
      // Refused with a typed error frame (retryable: another member may have room), never a silent reset.
      this.counters.limitRefusals++;
      this.refuse(l, over, false, false);
      return;
    }
    l.admitted = true;
    // Until the session is open the peer is unproven: a small frame is all it may send.
    link.setMaxFrameBytes?.(this.preAuthFrameBytes);
    link.onFrame((frame) => this.onFrame(l, frame));
    link.onInvalid((error) => {
      if (error instanceof FrameTooLargeError) {
        this.counters.limitRefusals++;
        this.limitReport.refused(link.remote, error);
      }
      if (error instanceof IntegrityError) {
        // A frame that fails its integrity check condemns the link, not the session: whoever
        // tampered with it is on the path, not (necessarily) the client. Not fatal, so the
        // client-side interceptor reconnects (here or elsewhere) and resumes with a HELLO.
        this.auditor.audit({
          type: 'auth.failure',
          member: this.options.self,
          reason: `client link integrity: ${error.message}`,
          details: { remote: link.remote, ...(l.session !== undefined ? { session: shortSessionId(l.session) } : {}) },
        });
        return this.refuse(l, error, false);
      }
      this.refuse(l, error, true);
    });
    link.onClose((error) => {
      if (error) this.log.debug({ remote: link.remote, err: error.message }, 'client link broke');
      this.forget(l);
    });
    this.log.debug({ remote: link.remote }, 'client link accepted');
  }

  private onFrame(l: ClientLink, bytes: LinkFrame): void {
    if (l.state === 'closed') return;
    l.lastRecv = this.options.clock.now();
    let frame;
    try {
      frame = decodeClientFrame(bytes);
    } catch (error) {
      this.refuse(l, error as VclError, true);
      return;
    }
    switch (frame.type) {
      case 'ping':
        return;
      case 'open':
      case 'hello':
        if (l.state !== 'handshake')
          return this.refuse(
            l,
            new MalformedFrameError(`${frame.type} on a link that already carries a session`),
            true,
          );
        if (frame.session === STATE_DIGEST_SESSION)
          return this.refuse(
            l,
            new MalformedFrameError(`session id ${STATE_DIGEST_SESSION} is reserved (state digests)`),
            true,
          );
        l.served = this.servedFor(frame.substrate);
        if (!l.served)
          return this.refuse(
            l,
            new UnknownSubstrateError(
              `session ${shortSessionId(frame.session)}: unknown substrate "${frame.substrate}"; member ${this.options.self} serves ${this.served.map((x) => x.name).join(', ')}`,
            ),
            true,
          );
        l.state = 'pending';
        l.session = frame.session;
        l.sentOut = frame.lastOutSeq;
        void this.handshake(l, frame.type, frame.session, frame.credentials, frame.lastInSeq);
        return;
      case 'data':
      case 'ack':
      case 'close':
      case 'shutdown':
        if (l.state !== 'attached' || l.session === undefined)
          return this.refuse(l, new MalformedFrameError(`${frame.type} before the session is open`), true);
        const session = l.session;
        this.inOrder(
          l,
          frame.type === 'data'
            ? () => this.request(l, session, frame.inSeq, frame.ackOutSeq, frame.bytes)
            : frame.type === 'ack'
              ? () => this.submit(l, { type: 'ack', session, outSeq: frame.outSeq })
              : frame.type === 'shutdown'
                ? () => this.submit(l, { type: 'shutdown', session, inSeq: frame.inSeq })
                : () => this.submit(l, { type: 'close', session, reason: 'client', ifLastEvent: 0 }),
        );
        return;
    }
  }

  private async handshake(
    l: ClientLink,
    kind: 'open' | 'hello',
    session: SessionId,
    credentials: Uint8Array,
    lastInSeq: number,
  ): Promise<void> {
    try {
      const tlsIdentity = l.link.identity?.tlsIdentity;
      const principal = await this.authenticator.authenticate(
        { kind: 'client', address: l.link.remote, ...(tlsIdentity !== undefined ? { tlsIdentity } : {}) },
        credentials.length ? credentials : undefined,
      );
      const decision = await this.authorizer.authorize(principal, {
        substrate: l.served!.name,
        type: 'connect',
      });
      if (!decision.allow) {
        this.auditor.audit({
          type: 'authz.denied',
          member: this.options.self,
          principal: principal.id,
          reason: decision.reason,
        });
        return this.refuse(
          l,
          new AuthorizationError(`session ${shortSessionId(session)}: connect denied: ${decision.reason}`),
          true,
        );
      }
      this.auditor.audit({ type: 'auth.success', member: this.options.self, principal: principal.id });
      l.principal = principal;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.auditor.audit({
        type: 'auth.failure',
        member: this.options.self,
        reason,
        details: { remote: l.link.remote },
      });
      return this.refuse(l, error instanceof VclError ? error : new VclError(reason), true);
    }
    if (l.state !== 'pending') return;
    if (!this.currentView?.primary)
      return this.refuse(l, new UnavailableError(`member ${this.options.self} is not in a primary view`), false);
    if (this.serviceDown) return this.refuse(l, new UnavailableError(`service on ${this.options.self} failed`), false);
    const known = this.table.get(session);
    if (known && known.principal !== l.principal!.id)
      // Refused before anything is ordered: the owner's link and the session are left alone.
      return this.hijack(l, session, l.principal!.id, known.principal, false);
    if (kind === 'hello' && known && this.servedFor(known.substrate) !== l.served)
      // Refused before the attach is ordered, so the session's own link is left alone (the check
      // in `welcome` covers a session this member has not seen opened yet).
      return this.refuse(
        l,
        new UnknownSubstrateError(
          `session ${shortSessionId(session)} belongs to substrate "${known.substrate ?? this.served[0]!.name}", not "${l.served!.name}"`,
        ),
        true,
      );
    // A member still installing the group's state would serve a service that is behind: send the
    // client elsewhere (retryable), as a minority does.
    if (this.options.recovery && !this.options.recovery.accepting)
      return this.refuse(l, new UnavailableError(`member ${this.options.self} is catching up with the group`), false);
    const old = this.pending.get(session) ?? this.attachedLinks.get(session);
    if (old && old !== l) this.dropLink(old);
    l.attempt = ++this.attempts;
    this.pending.set(session, l);
    this.log.debug({ session, kind, remote: l.link.remote, lastOutSeq: l.sentOut, lastInSeq }, 'session handshake');
    this.submit(
      l,
      kind === 'open'
        ? {
            type: 'open',
            session,
            origin: this.options.self,
            attempt: l.attempt,
            principal: l.principal!.id,
            substrate: l.served!.name,
          }
        : { type: 'attach', session, origin: this.options.self, attempt: l.attempt, principal: l.principal!.id },
    );
  }

  /**
   * A HELLO or OPEN by `principal` for a session `owner` opened: refused (fatal) and audited.
   * `ordered`: found by the total order (every member records it) rather than before ordering.
   */
  private hijack(
    l: ClientLink | undefined,
    session: SessionId,
    principal: string,
    owner: string,
    ordered: boolean,
  ): void {
    const shown = shortSessionId(session);
    this.auditOrdered({
      type: 'session.hijack',
      member: this.options.self,
      principal,
      reason: `session ${shown} belongs to another principal`,
      details: { session: shown, owner, ordered, ...(l ? { remote: l.link.remote } : {}) },
    });
    if (l) this.refuse(l, new SessionHijackError(`session ${shown} belongs to another principal`), true);
  }

  /**
   * Runs `step` after the link's earlier frames: a link's requests, acks and close must enter the
   * total order in the order the client sent them (sender FIFO), even when the authorizer answers
   * asynchronously; otherwise a later request would be ordered first and dropped as a gap.
   */
  private inOrder(l: ClientLink, step: () => void | Promise<void>): void {
    const run = l.queue ? l.queue.then(step) : step();
    if (!run) return;
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    l.queue = settled;
    void settled.then(() => {
      if (l.queue === settled) l.queue = undefined;
    });
  }

  private request(
    l: ClientLink,
    session: SessionId,
    inSeq: number,
    ackOutSeq: number,
    bytes: Uint8Array,
  ): void | Promise<void> {
    const served = l.served!;
    const access: AccessRequest = { substrate: served.name, type: 'request', ...this.describe(served, bytes) };
    const decision = this.authorizer.authorize(l.principal!, access);
    if (decision instanceof Promise)
      return decision.then(
        (verdict) => this.authorized(l, session, inSeq, ackOutSeq, bytes, verdict),
        (error: unknown) => this.refuse(l, error instanceof Error ? error : new VclError(String(error)), false),
      );
    this.authorized(l, session, inSeq, ackOutSeq, bytes, decision);
  }

  /** The substrate's reading of a request for the policy; nothing for stream bytes or unreadable input. */
  private describe(served: ServedSubstrate, bytes: Uint8Array): Pick<AccessRequest, 'method' | 'path' | 'command'> {
    const substrate = served.substrate;
    if (substrate.pattern !== 'request-response' || !substrate.describeRequest) return {};
    try {
      return substrate.describeRequest(bytes);
    } catch {
      return {};
    }
  }

  private authorized(
    l: ClientLink,
    session: SessionId,
    inSeq: number,
    ackOutSeq: number,
    bytes: Uint8Array,
    verdict: AccessDecision,
  ): void {
    if (verdict.allow) {
      this.submit(l, { type: 'data', session, inSeq, ackOutSeq, bytes });
      return;
    }
    this.auditor.audit({
      type: 'authz.denied',
      member: this.options.self,
      principal: l.principal!.id,
      reason: verdict.reason,
      details: { session, inSeq },
    });
    this.peerLog.warn({ session: shortSessionId(session), inSeq, reason: verdict.reason }, 'request denied');
    const substrate = l.served!.substrate;
    const canAnswer =
      substrate.pattern === 'request-response' &&
      substrate.errorResponse?.(new AuthorizationError(verdict.reason)) !== undefined;
    // The denial is ordered too, so every member advances the request numbering alike.
    this.submit(
      l,
      canAnswer
        ? { type: 'deny', session, inSeq, reason: verdict.reason }
        : { type: 'close', session, reason: 'denied', ifLastEvent: 0 },
    );
  }

  private submit(l: ClientLink | undefined, event: SessionEvent, failed?: () => void): void {
    this.options.ordering.broadcast(encodeSessionEvent(event)).then(
      () => void this.counters.ordered++,
      (error: unknown) => {
        if (this.stopped) return;
        failed?.();
        this.log.warn(
          { session: shortSessionId(event.session), event: event.type, err: (error as Error).message },
          'broadcast failed',
        );
        if (l)
          this.refuse(
            l,
            error instanceof StoppedError ? new UnavailableError('member stopping') : (error as VclError),
            false,
          );
      },
    );
  }

  /**
   * Sends a typed error frame, logs it (rate-limited: a client can trigger it) and closes the link;
   * the member goes on serving the rest. `logged`: already reported (a limit).
   */
  private refuse(l: ClientLink, error: VclError | Error, fatal: boolean, log = true): void {
    if (l.state === 'closed') return;
    this.counters.badInput++;
    const code = error instanceof VclError ? error.code : 'VCL_ERROR';
    if (log)
      this.peerLog.warn(
        { remote: l.link.remote, session: l.session && shortSessionId(l.session), code, err: error.message },
        'client link refused',
      );
    this.send(l, { type: 'error', code, message: error.message, fatal });
    l.link.close();
    this.forget(l);
  }

  private dropLink(l: ClientLink): void {
    if (l.state === 'closed') return;
    l.link.destroy();
    this.forget(l);
  }

  private forget(l: ClientLink): void {
    if (l.state === 'closed') return;
    l.state = 'closed';
    this.links.delete(l);
    if (l.admitted) this.limiter.release(l.link.remote);
    if (l.session !== undefined) {
      if (this.pending.get(l.session) === l) this.pending.delete(l.session);
      if (this.attachedLinks.get(l.session) === l) this.attachedLinks.delete(l.session);
    }
  }

  private send(l: ClientLink, frame: MemberFrame): void {
    if (l.state === 'closed') return;
    l.lastSend = this.options.clock.now();
    l.link.send(encodeMemberFrame(frame));
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.options.clock.now();
    for (const l of [...this.links]) {
      if ((l.state === 'handshake' || l.state === 'pending') && now - l.acceptedAt > this.handshakeTimeoutMs) {
        const error = new LimitExceededError(
          `client link from ${l.link.remote}: no session open within ${this.handshakeTimeoutMs} ms (limits.handshakeTimeoutMs)`,
        );
        this.counters.limitRefusals++;
        this.limitReport.refused(l.link.remote, error);
        this.refuse(l, error, false, false);
      } else if (now - l.lastRecv > this.linkTimeoutMs && l.state === 'handshake') {
        // Not one whole frame yet (a trickle, or nothing): refused with a reason, not reset.
        const error = new TimeoutError(
          `client link from ${l.link.remote}: no whole frame within ${this.linkTimeoutMs} ms (timeouts.suspectMs)`,
        );
        this.counters.limitRefusals++;
        this.limitReport.refused(l.link.remote, error);
        this.refuse(l, error, false, false);
      } else if (now - l.lastRecv > this.linkTimeoutMs) {
        this.peerLog.info(
          { remote: l.link.remote, session: l.session && shortSessionId(l.session) },
          'client link silent, dropped',
        );
        this.dropLink(l);
      } else if (now - l.lastSend >= this.heartbeatMs * 0.9) this.send(l, { type: 'ping' });
    }
    this.expireIdle(now);
    // Responsibility moves with fail-overs and views: propose again where a cache is still over.
    for (const [id, s] of this.local) if (s.requestResponse && s.cache.full) this.overflowing(id, s.truncated);
    this.ticker = this.options.clock.setTimer(this.heartbeatMs, () => this.tick());
  }

  /**
   * Session expiry is decided in the total order: the responsible member (the one the session is
   * attached to, or the view's first member if that one left) broadcasts a CLOSE that applies only
   * if nothing happened to the session since, so a racing fail-over wins.
   */
  private expireIdle(now: number): void {
    const view = this.currentView;
    if (!view?.primary) return;
    for (const r of this.table.list()) {
      if (this.attachedLinks.has(r.id) || this.pending.has(r.id)) continue;
      if (!this.responsibleFor(r)) continue;
      const s = this.local.get(r.id);
      if (!s || now - s.lastActivity < this.sessionTimeoutMs) continue;
      if (this.expiring.get(r.id) === r.lastEventAt) continue;
      this.expiring.set(r.id, r.lastEventAt);
      this.log.info({ session: shortSessionId(r.id), idleMs: Math.round(now - s.lastActivity) }, 'session expired');
      this.submit(undefined, { type: 'close', session: r.id, reason: 'expired', ifLastEvent: r.lastEventAt });
    }
  }

  // ---- the ordered stream ---------------------------------------------------------------------

  private installView(view: View): void {
    this.currentView = view;
    this.options.recovery?.viewInstalled();
    this.counters.viewChanges++;
    this.divergence?.installView(view);
    this.auditor.audit({
      type: 'view.change',
      member: this.options.self,
      details: { view: view.id, members: [...view.members] },
    });
    this.log.info({ view: view.id, members: view.members, primary: view.primary }, 'view installed');
    for (const l of [...this.links]) {
      if (!view.primary) {
        // A minority blocks: send its clients elsewhere rather than let them wait on it.
        this.refuse(l, new UnavailableError(`member ${this.options.self} is not in a primary view`), false);
        continue;
      }
      if (l.state === 'attached') this.send(l, { type: 'members', view: view.id, members: this.viewAddresses() });
    }
  }

  private viewAddresses(): MemberAddress[] {
    const inView = new Set(this.currentView?.members ?? []);
    return this.options.members.filter((m) => inView.has(m.id));
  }

  private deliver(d: Delivery): void {
    const recovery = this.options.recovery;
    if (recovery) {
      if (recovery.refused) return;
      recovery.delivered(d.seq, d.payload);
    }
    this.applyOrdered(d);
    recovery?.applied(d.seq);
  }

  private applyOrdered(d: Pick<Delivery, 'seq' | 'sender' | 'payload'>): void {
    this.counters.deliveries++;
    let event: SessionEvent;
    try {
      event = decodeSessionEvent(d.payload);
    } catch (error) {
      // Every member fails to decode the same payload, so skipping it keeps the replicas alike.
      this.counters.badInput++;
      this.log.warn(
        { seq: d.seq, sender: d.sender, err: (error as Error).message },
        'undecodable ordered event skipped',
      );
      return;
    }
    if (event.type === 'digest') {
      if (!this.replaying) this.divergence?.deliver(d.sender, event, d.seq);
      return;
    }
    const applied = this.table.apply(event, d.seq);
    const s = this.local.get(event.session);
    if (s) s.lastActivity = this.options.clock.now();
    this.effect(applied);
    if (applied.kind === 'request') this.stateDigestPoint();
  }

  /** False once this member restored a state whose request count it does not know. */
  private takingStateDigests = true;

  /**
   * After the request that makes the group's count a multiple of `every` was handed to the
   * dispatcher: every member that delivers it opens the comparison here (the same view everywhere),
   * then holds later requests until the service has answered every earlier one, so the digest is
   * the state after exactly this many requests at every replica. A joiner replaying (or installed
   * past this point) neither opens nor takes it: the others compared it already.
   */
  private stateDigestPoint(): void {
    const sd = this.options.stateDigest;
    const divergence = this.divergence;
    if (!sd || !divergence || this.replaying || this.stopped || !this.takingStateDigests) return;
    const requests = this.table.requestsApplied;
    if (requests % sd.every !== 0) return;
    divergence.expectState(requests);
    const held = this.dispatcher.hold();
    void (async () => {
      const release = await held;
      const t0 = this.options.clock.now();
      let digest: Uint8Array;
      try {
        digest = await sd.digest();
      } catch (error) {
        divergence.stateDigestFailed(requests, error instanceof Error ? error : new Error(String(error)));
        return;
      } finally {
        release();
      }
      if (!this.stopped) divergence.stateDigest(requests, digest, this.options.clock.now() - t0);
    })();
  }

  private effect(a: Applied): void {
    switch (a.kind) {
      case 'opened': {
        const s = this.openLocal(a.session);
        this.auditOrdered({
          type: 'session.open',
          member: this.options.self,
          principal: a.session.principal,
          details: { session: shortSessionId(a.session.id) },
        });
        this.log.info({ session: shortSessionId(a.session.id), origin: a.origin }, 'session opened');
        if (a.origin === this.options.self) this.welcome(s, a.session, a.attempt, false);
        return;
      }
      case 'attached': {
        const s = this.localFor(a.session);
        if (a.origin === this.options.self) {
          this.welcome(s, a.session, a.attempt, true);
        } else {
          // The client moved to another member: a link still held here is stale (e.g. this
          // member was frozen and resumed).
          const stale = this.attachedLinks.get(a.session.id);
          if (stale) this.dropLink(stale);
        }
        return;
      }
      case 'refused': {
        const mine = a.origin === this.options.self ? this.pending.get(a.id) : undefined;
        const l = mine && mine.attempt === a.attempt ? mine : undefined;
        if (a.why === 'hijack') return this.hijack(l, a.id, a.principal ?? '?', a.owner ?? '?', true);
        if (!l) return;
        this.refuse(
          l,
          a.why === 'expired'
            ? new ExpiredSessionError(`session ${shortSessionId(a.id)} is closed or expired`)
            : a.why === 'busy'
              ? new SessionLimitError(
                  `session ${shortSessionId(a.id)} refused: substrate "${l.served?.name}" runs one session at a time (sessions: one-at-a-time) and another one is open`,
                )
              : new UnknownSessionError(`session ${shortSessionId(a.id)} is not known to the group`),
          true,
        );
        return;
      }
      case 'request': {
        const s = this.localFor(a.session);
        if (a.ack !== undefined) s.trim(a.ack);
        this.counters.requests++;
        s.input(a.bytes, a.inSeq);
        const l = this.attachedLinks.get(a.session.id);
        if (l) this.send(l, { type: 'ordered', inSeq: a.inSeq });
        return;
      }
      case 'denied': {
        const s = this.localFor(a.session);
        // The session's substrate comes from its ordered OPEN, so every member answers alike.
        const substrate = this.servedFor(a.session.substrate)?.substrate;
        s.injectResponse(substrate?.errorResponse?.(new AuthorizationError(a.reason)) ?? new Uint8Array(), a.inSeq);
        const l = this.attachedLinks.get(a.session.id);
        if (l) this.send(l, { type: 'ordered', inSeq: a.inSeq });
        return;
      }
      case 'dropped': {
        this.counters.duplicatesDropped++;
        if (a.ack !== undefined) this.localFor(a.session).trim(a.ack);
        this.log.debug({ session: a.session.id, inSeq: a.inSeq, why: a.why }, 'request dropped');
        return;
      }
      case 'acked':
        this.localFor(a.session).trim(a.outSeq);
        return;
      case 'input-ended':
        this.log.debug({ session: a.session.id, inSeq: a.session.lastInSeq }, 'client half-closed');
        this.localFor(a.session).endInput();
        return;
      case 'closed': {
        const s = this.local.get(a.session.id);
        this.local.delete(a.session.id);
        this.expiring.delete(a.session.id);
        this.overflowProposed.delete(a.session.id);
        if (a.reason === 'overflow') {
          this.counters.overflows++;
          this.auditOrdered({
            type: 'session.overflow',
            member: this.options.self,
            principal: a.session.principal,
            reason: `more than ${this.maxCacheBytes} bytes of output unacknowledged`,
            details: { session: a.session.id, ackedOut: a.session.ackedOut },
          });
        }
        this.divergence?.closed(a.session.id);
        s?.close();
        this.auditOrdered({
          type: 'session.close',
          member: this.options.self,
          principal: a.session.principal,
          reason: a.reason,
          details: { session: shortSessionId(a.session.id) },
        });
        this.log.info({ session: shortSessionId(a.session.id), reason: a.reason }, 'session closed');
        const l = this.attachedLinks.get(a.session.id) ?? this.pending.get(a.session.id);
        if (l) {
          this.send(
            l,
            a.reason === 'client'
              ? { type: 'closed' }
              : {
                  type: 'error',
                  code:
                    a.reason === 'expired'
                      ? 'VCL_EXPIRED_SESSION'
                      : a.reason === 'denied'
                        ? 'VCL_AUTHORIZATION'
                        : a.reason === 'overflow'
                          ? new SessionOverflowError('').code
                          : 'VCL_ERROR',
                  message:
                    a.reason === 'overflow'
                      ? `session closed: its client left more than ${this.maxCacheBytes} bytes of output unread (a slow consumer)`
                      : `session closed: ${a.reason}`,
                  fatal: true,
                },
          );
          l.link.close();
          this.forget(l);
        }
        return;
      }
      case 'ignored':
        this.log.debug({ session: a.id, why: a.why }, 'ordered event ignored');
        return;
    }
  }

  /** Audits an effect of an ordered event, once: not again when a joiner replays it. */
  private auditOrdered(event: Parameters<Auditor['audit']>[0]): void {
    if (!this.replaying) this.auditor.audit(event);
  }

  private replaying = false;

  /** The interceptor's side of replica recovery (see `RecoveryHost`). */
  private recoveryHost(): RecoveryHost {
    return {
      captureTable: () => {
        const table: TableState = this.table.exportState();
        // Sessions closed after the cut leave `local`, but their caches stay valid until the
        // (held) close reaches the dispatcher, so hold on to them now.
        const sessions = table.sessions.map((r) => [r.id, this.local.get(r.id)] as const);
        return {
          table,
          caches: () =>
            sessions.flatMap(([id, s]): CacheState[] =>
              s
                ? [
                    {
                      session: id,
                      produced: s.cache.produced,
                      acked: s.cache.acked,
                      ...(s.endedAt !== undefined ? { endedAt: s.endedAt } : {}),
                      chunks: s.cache.after(s.cache.acked),
                    },
                  ]
                : [],
            ),
        };
      },
      quiesce: () => this.dispatcher.hold(),
      restore: (table, caches) => {
        for (const s of this.local.values()) s.dispose();
        this.local.clear();
        // Requests still queued for the replaced sessions (a member re-admitted behind the cut)
        // are in the installed state already; left queued, they would wait forever on the
        // conversations just destroyed and stall every later request.
        this.dispatcher.clear();
        this.table.restoreState(table);
        if (table.requests === undefined && this.options.stateDigest) {
          // Points are counted from the group's start: without the count this member's would differ.
          this.takingStateDigests = false;
          this.log.warn(
            {},
            'the installed state has no request count (an older donor): this member takes no state digests until it restarts',
          );
        }
        const byId = new Map(caches.map((c) => [c.session, c]));
        for (const r of this.table.list()) {
          const s = this.openLocal(r);
          const c = byId.get(r.id);
          if (!c) continue;
          s.cache.restore(c.produced, c.acked, c.chunks);
          if (c.endedAt !== undefined) s.endedAt = c.endedAt;
        }
        this.joinedDivergence();
        // A member re-admitted with a state keeps its client links, but what they wait for was
        // ordered while it was out: answers now only in the restored caches, an attach ordered
        // before the cut. Send those clients to attach again; the HELLO's welcome resends exactly
        // what each one misses.
        const again = new UnavailableError(`member ${this.options.self} caught up by state transfer; attach again`);
        for (const l of [...this.links]) {
          if (l.state !== 'attached' && l.state !== 'pending') continue;
          this.log.info(
            { session: l.session && shortSessionId(l.session) },
            'client sent to attach again after a state transfer',
          );
          this.send(l, { type: 'error', code: again.code, message: again.message, fatal: false });
          l.link.close();
          this.forget(l);
        }
      },
      replay: async (events: readonly LoggedEvent[]) => {
        // Until the service has answered what is replayed, its output was hashed and compared
        // (divergence) when it was first produced: it is not shared again.
        this.replaying = true;
        try {
          // In slices, yielding between them: a joiner replaying a long log in one go would hold
          // its event loop, so its ordering member would miss heartbeats and tokens and be
          // suspected and excluded again. The plugin delivers nothing new until the install ends.
          for (let i = 0; i < events.length; i += REPLAY_SLICE) {
            if (i > 0) await new Promise<void>((r) => this.options.clock.setTimer(0, r));
            if (this.stopped) return;
            for (const e of events.slice(i, i + REPLAY_SLICE))
              this.applyOrdered({ seq: e.seq, sender: '(replay)', payload: e.payload });
          }
          (await this.dispatcher.hold())();
          this.joinedDivergence();
        } finally {
          this.replaying = false;
        }
      },
    };
  }

  /**
   * After a state install: this member never hashed the responses to the requests up to the cut
   * (they came with the state, or were replayed unhashed), so the others' hashes of them, ordered
   * after the cut, must not open comparisons here that would wait for it forever.
   */
  private joinedDivergence(): void {
    if (!this.divergence) return;
    for (const r of this.table.list())
      if (this.local.get(r.id)?.requestResponse) this.divergence.hashedFrom(r.id, r.lastInSeq + 1);
    // Sessions closed before the cut: their output was never produced here at all.
    for (const [id] of this.table.exportState().closed) this.divergence.hashedFrom(id, Number.MAX_SAFE_INTEGER);
  }

  private localFor(r: SessionRecord): LocalSession {
    return this.local.get(r.id) ?? this.openLocal(r);
  }

  private openLocal(r: SessionRecord): LocalSession {
    const served = this.servedFor(r.substrate);
    if (!served)
      this.log.error(
        { session: shortSessionId(r.id), substrate: r.substrate },
        'ordered session names a substrate this member does not serve (do the members share one stack?)',
      );
    const s = new LocalSession(r.id, served, this.maxCacheBytes, this.dispatcher, this.log, {
      output: (chunk) => this.forward(r.id, chunk),
      // Hashed after the output is on its way to the client, so detection never delays it.
      produced: (inSeq, bytes, offset) => {
        // A response is compared through the substrate's view of it (HTTP leaves out `Date`).
        const view = inSeq !== undefined ? served?.substrate.digestView : undefined;
        if (!this.replaying)
          this.divergence?.produced(r.id, inSeq, view ? view.call(served!.substrate, bytes) : bytes, offset);
      },
      ended: (outSeq) => {
        const l = this.attachedLinks.get(r.id);
        if (l) this.send(l, { type: 'end', outSeq });
      },
      failed: (error) => {
        // This replica's service broke on its own: send the client to a healthy member.
        const l = this.attachedLinks.get(r.id);
        if (l) this.refuse(l, new UnavailableError(`service on ${this.options.self} failed: ${error.message}`), false);
      },
      serviceGone: (error) => this.serviceGone(r.id, error),
      overflow: (truncated) => this.overflowing(r.id, truncated),
    });
    s.lastActivity = this.options.clock.now();
    this.local.set(r.id, s);
    return s;
  }

  private welcome(s: LocalSession, r: SessionRecord, attempt: number, resumed: boolean): void {
    const l = this.pending.get(r.id);
    if (!l || l.attempt !== attempt) return;
    // A session keeps the substrate its ordered OPEN named: a HELLO naming another would have its
    // requests authorized and described as that other substrate's.
    const own = this.servedFor(r.substrate);
    if (l.served !== own)
      return this.refuse(
        l,
        new UnknownSubstrateError(
          `session ${shortSessionId(r.id)} belongs to substrate "${own?.name ?? r.substrate}", not "${l.served?.name}"`,
        ),
        true,
      );
    // This replica's service already failed the session (e.g. it was down when the session opened):
    // it can never answer, so send the client on instead of leaving it waiting.
    if (s.failed)
      return this.refuse(l, new UnavailableError(`service on ${this.options.self} failed for session ${r.id}`), false);
    this.pending.delete(r.id);
    l.state = 'attached';
    // Authenticated and open: frames up to the stack's message bound from now on.
    l.link.setMaxFrameBytes?.(this.frameBytes);
    this.attachedLinks.set(r.id, l);
    this.send(l, {
      type: 'welcome',
      lastInSeq: r.lastInSeq,
      view: this.currentView?.id ?? 0,
      members: this.viewAddresses(),
    });
    // Output after what the client has, in order; anything older was acknowledged or is dropped
    // by the client-side interceptor.
    for (const chunk of s.cache.after(l.sentOut)) this.forwardTo(l, chunk);
    if (s.endedAt !== undefined) this.send(l, { type: 'end', outSeq: s.endedAt });
    if (resumed) {
      this.counters.failoversServed++;
      this.auditor.audit({
        type: 'failover.served',
        member: this.options.self,
        principal: r.principal,
        details: { session: shortSessionId(r.id) },
      });
      this.log.info(
        { session: shortSessionId(r.id), lastInSeq: r.lastInSeq, resentFrom: l.sentOut, cached: s.cache.produced },
        'fail-over served',
      );
    }
  }

  /**
   * This replica's service is gone: it can no longer apply what the group orders, so it must stop
   * serving at once (its clients fail over to members whose replicas applied everything) and its
   * owner takes it out of the group.
   */
  private serviceGone(session: SessionId, error: Error): void {
    if (this.serviceDown || this.stopped) return;
    this.serviceDown = true;
    const failure = new ServiceFailedError(
      `member ${this.options.self}: the service is gone (session ${session}: ${error.message}; a fresh dial is refused); this replica can no longer follow the total order`,
      { cause: error },
    );
    this.log.error({ session, err: error.message }, 'service failed: this replica leaves the group');
    this.auditor.audit({
      type: 'service.failed',
      member: this.options.self,
      reason: error.message,
      details: { session },
    });
    const away = new UnavailableError(`service on ${this.options.self} failed`);
    for (const l of [...this.links]) this.refuse(l, away, false);
    this.resolveServiceFailed?.(failure);
  }

  /**
   * A session's cache passed its bound here. Caches fill at different times at different members,
   * so the decision is made in the total order: the responsible member (as for expiry) proposes a
   * close that applies only if the client acknowledged nothing since (`ifAcked`), so every member
   * closes the session at the same point, or at none if the client read meanwhile. A member whose
   * cache passed twice the bound kept no more output and can never serve the session again: it
   * proposes an unconditional close.
   */
  private overflowing(id: SessionId, truncated: boolean): void {
    if (this.replaying || this.stopped) return;
    const r = this.table.get(id);
    if (!r || (!truncated && !this.responsibleFor(r))) return;
    const key = truncated ? -1 : r.ackedOut;
    const proposed = this.overflowProposed.get(id);
    if (proposed === key || proposed === -1) return;
    this.overflowProposed.set(id, key);
    this.log.warn(
      { session: shortSessionId(id), ackedOut: r.ackedOut, cacheBytes: this.local.get(id)?.cache.bytes, truncated },
      'session output over its bound: closing it (ordered)',
    );
    this.submit(
      undefined,
      {
        type: 'close',
        session: id,
        reason: 'overflow',
        ifLastEvent: 0,
        ...(truncated ? {} : { ifAcked: r.ackedOut }),
      },
      // Not ordered (the group was busy or changing views): the next tick proposes it again.
      () => this.overflowProposed.delete(id),
    );
  }

  /** The member that proposes ordered decisions for a session: the one it is attached to, else the view's first. */
  private responsibleFor(r: SessionRecord): boolean {
    const view = this.currentView;
    if (!view?.primary) return false;
    return (
      r.attached === this.options.self || (!view.members.includes(r.attached) && view.members[0] === this.options.self)
    );
  }

  /** The substrate a session named; none named means the first (clients from before the field). */
  private servedFor(name: string | undefined): ServedSubstrate | undefined {
    return name === undefined ? this.served[0] : this.servedByName.get(name);
  }

  private forward(session: SessionId, chunk: OutputChunk): void {
    const l = this.attachedLinks.get(session);
    if (l) this.forwardTo(l, chunk);
  }

  private forwardTo(l: ClientLink, chunk: OutputChunk): void {
    if (chunk.to <= l.sentOut) return;
    const from = Math.max(chunk.from, l.sentOut);
    const bytes = from > chunk.from ? chunk.bytes.subarray(from - chunk.from) : chunk.bytes;
    l.sentOut = chunk.to;
    this.send(l, { type: 'output', from, bytes });
  }
}

interface LocalSessionEvents {
  /**
   * The service conversation broke or ended although the session did not end it, and a fresh
   * dial of the service is refused: the service is gone.
   */
  serviceGone(error: Error): void;
  /**
   * A request-response session's cache passed its bound (`truncated`: passed twice the bound, and
   * this member stopped caching its output, so it can never serve the session again).
   */
  overflow(truncated: boolean): void;
  output(chunk: OutputChunk): void;
  /** `offset`: the output position of `bytes` (stream sessions: bytes since the session opened). */
  produced(inSeq: number | undefined, bytes: Uint8Array, offset: number): void;
  ended(outSeq: number): void;
  failed(error: Error): void;
}

/**
 * This member's side of one session: the conversation with the local service, the response
 * framer and the output cache. What it produces is numbered identically at every replica.
 */
class LocalSession {
  readonly cache: OutputCache;
  lastActivity = 0;
  endedAt: number | undefined;
  paused = false;
  /** Requests written to the service (request-response) and responses read back. */
  written = 0;
  responses = 0;
  /** The request numbers of the requests written to the service and not answered yet, oldest first. */
  private readonly answering: (number | undefined)[] = [];
  /** Consecutive requests may go to the service before the earlier ones are answered (`ExecutionTraits`). */
  readonly pipelining: boolean;
  /** Plans this session's requests in the total order (`ExecutionTraits.planner`). */
  private readonly planner: SessionPlanner | undefined;
  private readonly refusal: (reason: string) => Uint8Array;
  failed = false;
  /** The cache passed twice its bound: output is no longer kept (the session is being closed). */
  truncated = false;
  private conversation: Conversation | undefined;
  private readonly framer: Framer | undefined;
  private readonly early: Uint8Array[] = [];
  private readonly waiters: (() => void)[] = [];
  private closed = false;
  /** The ordered half-close was applied (the service's input ends after what precedes it). */
  private inputEnding = false;
  /** The conversation's input ended for the session's close; its output is dropped. */
  private finished = false;
  private disposed = false;
  private readonly abort = new AbortController();
  private readonly probe: () => Promise<boolean>;

  constructor(
    readonly id: SessionId,
    served: ServedSubstrate | undefined,
    maxCacheBytes: number,
    private readonly dispatcher: Dispatcher,
    private readonly log: Logger,
    private readonly events: LocalSessionEvents,
  ) {
    const rr = served?.substrate.pattern === 'request-response';
    this.probe = () => served?.backend.probe?.() ?? Promise.resolve(true);
    const execution = rr ? served.substrate.execution : undefined;
    this.pipelining = execution?.pipelining === true;
    this.planner = execution?.planner?.();
    this.refusal = (reason) =>
      served?.substrate.errorResponse?.(new UnreplicableRequestError(reason)) ?? new Uint8Array();
    this.cache = new OutputCache(rr ? 'message' : 'byte', maxCacheBytes);
    this.framer = rr ? served.substrate.responseFramer() : undefined;
    (served
      ? served.backend.open(id, this.abort.signal)
      : Promise.reject(
          new UnknownSubstrateError(`session ${shortSessionId(id)}: this member does not serve its substrate`),
        )
    ).then(
      (c) => this.ready(c),
      (error: unknown) => this.fail(error as Error),
    );
  }

  get requestResponse(): boolean {
    return this.framer !== undefined;
  }

  get isReady(): boolean {
    return this.conversation !== undefined || this.failed;
  }

  /**
   * An ordered request (or stream chunk) numbered `inSeq`. A request the substrate's planner
   * refuses is answered with the substrate's error reply at its place, at every member alike, and
   * never reaches the service. (`read` plans are applied as writes: see docs/execution.md.)
   */
  input(bytes: Uint8Array, inSeq?: number): void {
    if (this.requestResponse) {
      const plan = this.planner?.plan(bytes);
      if (plan?.kind === 'refuse') {
        this.log.info(
          { session: shortSessionId(this.id), inSeq, reason: plan.reason },
          'request refused: it cannot be replicated',
        );
        this.injectResponse(this.refusal(plan.reason), inSeq);
        return;
      }
      this.dispatcher.enqueue({ session: this, request: bytes, ...(inSeq !== undefined ? { inSeq } : {}) });
      return;
    }
    if (this.failed) return;
    if (this.conversation) this.conversation.write(bytes);
    else this.early.push(bytes);
  }

  /** A response that does not come from the service (a denied request), in request order. */
  injectResponse(bytes: Uint8Array, inSeq?: number): void {
    this.dispatcher.enqueue({ session: this, synthetic: bytes, ...(inSeq !== undefined ? { inSeq } : {}) });
  }

  /** Applies an ordered acknowledgement; resumes the service once the cache has room again. */
  trim(outSeq: number): void {
    this.cache.trim(outSeq);
    if (!this.cache.full && this.paused) {
      this.paused = false;
      this.conversation?.resume();
    }
  }

  /** Runs `fn` once the service conversation is open (or failed). */
  whenReady(fn: () => void): void {
    if (this.isReady) fn();
    else this.waiters.push(fn);
  }

  write(bytes: Uint8Array, inSeq: number | undefined): void {
    this.written++;
    this.answering.push(inSeq);
    this.conversation!.write(bytes);
  }

  /** Requests written to the service and not answered yet. */
  get inFlight(): number {
    return this.answering.length;
  }

  /** The service's answer to the oldest request written and not answered yet. */
  private answered(bytes: Uint8Array): void {
    this.output(bytes, this.answering.shift());
  }

  output(bytes: Uint8Array, inSeq?: number): void {
    if (this.requestResponse && (this.truncated || this.cache.bytes >= 2 * this.cache.maxBytes)) {
      // Hard cap: the session is being closed for overflow; the service's answers are consumed
      // (the dispatcher goes on) but no longer kept.
      this.responses++;
      if (!this.truncated) {
        this.truncated = true;
        this.events.overflow(true);
      }
      this.dispatcher.responded(this);
      return;
    }
    const chunk = this.cache.append(bytes);
    if (this.requestResponse) {
      this.responses++;
      // Never backpressure a request-response conversation: the dispatcher would wait for it and
      // every other session with it. The group decides in the total order what happens instead.
      if (this.cache.full) this.events.overflow(false);
    } else if (this.cache.full && !this.paused && this.conversation) {
      // A stream's conversation is its own: stop reading it until the client's ack trims the cache.
      this.paused = true;
      this.conversation.pause();
    }
    this.events.output(chunk);
    if (!this.requestResponse) this.events.produced(undefined, bytes, chunk.from);
    else if (inSeq !== undefined) this.events.produced(inSeq, bytes, chunk.from);
    if (this.requestResponse) this.dispatcher.responded(this);
  }

  /**
   * The ordered half-close: ends the service conversation's input after every request or chunk
   * ordered before it; the service's output is still read, cached and forwarded until it ends.
   */
  endInput(): void {
    if (this.closed || this.inputEnding) return;
    this.inputEnding = true;
    if (this.requestResponse) this.dispatcher.enqueue({ session: this, endInput: true });
    else this.conversation?.end(); // not open yet: `ready` writes what came early, then ends
  }

  /**
   * The ordered CLOSE: ends the service conversation after any queued request or chunk (a stream's
   * chunks that came before the conversation opened included: the dial is never aborted for a
   * close, so a client that sends and closes at once loses nothing), and frees the cache.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.requestResponse) this.dispatcher.enqueue({ session: this, close: true });
    else if (this.conversation) this.finish();
  }

  /** Ends the service's input after what was written; later output is read and dropped. */
  finish(): void {
    this.finished = true;
    this.cache.clear();
    this.conversation?.end();
  }

  /** The dispatcher reached this session's ordered half-close: the service has every earlier request. */
  endServiceInput(): void {
    this.conversation?.end();
  }

  dispose(): void {
    this.closed = true;
    this.disposed = true;
    this.abort.abort();
    this.conversation?.destroy();
    this.cache.clear();
  }

  private ready(c: Conversation): void {
    if (this.disposed) {
      c.destroy();
      return;
    }
    this.conversation = c;
    c.onData((bytes) => this.read(bytes));
    c.onEnd((error) => {
      if (this.closed || this.failed || this.endedAt !== undefined) return;
      // After the client's ordered half-close the service ending is the expected answer.
      if (this.inputEnding && !error) return this.ended();
      // Unasked: a service that closes a conversation on purpose still accepts new ones; one
      // whose process is gone refuses them, and then this replica cannot follow the order.
      void this.probe().then((alive) => {
        if (this.closed || this.disposed) return;
        if (!alive)
          this.events.serviceGone(error ?? new Error('the service ended a conversation its client did not close'));
        else if (error) this.fail(error);
        else this.ended();
      });
    });
    for (const b of this.early.splice(0)) c.write(b);
    if (!this.requestResponse && this.closed) this.finish();
    else if (!this.requestResponse && this.inputEnding) c.end();
    for (const w of this.waiters.splice(0)) w();
  }

  private ended(): void {
    if (this.endedAt !== undefined) return;
    this.endedAt = this.cache.produced;
    this.log.info({ session: shortSessionId(this.id), outSeq: this.endedAt }, 'service ended the conversation');
    this.events.ended(this.endedAt);
    this.dispatcher.gone(this);
  }

  private read(bytes: Uint8Array): void {
    if (this.finished) return;
    if (!this.framer) {
      this.output(bytes);
      return;
    }
    let messages: Uint8Array[];
    try {
      messages = this.framer.push(bytes);
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    for (const m of messages) this.answered(m);
  }

  private fail(error: Error): void {
    if (this.failed || this.closed) return;
    this.failed = true;
    this.log.error(
      { session: shortSessionId(this.id), err: error.message },
      'service conversation failed; this replica no longer serves the session',
    );
    this.conversation?.destroy();
    this.events.failed(error);
    for (const w of this.waiters.splice(0)) w();
    this.dispatcher.gone(this);
  }
}

interface DispatchItem {
  readonly session: LocalSession;
  readonly request?: Uint8Array;
  readonly synthetic?: Uint8Array;
  readonly close?: true;
  /** The session's ordered half-close: end the service's input here. */
  readonly endInput?: true;
  /** The request number it answers. */
  readonly inSeq?: number;
}

/**
 * Request-response substrates: requests of all sessions run one at a time, in delivery order, so
 * every replica applies the same state transitions in the same order.
 */
class Dispatcher {
  private readonly queue: DispatchItem[] = [];
  private head = 0;
  private busy: LocalSession | undefined;
  private waitingReady = false;
  /** Items enqueued and started so far (absolute counts, for `hold`). */
  private enqueued = 0;
  private started = 0;
  /** Active holds, oldest (lowest mark) first; items from the first mark on wait. */
  private readonly holds: { readonly mark: number; drained?: () => void }[] = [];

  constructor(private readonly log: Logger) {}

  enqueue(item: DispatchItem): void {
    this.queue.push(item);
    this.enqueued++;
    this.kick();
  }

  /**
   * Holds every item enqueued from now on; resolves, once every earlier item has been applied
   * (the service answered it), with the function that releases the held ones. State transfer
   * captures the service exactly at the cut this way.
   */
  hold(): Promise<() => void> {
    const h: { readonly mark: number; drained?: () => void } = { mark: this.enqueued };
    this.holds.push(h);
    const release = (): void => {
      const i = this.holds.indexOf(h);
      if (i >= 0) this.holds.splice(i, 1);
      this.kick();
    };
    return new Promise((resolve) => {
      h.drained = () => resolve(release);
      this.kick();
    });
  }

  /** `session` produced a response. */
  responded(session: LocalSession): void {
    if (this.busy === session && session.inFlight === 0) {
      this.busy = undefined;
      this.kick();
    }
  }

  /** `session`'s service is gone: its queued requests cannot run here. */
  gone(session: LocalSession): void {
    if (this.busy === session) {
      this.busy = undefined;
      this.kick();
    }
  }

  clear(): void {
    this.queue.length = 0;
    this.head = 0;
    this.busy = undefined;
    this.started = this.enqueued;
  }

  kick(): void {
    this.run();
    if (this.busy || this.waitingReady) return;
    for (const h of this.holds)
      if (h.drained && this.started >= h.mark) {
        const done = h.drained;
        h.drained = undefined;
        done();
      }
  }

  private run(): void {
    while (
      !this.waitingReady &&
      this.head < this.queue.length &&
      (this.holds.length === 0 || this.started < this.holds[0]!.mark)
    ) {
      const item = this.queue[this.head]!;
      const s = item.session;
      // Pipelining: the next request of the session being answered goes to the service at once
      // (the protocol answers in order on one conversation); anything else waits for the answers.
      // Requests of other sessions still wait, so the order of application stays the total order.
      if (this.busy && !(this.busy === s && s.pipelining && item.request && !s.failed && s.endedAt === undefined))
        return;
      if (item.close) {
        this.shift();
        s.finish();
        continue;
      }
      if (item.endInput) {
        if (!s.isReady) {
          this.waitingReady = true;
          s.whenReady(() => {
            this.waitingReady = false;
            this.kick();
          });
          return;
        }
        this.shift();
        s.endServiceInput();
        continue;
      }
      if (!s.isReady) {
        this.waitingReady = true;
        s.whenReady(() => {
          this.waitingReady = false;
          this.kick();
        });
        return;
      }
      if (s.failed || s.endedAt !== undefined) {
        this.log.debug({ session: s.id }, 'request skipped: the service conversation is gone');
        this.shift();
        continue;
      }
      // A full cache never stops the dispatcher (one client that does not read would freeze
      // every session): the session is closed for overflow in the total order instead.
      this.shift();
      if (item.synthetic) {
        s.output(item.synthetic, item.inSeq);
        continue;
      }
      this.busy = s;
      s.write(item.request!, item.inSeq);
    }
  }

  private shift(): void {
    this.started++;
    this.queue[this.head++] = undefined as unknown as DispatchItem;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
