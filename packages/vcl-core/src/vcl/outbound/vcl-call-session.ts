import type { Clock, Timer } from '../../contracts/clock';
import type { LinkFrame } from '../../contracts/link-security';
import type { Logger } from '../../contracts/logger';
import type { LinkConnection, LinkTransport } from '../link';
import { decodeMemberFrame, encodeClientFrame, type ClientFrame, type MemberAddress } from '../link-frames';
import type { SessionId } from '../session-events';

/** Options of a `VclCallSession`. */
export interface VclCallSessionOptions {
  /** The derived session id (the same at every member of the calling group). */
  readonly session: SessionId;
  /** Client addresses of the dependency's members. */
  readonly members: readonly MemberAddress[];
  /** Opens links to them. */
  readonly transport: LinkTransport;
  /** Time. */
  readonly clock: Clock;
  /** Where it logs. */
  readonly logger: Logger;
  /** Credentials for the dependency's authenticator. Default none. */
  readonly credentials?: Uint8Array;
  /** Keep-alive interval. Default 200 ms. */
  readonly heartbeatMs?: number;
  /** A dependency member silent this long counts as failed. Default 1000 ms. */
  readonly linkTimeoutMs?: number;
  /** Pause before trying the next member after a pass over all of them. Default 50 ms. */
  readonly retryDelayMs?: number;
  /** Where to start in `members` (spreads callers). Default 0. */
  readonly start?: number;
}

/** What a `VclCallSession` reports to its owner. */
export interface VclCallSessionEvents {
  /** Response message number `index` (1-based) of the session. */
  response(index: number, bytes: Uint8Array): void;
  /** The dependency refused the session for good (closed, expired, denied). */
  refused(code: string, message: string): void;
}

/**
 * The calling member's side of one outbound session to a VCL-replicated dependency: the
 * client-side interceptor protocol with the starting point chosen by the caller.
 *
 * Unlike `ClientInterceptor`, a member that takes over a call starts where the calling group's
 * total order stands (`lastOutSeq` = responses the group has consumed, requests numbered from the
 * group's own count), and acknowledges output only once the group has ordered it: the dependency's
 * cache then still holds every response the group has not consumed, whoever called.
 */
export class VclCallSession {
  /** Calls outstanding when (re-)attaching, sent then; answers the dependency replayed for calls this member never sent. */
  readonly counters = { resent: 0, replayed: 0 };
  private link: LinkConnection | undefined;
  private memberIndex: number;
  private readonly requests = new Map<number, Uint8Array>();
  private highest = 0;
  private received = 0;
  private acked = 0;
  private welcomed = false;
  /** Highest call number this member itself sent. */
  private sentUpTo = 0;
  private lastRecv = 0;
  private lastSend = 0;
  private timer: Timer | undefined;
  private retry: Timer | undefined;
  private closed = false;
  private closing = false;
  private readonly heartbeatMs: number;
  private readonly linkTimeoutMs: number;
  private readonly retryDelayMs: number;

  constructor(
    private readonly options: VclCallSessionOptions,
    private readonly events: VclCallSessionEvents,
    /** Responses the calling group already consumed: the dependency resends what follows. */
    consumed: number,
  ) {
    this.memberIndex = options.start ?? 0;
    this.received = consumed;
    this.acked = consumed;
    this.heartbeatMs = options.heartbeatMs ?? 200;
    this.linkTimeoutMs = options.linkTimeoutMs ?? 1000;
    this.retryDelayMs = options.retryDelayMs ?? 50;
  }

  /** The dependency member currently used, if linked. */
  member: MemberAddress | undefined;

  /** Connects to a member and opens (or re-attaches) the session. */
  start(): void {
    this.connect();
    this.tick();
  }

  /** Request number `inSeq` (the replica's `inSeq`-th request on this connection). */
  request(inSeq: number, bytes: Uint8Array): void {
    if (this.closed || inSeq <= this.acked) return;
    this.requests.set(inSeq, bytes);
    this.highest = Math.max(this.highest, inSeq);
    if (this.welcomed) this.sendData(inSeq, bytes);
  }

  private sendData(inSeq: number, bytes: Uint8Array): void {
    this.sentUpTo = Math.max(this.sentUpTo, inSeq);
    this.send({ type: 'data', inSeq, ackOutSeq: this.acked, bytes });
  }

  /** The calling group ordered response `index`: the dependency may trim its cache up to it. */
  consumed(index: number): void {
    if (index <= this.acked) return;
    this.acked = index;
    this.received = Math.max(this.received, index);
    for (const k of [...this.requests.keys()]) if (k <= index) this.requests.delete(k);
    if (this.welcomed) this.send({ type: 'ack', outSeq: index });
  }

