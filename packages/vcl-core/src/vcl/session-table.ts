import type { MemberId } from '../contracts/network';
import type { CloseReason, SessionEvent, SessionId } from './session-events';

/** A session as every member records it: the same at every member after the same deliveries. */
export interface SessionRecord {
  /** The session id. */
  readonly id: SessionId;
  /** The principal that opened it. */
  readonly principal: string;
  /** The substrate it belongs to, as its ordered OPEN named it; absent: the first substrate. */
  readonly substrate?: string;
  /** The member the client-side interceptor is attached to (last ordered OPEN/ATTACH). */
  attached: MemberId;
  /** The highest request number applied (requests are numbered from 1). */
  lastInSeq: number;
  /** The highest output position the client acknowledged. */
  ackedOut: number;
  /** Delivery sequence number of the OPEN that created it. */
  readonly openedAt: number;
  /** Delivery sequence number of its latest event. */
  lastEventAt: number;
  /** The client half-closed (an ordered `shutdown`): no request follows. */
  inputEnded?: boolean;
}

/** What applying one ordered event did; the same at every member for the same delivery. */
export type Applied =
  | { readonly kind: 'opened'; readonly session: SessionRecord; readonly origin: MemberId; readonly attempt: number }
  | {
      readonly kind: 'attached';
      readonly session: SessionRecord;
      readonly origin: MemberId;
      readonly attempt: number;
      /** The member it was attached to before. */
      readonly previous: MemberId;
    }
  | {
      readonly kind: 'refused';
      readonly id: SessionId;
      readonly origin: MemberId;
      readonly attempt: number;
      /**
       * `expired`: the session existed and was closed; `unknown`: never seen; `hijack`: it belongs
       * to another principal than the one that asked to open or attach it; `busy`: its substrate
       * runs one session at a time and another one is open.
       */
      readonly why: 'unknown' | 'expired' | 'hijack' | 'busy';
      /** For `hijack`: the principal that asked, and the session's owner. */
      readonly principal?: string;
      readonly owner?: string;
    }
  | {
      readonly kind: 'request';
      readonly session: SessionRecord;
      readonly inSeq: number;
      readonly bytes: Uint8Array;
      /** The acknowledgement it carried, if it moved the ack forward. */
      readonly ack?: number;
    }
  | { readonly kind: 'denied'; readonly session: SessionRecord; readonly inSeq: number; readonly reason: string }
  | {
      readonly kind: 'dropped';
      readonly session: SessionRecord;
      readonly inSeq: number;
      /** `duplicate`: already applied; `gap`: an earlier request is missing (a stale resend). */
      readonly why: 'duplicate' | 'gap';
      /** The acknowledgement it carried, if it moved the ack forward. */
      readonly ack?: number;
    }
  | { readonly kind: 'acked'; readonly session: SessionRecord; readonly outSeq: number }
  | { readonly kind: 'input-ended'; readonly session: SessionRecord }
  | { readonly kind: 'closed'; readonly session: SessionRecord; readonly reason: CloseReason }
  | { readonly kind: 'ignored'; readonly id: SessionId; readonly why: string };

/** Options of a `SessionTable`. */
export interface SessionTableOptions {
  /** How many closed session ids to remember, so a late HELLO gets "expired" rather than "unknown". Default 10000. */
  readonly closedMemory?: number;
  /**
   * Whether sessions of a substrate (the name an OPEN carries; undefined: the first substrate)
   * run one at a time: an OPEN while another session of it is open is refused (`busy`). Must be
   * the same function at every member (it comes from the stack). Default: none is.
   */
  readonly oneAtATime?: (substrate: string | undefined) => boolean;
}

/**
 * The replicated session table: a deterministic state machine fed with session events in total
 * order. It decides, identically at every member, which requests reach the service (the first
 * ordered copy of each `inSeq`, in sequence) and where output caches are trimmed.
 */
export class SessionTable {
  private readonly sessions = new Map<SessionId, SessionRecord>();
  private readonly closed = new Map<SessionId, CloseReason>();
  private readonly closedMemory: number;
  private requests = 0;

