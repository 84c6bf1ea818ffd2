import type { Clock, Timer } from '../../contracts/clock';
import type { Startable } from '../../contracts/lifecycle';
import type { Logger } from '../../contracts/logger';
import type { MemberId } from '../../contracts/network';
import type { Delivery, View } from '../../contracts/ordering';
import type { Conversation, Endpoint, Framer, Listener, Substrate } from '../../contracts/substrate';
import {
  BroadcastRejectedError,
  ConfigError,
  DependencyCallFailedError,
  MalformedFrameError,
  VclError,
} from '../../errors';
import { conversationPair } from '../conversation-pair';
import type { LinkTransport } from '../link';
import type { MemberAddress } from '../link-frames';
import { decodeSessionEvent, encodeSessionEvent, type SessionEvent, type SessionId } from '../session-events';
import type { OutboundOrdering } from './ordering-split';
import { outboundSessionId, parseOutboundSessionId } from './session-id';
import { VclCallSession } from './vcl-call-session';

/** How a dependency is called. */
export type DependencyMode =
  /** The dependency is itself VCL-replicated: it drops repeated requests by their number. */
  | 'replicated'
  /** A plain server that cannot tell a repeated request: one member of the group calls at a time. */
  | 'exclusive';

/** One dependency of the replicated service, as the outbound engine uses it. */
export interface DependencySpec {
  /** Its name (unique in the stack, no `:`); part of the derived session ids. */
  readonly name: string;
  /** How it is called. */
  readonly mode: DependencyMode;
  /** `exclusive`: the plain server's endpoint. */
  readonly target?: Endpoint;
  /** `exclusive`: whether a call cut by a caller failure may be sent again. Default false. */
  readonly idempotent?: boolean;
  /**
   * `exclusive`, not idempotent: the bytes the replicas read instead of the response of a call
   * reported failed. Default none: the outbound connection is closed with an error instead.
   */
  readonly failureResponse?: Uint8Array;
  /** `replicated`: client addresses of the dependency's members. */
  readonly members?: readonly MemberAddress[];
  /** External mode: where this member accepts the local replica's connections to the dependency. */
  readonly listen?: Endpoint;
}

/** Options of an `OutboundInterceptor`. */
export interface OutboundInterceptorOptions {
  /** This member's id. */
  readonly self: MemberId;
  /** The calling group's name; part of the derived session ids. */
  readonly group: string;
  /** This member's share of the group's total order (see `splitOrdering`). */
  readonly ordering: OutboundOrdering;
  /** The substrate the replica speaks to its dependencies (request-response only). */
  readonly substrate: Pick<Substrate, 'pattern' | 'requestFramer' | 'responseFramer'> &
    Partial<Pick<Substrate, 'listen' | 'dial'>>;
  /** The dependencies. */
  readonly dependencies: readonly DependencySpec[];
  /** Links to a replicated dependency's members. Required when one is `replicated`. */
  readonly transport?: LinkTransport;
  /** Opens a conversation with an exclusive dependency. Default `substrate.dial`. */
  readonly dial?: (endpoint: Endpoint) => Promise<Conversation>;
  /** Time. */
  readonly clock: Clock;
  /** Where it logs. */
  readonly logger: Logger;
  /** Keep-alive interval on links to a replicated dependency. Default 200 ms. */
  readonly heartbeatMs?: number;
  /** A dependency member silent this long counts as failed. Default 1000 ms. */
  readonly linkTimeoutMs?: number;
  /** Pause before calling an exclusive dependency again after its connection failed. Default 100 ms. */
  readonly retryDelayMs?: number;
  /**
   * An exclusive call with no answer this long after it was announced is reported failed (and its
   * connection dropped, so a late answer cannot be taken for the next call's). Default 30 s.
   */
  readonly callTimeoutMs?: number;
}

/** Counters for metrics and tests. */
export interface OutboundCounters {
  /** Outbound connections opened by the local replica. */
  connections: number;
  /** Calls this member sent to a dependency (as the caller). */
  callsSent: number;
  /** Calls sent again after a take-over (idempotent exclusive dependencies). */
  callsRepeated: number;
  /** Calls reported failed to the replicas (non-idempotent, cut by a caller failure). */
  callsFailed: number;
  /** Responses consumed in total order. */
  responses: number;
  /** Outbound events delivered again for an already consumed call (ignored). */
  duplicates: number;
  /** Replicated dependency: calls outstanding when the session was (re-)attached, sent (again) then. */
  callsResent: number;
  /** Replicated dependency: answers replayed from the dependency's cache for calls a previous caller sent. */
  responsesReplayed: number;
}