  /** The replica closed its connection and every response is consumed: close the session at the dependency. */
  close(): void {
    if (this.closed) return;
    this.closing = true;
    if (this.welcomed) this.send({ type: 'close' });
  }

  /** Drops the link without closing the session (this member is no longer the caller, or stops). */
  abandon(): void {
    this.closed = true;
    this.timer?.cancel();
    this.retry?.cancel();
    this.link?.destroy();
    this.link = undefined;
  }

  private connect(): void {
    if (this.closed) return;
    const target = this.options.members[this.memberIndex % this.options.members.length]!;
    this.member = target;
    this.welcomed = false;
    this.options.transport.connect(target).then(
      (link) => {
        if (this.closed) return link.destroy();
        this.attach(link);
      },
      (error: unknown) => this.next(`member ${target.id} unreachable: ${(error as Error).message}`),
    );
  }

  private attach(link: LinkConnection): void {
    this.link = link;
    this.lastRecv = this.options.clock.now();
    link.onFrame((f) => {
      if (this.link === link) this.frame(f);
    });
    link.onInvalid((e) => {
      if (this.link === link) this.next(`bad link input: ${e.message}`);
    });
    link.onClose((e) => {
      if (this.link === link) this.next(`link closed${e ? `: ${e.message}` : ''}`);
    });
    // Always OPEN: at the dependency an OPEN of an existing session re-attaches it, so the first
    // caller and every taking-over caller speak alike. `lastOutSeq` is what this member has
    // passed to the group; the dependency resends everything after it from its cache.
    this.send({
      type: 'open',
      session: this.options.session,
      credentials: this.options.credentials ?? new Uint8Array(),
      lastOutSeq: this.received,
      lastInSeq: this.highest,
    });
  }

  private frame(bytes: LinkFrame): void {
    this.lastRecv = this.options.clock.now();
    let f;
    try {
      f = decodeMemberFrame(bytes);
    } catch (error) {
      this.next(`bad frame: ${(error as Error).message}`);
      return;
    }
    switch (f.type) {
      case 'welcome': {
        this.welcomed = true;
        this.options.logger.debug(
          { session: this.options.session, member: this.member?.id },
          'dependency session attached',
        );
        // Resend in order what the dependency has not ordered; copies it did order are dropped
        // there as duplicates (first ordered copy wins).
        for (let k = Math.max(f.lastInSeq, this.acked) + 1; k <= this.highest; k++) {
          const b = this.requests.get(k);
          if (!b) continue;
          this.counters.resent++;
          this.sendData(k, b);
        }
        if (this.closing) this.send({ type: 'close' });
        return;
      }
      case 'output': {
        const index = f.from + 1;
        if (index <= this.received) return;
        if (index > this.received + 1) {
          this.next(`output gap: got ${index}, expected ${this.received + 1}`);
          return;
        }
        this.received = index;
        // A call another caller sent and the dependency applied: its answer comes from the cache.
        if (index > this.sentUpTo) this.counters.replayed++;
        this.events.response(index, f.bytes);
        return;
      }
      case 'error':
        if (f.fatal) {
          this.closed = true;
          this.timer?.cancel();
          this.link?.destroy();
          this.link = undefined;
          this.events.refused(f.code, f.message);
          return;
        }
        this.next(`member refused: ${f.code}: ${f.message}`);
        return;
      case 'closed':
        this.abandon();
        return;
      default:
        return;
    }
  }

  private next(reason: string): void {
    if (this.closed) return;
    this.options.logger.info(
      { session: this.options.session, member: this.member?.id, reason },
      'dependency member failed; trying the next',
    );
    const link = this.link;
    this.link = undefined;
    this.welcomed = false;
    link?.destroy();
    this.memberIndex++;
    const pause = this.memberIndex % this.options.members.length === 0 ? this.retryDelayMs : 0;
    this.retry?.cancel();
    this.retry = this.options.clock.setTimer(pause, () => this.connect());
  }

  private tick(): void {
    if (this.closed) return;
    const now = this.options.clock.now();
    if (this.link) {
      if (now - this.lastRecv > this.linkTimeoutMs)
        this.next(`member ${this.member?.id} silent for ${Math.round(now - this.lastRecv)} ms`);
      else if (now - this.lastSend >= this.heartbeatMs * 0.9) this.send({ type: 'ping' });
    }
    this.timer = this.options.clock.setTimer(this.heartbeatMs, () => this.tick());
  }

  private send(f: ClientFrame): void {
    if (!this.link) return;
    this.lastSend = this.options.clock.now();
    this.link.send(encodeClientFrame(f));
  }
}