  private readonly oneAtATime: (substrate: string | undefined) => boolean;

  constructor(options: SessionTableOptions = {}) {
    this.closedMemory = options.closedMemory ?? 10_000;
    this.oneAtATime = options.oneAtATime ?? (() => false);
  }

  /** The open sessions, in the order they were opened. */
  list(): SessionRecord[] {
    return [...this.sessions.values()];
  }

  /** One open session. */
  get(id: SessionId): SessionRecord | undefined {
    return this.sessions.get(id);
  }

  /** Whether `id` was open once and is closed now (within the remembered window). */
  wasClosed(id: SessionId): boolean {
    return this.closed.has(id);
  }

  /** Open sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /**
   * Requests applied so far over all sessions (`request` results, in delivery order): the same at
   * every member after the same deliveries, so it names points of the order (state digests).
   */
  get requestsApplied(): number {
    return this.requests;
  }

  /**
   * A copy of the table (open sessions in opening order, remembered closed ids oldest first, the
   * request count), for state transfer.
   */
  exportState(): { sessions: SessionRecord[]; closed: [SessionId, CloseReason][]; requests: number } {
    return {
      sessions: this.list().map((s) => ({ ...s })),
      closed: [...this.closed.entries()],
      requests: this.requests,
    };
  }

  /**
   * Replaces the table with one exported at another member (state transfer to a joiner). A state
   * without `requests` (an older donor) leaves the count at 0.
   */
  restoreState(state: {
    readonly sessions: readonly SessionRecord[];
    readonly closed: readonly (readonly [SessionId, CloseReason])[];
    readonly requests?: number;
  }): void {
    this.sessions.clear();
    this.closed.clear();
    for (const s of state.sessions) this.sessions.set(s.id, { ...s });
    for (const [id, reason] of state.closed) this.closed.set(id, reason);
    this.requests = state.requests ?? 0;
  }