/**
 * The outbound half of a member of a replicated service that is itself a client of other
 * services (dependencies).
 *
 * Every replica of the group produces the same outbound requests; each member accepts its own
 * replica's connections (a local listener per dependency, or `connect()` in internal mode). One
 * member, the caller (the lowest id, in string order, of the current primary view, the same choice at every
 * member), forwards the requests to the dependency; each response is broadcast in the group's
 * total order and every member hands it to its replica when it is delivered, so every replica
 * reads the same bytes at the same point of the order. When the caller fails, the next lowest
 * member takes over from where the total order stands:
 * - `replicated` dependency: it re-attaches the same derived session and resends the requests
 *   the group has no response for; the dependency drops the copies it already ordered.
 * - `exclusive` dependency: every call is announced in the total order (`dep-call`) before it is
 *   sent; a call announced but not answered may have reached the dependency, so the new caller
 *   sends it again only when the dependency is `idempotent`, and otherwise reports it failed to
 *   every replica (`dep-failed`).
 */
export class OutboundInterceptor implements Startable {
  /** Counters. */
  readonly counters: OutboundCounters = {
    connections: 0,
    callsSent: 0,
    callsRepeated: 0,
    callsFailed: 0,
    responses: 0,
    duplicates: 0,
    callsResent: 0,
    responsesReplayed: 0,
  };
  private readonly deps = new Map<string, DependencySpec>();
  private readonly accepted = new Map<string, number>();
  private readonly connections = new Map<SessionId, OutboundConnection>();
  /** Recently finished connections, so late duplicate events do not bring them back. */
  private readonly finished = new Set<SessionId>();
  private readonly listeners = new Map<string, Listener>();
  private readonly log: Logger;
  private view: View | undefined;
  private stopped = false;

  constructor(private readonly options: OutboundInterceptorOptions) {
    this.log = options.logger.child({ component: 'outbound', member: options.self });
    if (options.substrate.pattern !== 'request-response')
      throw new ConfigError('stack', [
        { path: 'dependencies', message: 'dependencies need a request-response substrate (stream is not supported)' },
      ]);
    for (const d of options.dependencies) {
      if (this.deps.has(d.name))
        throw new ConfigError('stack', [{ path: 'dependencies', message: `duplicate dependency "${d.name}"` }]);
      if (d.mode === 'exclusive' && !d.target)
        throw new ConfigError('stack', [
          { path: 'dependencies', message: `dependency ${d.name}: exclusive needs target` },
        ]);
      if (d.mode === 'replicated' && (!d.members?.length || !options.transport))
        throw new ConfigError('stack', [
          { path: 'dependencies', message: `dependency ${d.name}: replicated needs member addresses` },
        ]);
      this.deps.set(d.name, d);
      this.accepted.set(d.name, 0);
    }
    options.ordering.onDeliver((d) => this.deliver(d));
    options.ordering.onView((v) => this.installView(v));
  }

  /** Whether this member is the caller in the installed view. */
  get isCaller(): boolean {
    const v = this.view;
    if (!v?.primary || v.members.length === 0) return false;
    return [...v.members].sort()[0] === this.options.self;
  }

  /** Where each dependency's local listener is bound (external mode, after `start`). */
  get endpoints(): ReadonlyMap<string, Endpoint> {
    return new Map([...this.listeners].map(([name, l]) => [name, l.endpoint]));
  }

  /** External mode: opens a local listener for every dependency that has a `listen` address. */
  async start(): Promise<void> {
    this.stopped = false;
    this.view ??= this.options.ordering.view();
    for (const d of this.deps.values()) {
      if (!d.listen) continue;
      if (!this.options.substrate.listen) throw new VclError('the substrate cannot listen for outbound connections');
      const l = await this.options.substrate.listen(d.listen, (c) => this.accept(d, c));
      this.listeners.set(d.name, l);
      this.log.info({ dependency: d.name, endpoint: l.endpoint, mode: d.mode }, 'outbound listener ready');
    }
  }

  /** Closes the listeners and every call in progress (sessions at dependencies are left to the next caller). */
  async stop(): Promise<void> {
    this.stopped = true;
    const listeners = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(listeners.map((l) => l.close()));
    for (const c of this.connections.values()) c.dispose();
    this.connections.clear();
  }

  /** Internal mode: the replica opens its next connection to `dependency`. */
  connect(dependency: string): Conversation {
    const d = this.deps.get(dependency);
    if (!d) throw new VclError(`no dependency named "${dependency}"`);
    const [engineSide, appSide] = conversationPair({ remote: `dependency ${dependency}` });
    this.accept(d, engineSide);
    return appSide;
  }

  /** Counters including the calls in progress. */
  snapshot(): OutboundCounters {
    const out = { ...this.counters };
    for (const c of this.connections.values()) {
      const s = c.sessionCounters();
      out.callsResent += s.resent;
      out.responsesReplayed += s.replayed;
    }
    return out;
  }

  /** One outbound connection's state, for status and tests. */
  connection(dependency: string, ordinal: number): OutboundConnectionStatus | undefined {
    const c = this.connections.get(outboundSessionId(this.options.group, dependency, ordinal));
    return c?.status();
  }

  private accept(d: DependencySpec, conversation: Conversation): void {
    if (this.stopped) {
      conversation.destroy(new VclError('member stopping'));
      return;
    }
    const ordinal = this.accepted.get(d.name)! + 1;
    this.accepted.set(d.name, ordinal);
    this.counters.connections++;
    const c = this.connectionFor(outboundSessionId(this.options.group, d.name, ordinal), d);
    this.log.debug({ dependency: d.name, ordinal, session: c.id }, 'outbound connection opened');
    c.attachReplica(conversation);
  }

  private connectionFor(id: SessionId, d: DependencySpec): OutboundConnection {
    let c = this.connections.get(id);
    if (!c) {
      c = new OutboundConnection(id, d, this.options, this, this.log.child({ session: id }));
      this.connections.set(id, c);
    }
    return c;
  }

  /** @internal */
  broadcast(event: SessionEvent): void {
    this.options.ordering.broadcast(encodeSessionEvent(event)).then(
      () => undefined,
      (error: unknown) => {
        if (this.stopped) return;
        this.log.warn({ session: event.session, event: event.type, err: (error as Error).message }, 'broadcast failed');
        // A response the group cannot carry (over its message size) is reported as a failed call
        // rather than leaving the replicas waiting for it.
        if (error instanceof BroadcastRejectedError && event.type === 'dep-response')
          this.broadcast({
            type: 'dep-failed',
            session: event.session,
            index: event.index,
            reason: (error as Error).message,
          });
      },
    );
  }

  /** @internal */
  forget(c: OutboundConnection): void {
    this.connections.delete(c.id);
    this.finished.add(c.id);
    if (this.finished.size > 10_000) this.finished.delete(this.finished.values().next().value as SessionId);
  }

  private installView(view: View): void {
    const was = this.isCaller;
    this.view = view;
    const now = this.isCaller;
    if (now !== was)
      this.log.info({ view: view.id, caller: now }, now ? 'this member calls dependencies' : 'no longer the caller');
    for (const c of this.connections.values()) c.roleChanged(now);
  }

  private deliver(d: Delivery): void {
    let event: SessionEvent;
    try {
      event = decodeSessionEvent(d.payload);
    } catch (error) {
      // Every member fails alike on the same payload: skipping it keeps the replicas alike.
      this.log.warn({ seq: d.seq, err: (error as Error).message }, 'undecodable outbound event skipped');
      return;
    }
    if (event.type !== 'dep-call' && event.type !== 'dep-response' && event.type !== 'dep-failed') return;
    const parsed = parseOutboundSessionId(event.session);
    const dep = parsed && this.deps.get(parsed.dependency);
    if (!dep) {
      this.log.warn({ session: event.session, event: event.type }, 'outbound event for an unknown dependency skipped');
      return;
    }
    if (this.finished.has(event.session)) {
      this.counters.duplicates++;
      return;
    }
    // Created on first sight: the caller's replica may be ahead of this one, whose connection is
    // then opened later and finds the responses waiting.
    this.connectionFor(event.session, dep).apply(event);
  }
}