  /** Applies the event delivered at sequence number `seq`. Pure function of the table and the event. */
  apply(event: SessionEvent, seq: number): Applied {
    const s = this.sessions.get(event.session);
    switch (event.type) {
      case 'open': {
        if (s) return this.attach(s, event.origin, event.attempt, seq, event.principal);
        if (this.closed.has(event.session))
          return { kind: 'refused', id: event.session, origin: event.origin, attempt: event.attempt, why: 'expired' };
        if (this.oneAtATime(event.substrate) && this.list().some((o) => o.substrate === event.substrate))
          return { kind: 'refused', id: event.session, origin: event.origin, attempt: event.attempt, why: 'busy' };
        const created: SessionRecord = {
          id: event.session,
          principal: event.principal,
          ...(event.substrate !== undefined ? { substrate: event.substrate } : {}),
          attached: event.origin,
          lastInSeq: 0,
          ackedOut: 0,
          openedAt: seq,
          lastEventAt: seq,
        };
        this.sessions.set(created.id, created);
        return { kind: 'opened', session: created, origin: event.origin, attempt: event.attempt };
      }
      case 'attach': {
        if (s) return this.attach(s, event.origin, event.attempt, seq, event.principal);
        return {
          kind: 'refused',
          id: event.session,
          origin: event.origin,
          attempt: event.attempt,
          why: this.closed.has(event.session) ? 'expired' : 'unknown',
        };
      }
      case 'data': {
        if (!s) return { kind: 'ignored', id: event.session, why: 'data for a session that is not open' };
        s.lastEventAt = seq;
        const ack = this.ack(s, event.ackOutSeq);
        // The first ordered copy of each inSeq wins at every member alike; a copy that would leave a
        // hole (a resend from a stale member ordered before the current member's) is dropped too,
        // because the attached member's own contiguous stream always fills the hole later. After
        // the client's half-close nothing follows: a later number can only be bad input.
        if (event.inSeq !== s.lastInSeq + 1 || s.inputEnded)
          return {
            kind: 'dropped',
            session: s,
            inSeq: event.inSeq,
            why: event.inSeq <= s.lastInSeq ? 'duplicate' : 'gap',
            ...(ack !== undefined ? { ack } : {}),
          };
        s.lastInSeq = event.inSeq;
        this.requests++;
        return {
          kind: 'request',
          session: s,
          inSeq: event.inSeq,
          bytes: event.bytes,
          ...(ack !== undefined ? { ack } : {}),
        };
      }
      case 'deny': {
        if (!s) return { kind: 'ignored', id: event.session, why: 'deny for a session that is not open' };
        s.lastEventAt = seq;
        if (event.inSeq !== s.lastInSeq + 1)
          return {
            kind: 'dropped',
            session: s,
            inSeq: event.inSeq,
            why: event.inSeq <= s.lastInSeq ? 'duplicate' : 'gap',
          };
        s.lastInSeq = event.inSeq;
        return { kind: 'denied', session: s, inSeq: event.inSeq, reason: event.reason };
      }
      case 'ack': {
        if (!s) return { kind: 'ignored', id: event.session, why: 'ack for a session that is not open' };
        s.lastEventAt = seq;
        const ack = this.ack(s, event.outSeq);
        return ack === undefined
          ? { kind: 'ignored', id: s.id, why: `stale ack ${event.outSeq} <= ${s.ackedOut}` }
          : { kind: 'acked', session: s, outSeq: ack };
      }
      case 'shutdown': {
        if (!s) return { kind: 'ignored', id: event.session, why: 'shutdown for a session that is not open' };
        // Only right after its last request: a copy sent before a fail-over's resends were ordered
        // is early (the client sends it again after them), a second copy is stale.
        if (s.inputEnded) return { kind: 'ignored', id: s.id, why: 'input already ended' };
        if (event.inSeq !== s.lastInSeq)
          return { kind: 'ignored', id: s.id, why: `shutdown after ${event.inSeq}, applied ${s.lastInSeq}` };
        s.inputEnded = true;
        s.lastEventAt = seq;
        return { kind: 'input-ended', session: s };
      }
      case 'close': {
        if (!s) return { kind: 'ignored', id: event.session, why: 'close for a session that is not open' };
        if (event.ifAcked !== undefined && event.ifAcked !== s.ackedOut)
          return {
            kind: 'ignored',
            id: s.id,
            why: `conditional close at ack ${event.ifAcked}, client acknowledged ${s.ackedOut}`,
          };
        if (event.ifLastEvent !== 0 && event.ifLastEvent !== s.lastEventAt)
          return {
            kind: 'ignored',
            id: s.id,
            why: `conditional close at ${event.ifLastEvent}, session active at ${s.lastEventAt}`,
          };
        this.sessions.delete(s.id);
        this.closed.set(s.id, event.reason);
        if (this.closed.size > this.closedMemory) this.closed.delete(this.closed.keys().next().value as SessionId);
        return { kind: 'closed', session: s, reason: event.reason };
      }
      case 'dep-call':
      case 'dep-response':
      case 'dep-failed':
        // Outbound events belong to the dependent-services engine (outbound/), not to a session.
        return { kind: 'ignored', id: event.session, why: `${event.type} is an outbound event` };
      case 'digest':
        // Output digests are compared by the divergence detector; they must not count as session
        // activity (a conditional close names the last event that does).
        return { kind: 'ignored', id: event.session, why: 'output digest' };
    }
  }

  private attach(s: SessionRecord, origin: MemberId, attempt: number, seq: number, principal?: string): Applied {
    // A session belongs to the principal that opened it. Decided here, in the total order, so every
    // member refuses alike even when the member that accepted the HELLO did not check (old or wrong);
    // the refused attach leaves the session, its attachment and its activity untouched.
    if (principal !== undefined && principal !== s.principal)
      return { kind: 'refused', id: s.id, origin, attempt, why: 'hijack', principal, owner: s.principal };
    const previous = s.attached;
    s.attached = origin;
    s.lastEventAt = seq;
    return { kind: 'attached', session: s, origin, attempt, previous };
  }

  private ack(s: SessionRecord, outSeq: number): number | undefined {
    if (outSeq <= s.ackedOut) return undefined;
    s.ackedOut = outSeq;
    return outSeq;
  }
}