/** One outbound connection as `connection()` reports it. */
export interface OutboundConnectionStatus {
  /** Derived session id. */
  readonly id: SessionId;
  /** Requests the local replica wrote. */
  readonly requests: number;
  /** Responses (or failures) consumed in total order. */
  readonly answered: number;
  /** Calls this member sent. */
  readonly sent: number;
}

/**
 * One logical outbound connection (the same at every member): the local replica's requests and
 * the responses consumed in total order. At the caller it also drives the calls.
 */
class OutboundConnection {
  private replica: Conversation | undefined;
  private readonly framer: Framer;
  private readonly requests = new Map<number, Uint8Array>();
  private written = 0;
  private answered = 0;
  private readonly held: Uint8Array[] = [];
  private replicaClosed = false;
  private closeReplicaAfterHeld: Error | undefined | null = null;
  /** Calls announced in total order and not answered yet: index -> caller. */
  private readonly announced = new Map<number, MemberId>();
  private sent = 0;
  // Caller state (exclusive).
  private callIndex = 0;
  private callPhase: 'idle' | 'announcing' | 'sending' | 'answering' | 'failing' = 'idle';
  private target: Conversation | undefined;
  private targetFramer: Framer | undefined;
  private dialing = false;
  private retry: Timer | undefined;
  private callTimer: Timer | undefined;
  // Caller state (replicated).
  private session: VclCallSession | undefined;

  constructor(
    readonly id: SessionId,
    private readonly dep: DependencySpec,
    private readonly options: OutboundInterceptorOptions,
    private readonly owner: OutboundInterceptor,
    private readonly log: Logger,
  ) {
    this.framer = options.substrate.requestFramer();
    if (owner.isCaller) this.roleChanged(true);
  }

  sessionCounters(): { resent: number; replayed: number } {
    return this.session ? { ...this.session.counters } : { resent: 0, replayed: 0 };
  }

  status(): OutboundConnectionStatus {
    return { id: this.id, requests: this.written, answered: this.answered, sent: this.sent };
  }

  attachReplica(c: Conversation): void {
    this.replica = c;
    c.onData((bytes) => this.fromReplica(bytes));
    c.onEnd((error) => {
      this.replicaClosed = true;
      if (error) this.log.debug({ err: error.message }, 'replica connection broke');
      this.maybeClose();
    });
    for (const b of this.held.splice(0)) c.write(b);
    if (this.closeReplicaAfterHeld !== null) this.endReplica(this.closeReplicaAfterHeld);
  }

  roleChanged(caller: boolean): void {
    if (!caller) {
      this.dropCall();
      return;
    }
    if (this.dep.mode === 'replicated') this.startSession();
    else this.pump();
  }

  apply(event: SessionEvent): void {
    switch (event.type) {
      case 'dep-call':
        if (event.index <= this.answered) return;
        this.announced.set(event.index, event.caller);
        if (event.caller === this.options.self && this.callPhase === 'announcing' && this.callIndex === event.index) {
          this.startCallTimer(event.index);
          this.send();
        }
        return;
      case 'dep-response':
      case 'dep-failed': {
        // The first ordered answer of each call wins at every member alike; a later one (from a
        // caller that was replaced, or a repeated call) is dropped.
        if (event.index !== this.answered + 1) {
          this.owner.counters.duplicates++;
          return;
        }
        this.answered = event.index;
        this.announced.delete(event.index);
        this.requests.delete(event.index);
        if (event.type === 'dep-response') {
          this.owner.counters.responses++;
          this.toReplica(event.bytes);
        } else {
          this.owner.counters.callsFailed++;
          this.log.warn({ index: event.index, reason: event.reason }, 'dependency call reported failed');
          if (this.dep.failureResponse) this.toReplica(this.dep.failureResponse);
          else this.endReplica(new DependencyCallFailedError(`${this.dep.name} call ${event.index}: ${event.reason}`));
        }
        this.session?.consumed(event.index);
        if (this.callIndex === event.index) {
          this.callIndex = 0;
          this.callPhase = 'idle';
          this.callTimer?.cancel();
        }
        this.pump();
        this.maybeClose();
        return;
      }
      default:
        return;
    }
  }

  dispose(): void {
    this.dropCall();
    this.replica?.destroy();
  }

  // ---- the local replica --------------------------------------------------------------------

  private fromReplica(bytes: Uint8Array): void {
    let messages: Uint8Array[];
    try {
      messages = this.framer.push(bytes);
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'malformed outbound request from the replica');
      this.replica?.destroy(error as Error);
      return;
    }
    for (const m of messages) {
      const index = ++this.written;
      if (index <= this.answered) continue;
      this.requests.set(index, m);
      this.session?.request(index, m);
    }
    this.pump();
  }

  private toReplica(bytes: Uint8Array): void {
    if (this.replica) this.replica.write(bytes);
    else this.held.push(bytes);
  }

  private endReplica(error: Error | undefined): void {
    if (!this.replica) {
      this.closeReplicaAfterHeld = error;
      return;
    }
    if (error) this.replica.destroy(error);
    else this.replica.end();
  }

  /** Adds the session's counters to the member's (once, when the session ends here). */
  private tally(): void {
    if (!this.session) return;
    this.owner.counters.callsResent += this.session.counters.resent;
    this.owner.counters.responsesReplayed += this.session.counters.replayed;
    this.session.counters.resent = 0;
    this.session.counters.replayed = 0;
  }

  private maybeClose(): void {
    if (!this.replicaClosed || this.answered < this.written) return;
    this.tally();
    this.session?.close();
    this.target?.end();
    this.target = undefined;
    this.owner.forget(this);
  }

  // ---- the caller: replicated dependency ----------------------------------------------------

  private startSession(): void {
    if (this.session) return;
    this.session = new VclCallSession(
      {
        session: this.id,
        members: this.dep.members!,
        transport: this.options.transport!,
        clock: this.options.clock,
        logger: this.log,
        ...(this.options.heartbeatMs ? { heartbeatMs: this.options.heartbeatMs } : {}),
        ...(this.options.linkTimeoutMs ? { linkTimeoutMs: this.options.linkTimeoutMs } : {}),
      },
      {
        response: (index, bytes) => {
          this.sent = Math.max(this.sent, index);
          this.owner.broadcast({ type: 'dep-response', session: this.id, index, bytes });
        },
        refused: (code, message) => {
          this.log.error({ code, err: message }, 'dependency refused the session');
          this.owner.broadcast({
            type: 'dep-failed',
            session: this.id,
            index: this.answered + 1,
            reason: `${code}: ${message}`,
          });
        },
      },
      this.answered,
    );
    for (const [index, bytes] of [...this.requests.entries()].sort((a, b) => a[0] - b[0]))
      this.session.request(index, bytes);
    this.session.start();
    if (this.replicaClosed && this.answered >= this.written) this.session.close();
  }

  // ---- the caller: exclusive dependency -----------------------------------------------------

  /** Starts the next call if this member is the caller and nothing is in flight (one call at a time). */
  private pump(): void {
    if (this.dep.mode !== 'exclusive' || !this.owner.isCaller || this.callPhase !== 'idle') return;
    const next = this.answered + 1;
    if (!this.requests.has(next)) return;
    this.callIndex = next;
    const before = this.announced.get(next);
    if (before === undefined) {
      this.callPhase = 'announcing';
      this.owner.broadcast({ type: 'dep-call', session: this.id, index: next, caller: this.options.self });
      return;
    }
    // Announced by an earlier caller and never answered: it may have reached the dependency.
    if (this.dep.idempotent) {
      this.owner.counters.callsRepeated++;
      this.log.info({ index: next, previous: before }, 'repeating an interrupted call (idempotent)');
      this.callPhase = 'announcing';
      this.owner.broadcast({ type: 'dep-call', session: this.id, index: next, caller: this.options.self });
      return;
    }
    this.callPhase = 'failing';
    this.log.warn({ index: next, previous: before }, 'interrupted call may have been applied; reporting it failed');
    this.owner.broadcast({
      type: 'dep-failed',
      session: this.id,
      index: next,
      reason: `caller ${before} failed during the call; not idempotent, not repeated`,
    });
  }

  private send(): void {
    this.callPhase = 'sending';
    const index = this.callIndex;
    const bytes = this.requests.get(index);
    if (!bytes) return;
    if (this.target) {
      this.sent++;
      this.owner.counters.callsSent++;
      this.target.write(bytes);
      return;
    }
    if (this.dialing) return;
    this.dialing = true;
    const dial = this.options.dial ?? this.options.substrate.dial?.bind(this.options.substrate);
    if (!dial) throw new VclError('the substrate cannot dial an exclusive dependency');
    dial(this.dep.target!).then(
      (c) => {
        this.dialing = false;
        if (!this.owner.isCaller || this.callPhase !== 'sending') {
          c.end();
          return;
        }
        this.target = c;
        this.targetFramer = this.options.substrate.responseFramer();
        c.onData((b) => this.fromTarget(c, b));
        c.onEnd((error) => this.targetGone(c, error));
        this.send();
      },
      (error: unknown) => {
        this.dialing = false;
        // Nothing was sent on a connection that never opened: trying again cannot apply it twice.
        this.log.warn({ err: (error as Error).message }, 'dependency unreachable; retrying');
        this.later(() => {
          if (this.callPhase === 'sending' && this.owner.isCaller) this.send();
        });
      },
    );
  }

  private fromTarget(c: Conversation, bytes: Uint8Array): void {
    if (c !== this.target) return;
    let messages: Uint8Array[];
    try {
      messages = this.targetFramer!.push(bytes);
    } catch (error) {
      this.targetGone(c, new MalformedFrameError(`dependency ${this.dep.name}: ${(error as Error).message}`));
      return;
    }
    for (const m of messages) {
      if (this.callPhase !== 'sending') {
        this.log.warn({}, 'unexpected response from the dependency ignored');
        continue;
      }
      this.callPhase = 'answering';
      // Stays busy (not idle) until the response is delivered, so the next call waits for it.
      this.owner.broadcast({ type: 'dep-response', session: this.id, index: this.callIndex, bytes: m });
    }
  }

  private targetGone(c: Conversation, error?: Error): void {
    if (c !== this.target) return;
    this.target = undefined;
    this.targetFramer = undefined;
    if (this.callPhase !== 'sending') return;
    // The request may have been applied before the connection broke: the same rule as a take-over.
    this.log.warn({ index: this.callIndex, err: error?.message }, 'dependency connection lost during a call');
    if (this.dep.idempotent) {
      this.owner.counters.callsRepeated++;
      this.later(() => {
        if (this.callPhase === 'sending' && this.owner.isCaller) this.send();
      });
      return;
    }
    this.callPhase = 'failing';
    this.owner.broadcast({
      type: 'dep-failed',
      session: this.id,
      index: this.callIndex,
      reason: `connection to ${this.dep.name} lost during the call${error ? `: ${error.message}` : ''}`,
    });
  }

  private startCallTimer(index: number): void {
    this.callTimer?.cancel();
    const ms = this.options.callTimeoutMs ?? 30_000;
    this.callTimer = this.options.clock.setTimer(ms, () => {
      if (this.callIndex !== index || this.callPhase !== 'sending' || !this.owner.isCaller) return;
      // Not repeated even when idempotent: a server that hangs may still apply it, and the
      // replicas must not wait forever.
      this.log.warn({ index, ms }, 'dependency call timed out; reporting it failed');
      this.retry?.cancel();
      const target = this.target;
      this.target = undefined;
      this.targetFramer = undefined;
      target?.destroy();
      this.callPhase = 'failing';
      this.owner.broadcast({
        type: 'dep-failed',
        session: this.id,
        index,
        reason: `${this.dep.name}: no answer within ${ms} ms`,
      });
    });
  }

  private later(fn: () => void): void {
    this.retry?.cancel();
    this.retry = this.options.clock.setTimer(this.options.retryDelayMs ?? 100, fn);
  }

  private dropCall(): void {
    this.retry?.cancel();
    this.callTimer?.cancel();
    this.tally();
    this.session?.abandon();
    this.session = undefined;
    this.target?.destroy();
    this.target = undefined;
    this.callPhase = 'idle';
    this.callIndex = 0;
  }
}
