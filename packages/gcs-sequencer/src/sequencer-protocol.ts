/**
 * The fixed-sequencer total-order protocol, with view-synchronous sequencer fail-over.
 *
 * ROLES (per installed view; members are listed in configuration order)
 * - Sequencer: the first member of the view. Orders submissions: assigns (epoch = view id, seq),
 *   multicasts ORDER batches, collects acknowledgement watermarks and announces `stable` (held by
 *   every member) and `gc` (delivered by every member).
 * - Member: every member (the sequencer too) is an origin: it numbers its broadcasts
 *   (incarnation, originSeq), keeps them in its outbox until it delivers them, and submits them to
 *   the sequencer, resubmitting until acknowledged and again after every view change.
 * - Coordinator: the member running a view change (the lowest-ranked live member, normally the
 *   sequencer of the view it forms). Runs one Paxos ballot: PREPARE -> PROMISE -> ACCEPT ->
 *   ACCEPTED -> COMMIT. Acceptors are all configured members.
 * - Provider: a member that held the state of the previous view; captures the application state
 *   at the cut for the joiners of the new view and serves it in chunks.
 *
 * MESSAGES (records piggybacked in frames `version | incarnation | record*`; see wire/messages.ts)
 *   HB(view, status, probe)          every heartbeatMs to every configured member; liveness
 *   SUBMIT(view, firstOriginSeq, payload*)  origin -> sequencer (reliable FIFO: retransmitted,
 *                                    de-duplicated by (origin, incarnation, originSeq))
 *   SUBMIT_ACK(view, inc, accepted)  sequencer -> origin
 *   ORDER(view, firstSeq, stable, gc, entry*)  sequencer -> members (also the NAK answer)
 *   ACK(view, received, delivered)   member -> sequencer (on progress and every heartbeat)
 *   STABLE(view, high, stable, gc)   sequencer -> members (on progress and every heartbeat)
 *   NAK(view, from, to)              member -> sequencer: retransmit a gap (negative ack)
 *   PREPARE / PROMISE(report) / REJECT / ACCEPT(proposal, prefix) / ACCEPTED / COMMIT(proposal)
 *   CHANGE(view)                     "please run a view change" to the coordinator candidate
 *   STATE_REQ(view, offset) / STATE_CHUNK(view, total, offset, data)  joiner <-> provider
 *
 * STEADY STATE: broadcast -> outbox -> SUBMIT -> sequencer orders (batched per ordering round,
 * bounded by the window) -> ORDER -> members store, ACK -> stable = min received -> STABLE ->
 * every member delivers up to stable (safe delivery). Gaps are repaired by NAK; the heartbeat
 * carries `high` so a lost tail is noticed.
 *
 * VIEW CHANGE (the value decided by one Paxos instance per view id is a Proposal: the next view's
 * members with incarnations, the cut = last seq of the base view, the joiners and the provider):
 *   1. A reason (a member confirmed dead after suspicion + probing, a member restarted, a
 *      configured member outside the view is alive, a stuck view change) makes the lowest-ranked
 *      live member start a ballot; others ask it with CHANGE and take over if it does nothing.
 *   2. PREPARE(b) to every configured member. A member promising b FREEZES: it no longer accepts
 *      or acknowledges ORDERs of its view (new sends are blocked); its report carries its
 *      installed view, watermarks (received, acknowledged, stable, delivered), its held messages
 *      above its stable watermark and every proposal it accepted since its install.
 *   3. The coordinator waits for every member it believes alive (or a window), then needs a
 *      quorum: a majority of the configured members, a majority of them veterans (installed a
 *      view in their current incarnation) unless all configured members answered; a new group
 *      (nobody has a view) needs every member (or a majority with `bootstrapQuorum: majority`).
 *      It then decides (view-decision.ts): base = the newest installed view whose state a member
 *      here holds (an older one if newer ones never took hold and a skipped one went further).
 *      Paxos rule: a proposal for the view after base that may have been decided is proposed again
 *      unchanged. Otherwise a new view of every promiser, cut at an upper bound of what anyone may
 *      have delivered in base: the base sequencer's stable point if it answered (a frozen
 *      sequencer stops advancing it), base's own cut if a base member answered that never had
 *      base's state or acknowledged nothing there (nothing became stable), else the survivors'
 *      lowest watermark. Views newer than base (installed without state here, or known from the
 *      proposals members accepted since their install) are skipped when each one provably never
 *      took hold (its frozen sequencer's stable point is its cut, or one of its members answered
 *      without it, without its state, or having acknowledged nothing there) and agrees with the
 *      cut; a member whose state is exactly at the cut enters without a state transfer.
 *   4. ACCEPT(b, proposal, prefix) to every promiser: a survivor gets what it lacks up to the cut;
 *      every other acceptor keeps the part above the known stable point, so that whatever a flush
 *      delivers is held by a majority. Decided when every promiser accepted; then COMMIT.
 *   5. On COMMIT a survivor delivers up to the cut in the base view, then installs the new view
 *      (epoch = view id, seq continues at cut + 1); the provider captures the state at the cut; a
 *      joiner installs the view when its state has arrived, and acknowledges nothing before, so
 *      no message becomes stable while a member still depends on one provider. Origins resubmit
 *      every outbox message not yet delivered; the new sequencer starts each origin after the
 *      last one delivered (the de-duplication table is part of the replicated state and travels
 *      with state transfers).
 *   Members that missed the COMMIT get it again from any member of the view that hears their
 *   heartbeat. A member ignores a COMMIT decided under a lower ballot than one it has promised:
 *   its report to that higher ballot must stay true (it neither acknowledges in, nor leaves, the
 *   view it reported); the higher ballot's outcome, or the next view change, brings it along.
 *   Members left out (partitioned away, restarted) announce themselves as OUTSIDE and are added
 *   by the next view change as joiners, with state transfer at its cut.
 *
 * INVARIANTS
 * - I1 (uniform agreement): in a view, a message is delivered only if seq <= stable, i.e. every
 *   member of the view (each with the state) acknowledged holding it. A frozen member
 *   acknowledges nothing more, so every stable message is <= the cut, and held by every survivor.
 *   A flush delivers at most up to the cut, and whatever it delivers above the known stable point
 *   is first held by every acceptor (a majority): no delivery depends on one member surviving.
 * - I2 (total order): (epoch, seq) is assigned by exactly one sequencer per view; a member stores
 *   an ORDER only from the sequencer of its installed view, and a view id is decided once (Paxos:
 *   promise quorums intersect accept quorums), so all members deliver seq s as the same message.
 * - I3 (virtual synchrony): every member installing view w from v delivered exactly (v.cut, w.cut]
 *   in v; joiners instead receive the state at w.cut. (w is normally v+1; it is later when views
 *   that never took hold were skipped: nothing was delivered in those.)
 * - I4 (primary component): only views with a majority of the configured members are installed
 *   (except `partition: fail-stop`); a minority stays frozen in its last view and delivers nothing.
 * - I5 (integrity): the sequencer orders an origin's messages only in originSeq order, starting
 *   after the last one delivered, so nothing is ordered twice or out of FIFO order; messages above
 *   the cut are dropped and resubmitted by their origin.
 * - I6 (bounded memory): the outbox holds at most maxPending messages per member, the sequencer
 *   orders at most windowMessages/windowBytes beyond the slowest member's delivery; broadcasts
 *   wait beyond that.
 *
 * Persistence is not assumed: a member that restarts is a new incarnation that rejoins with state
 * transfer. The group keeps its history as long as a majority of the members of every installed
 * view keeps running (the usual bound for in-memory consensus); if every configured member starts
 * afresh, they form a new group from sequence number 1.
 */
import {
  BroadcastRejectedError,
  CLOCK,
  GROUP,
  LOGGER,
  NETWORK,
  RANDOM,
  StoppedError,
  VclError,
  type Clock,
  type Delivery,
  type GroupConfig,
  type Logger,
  type MemberId,
  type Network,
  type Ordered,
  type OrderingProtocol,
  type OrderingStatus,
  type Random,
  type StateTransfer,
  type Timer,
  type View,
} from '@vcl/core';
import { inject, injectable } from 'tsyringe';
import { SEQUENCER_OPTIONS, type ResolvedSequencerOptions } from './options';
import { decideView, type ViewDecision } from './view-decision';
import {
  Status,
  compareBallots,
  decodeFrame,
  decodeSnapshot,
  encodeFrame,
  encodeRecord,
  encodeSnapshot,
  sameBallot,
  type AcceptedProposal,
  type Ballot,
  type Decided,
  type Entry,
  type MemberRef,
  type OriginRecord,
  type Proposal,
  type Report,
  type SeqEntry,
  type StatusCode,
  type WireRecord,
} from './wire/messages';

interface Pending {
  readonly payload: Uint8Array;
  originSeq: number;
  settled: boolean;
  resolve(o: Ordered): void;
  reject(e: unknown): void;
}

interface OriginState {
  inc: number;
  originSeq: number;
  recent: [number, number, number, number][];
}

interface SequencerState {
  ready: boolean;
  high: number;
  stable: number;
  gc: number;
  readonly acks: Map<number, { received: number; delivered: number }>;
  readonly nextToOrder: Map<number, number>;
  readonly acceptedTo: Map<number, number>;
  readonly pend: Map<number, Map<number, Uint8Array>>;
  readonly ackDirty: Set<number>;
  rr: number;
  /** The stable value members were last told (ORDER records carry it too). */
  announced: number;
  /** A heartbeat is due: send STABLE (with gc) even if nothing changed. */
  hbDue: boolean;
}

interface Coordination {
  readonly ballot: Ballot;
  phase: 'prepare' | 'accept';
  readonly startedAt: number;
  phaseAt: number;
  lastSendAt: number;
  readonly expected: Set<number>;
  readonly promises: Map<number, { inc: number; report: Report }>;
  proposal?: Proposal;
  acceptors?: Map<number, number>;
  prefixes?: Map<number, SeqEntry[]>;
  readonly accepted: Set<number>;
}

interface IncomingState {
  readonly viewId: number;
  readonly provider: number;
  readonly chunks: Uint8Array[];
  offset: number;
  lastReqAt: number;
}

const ZERO: Ballot = { round: 0, rank: 0 };
const RECENT_PER_ORIGIN_MIN = 16;
const MAX_ACCEPTED = 16;

/** The `sequencer` ordering protocol: one group member. Built by `createOrderingMember`. */
@injectable()
export class SequencerProtocol implements OrderingProtocol {
  readonly self: MemberId;

  private readonly ids: readonly MemberId[];
  private readonly rank: number;
  private readonly n: number;
  private readonly majority: number;
  private readonly failStop: boolean;
  private readonly log: Logger;
  private inc = 0;
  private readonly tickMs: number;

  private started = false;
  private stopped = false;
  private startedAt = 0;
  private tickTimer?: Timer;
  private flushTimer?: Timer;
  /** > 0 while a frame or timer is handled: output is flushed once at its end, not per record. */
  private batching = 0;
  private flushWanted = false;
  private lastTick = 0;
  private lastHbAt = -Infinity;

  private deliverHandler?: (d: Delivery) => void;
  private viewHandler?: (v: View) => void;
  private hook?: StateTransfer;

  // Installed view and epoch log.
  private current?: Proposal;
  /** The ballot that decided `current` (sent along when the view is resent to a member). */
  private currentBallot: Ballot = ZERO;
  private installedAt = 0;
  private emitted?: View;
  private hasState = false;
  private frozen = false;
  private outside = false;
  private readonly store = new Map<number, Entry>();
  private storeBytes = 0;
  private gcDone = 0;
  private received = 0;
  private delivered = 0;
  private stableKnown = 0;
  private highKnown = 0;
  private gcKnown = 0;
  private ackDirty = false;
  private ackedDelivered = 0;
  /** Highest `received` acknowledged to the sequencer in the installed view. */
  private ackedReceived = 0;
  private lastNakAt = -Infinity;
  private readonly table = new Map<number, OriginState>();

  // Paxos acceptor state.
  private promised: Ballot = ZERO;
  private promisedAt = -Infinity;
  /** Proposals accepted since the installed view, one per view id, oldest first (bounded). */
  private accepted: AcceptedProposal[] = [];
  private maxRound = 0;

  // View-change driving.
  private coord?: Coordination;
  private reasonSince?: number;
  private lastAttemptAt = -Infinity;
  private retryAfter = 0;
  private lastChangeReqAt = -Infinity;
  private requestedAt = -Infinity;

  // Origin.
  private readonly waiting: Pending[] = [];
  private readonly outbox: Pending[] = [];
  private nextOriginSeq = 0;
  private sentUpTo = 0;
  private submitAcked = 0;
  private lastSubmitAt = -Infinity;

  // Sequencer role.
  private seq?: SequencerState;

  // State transfer.
  private hookBusy = false;
  private pendingCommit?: Decided;
  private snapshot?: { viewId: number; bytes: Uint8Array };
  private incoming?: IncomingState;

  // Failure detection and peers.
  private readonly lastHeard: number[];
  private readonly peerInc: number[];
  private readonly peerView: number[];
  private readonly peerStatus: StatusCode[];
  private readonly lastPrepareFrom: number[];
  private readonly lastCommitSentTo: number[];
  private readonly outq: Uint8Array[][];

  // Figures for status().
  private readonly stats = { retransmitted: 0, naks: 0, viewChanges: 0, rounds: 0, malformed: 0 };

  constructor(
    @inject(NETWORK) private readonly network: Network,
    @inject(CLOCK) private readonly clock: Clock,
    @inject(RANDOM) private readonly random: Random,
    @inject(LOGGER) logger: Logger,
    @inject(GROUP) group: GroupConfig,
    @inject(SEQUENCER_OPTIONS) private readonly opts: ResolvedSequencerOptions,
  ) {
    this.self = group.self;
    this.ids = [...group.members];
    this.rank = this.ids.indexOf(group.self);
    if (this.rank < 0)
      throw new VclError(`member ${group.self} is not one of the configured members ${this.ids.join(', ')}`);
    if (new Set(this.ids).size !== this.ids.length)
      throw new VclError(`configured members must be unique, got ${this.ids.join(', ')}`);
    this.n = this.ids.length;
    this.majority = Math.floor(this.n / 2) + 1;
    this.failStop = group.partition === 'fail-stop';
    if (this.failStop && this.n > 2)
      throw new VclError(`partition: fail-stop is only for groups of 2 members, this one has ${this.n}`);
    this.log = logger.child({ component: 'gcs-sequencer', member: this.self });
    this.tickMs = Math.min(opts.heartbeatMs, opts.retransmitMs);
    const fill = <T>(v: T): T[] => new Array<T>(this.n).fill(v);
    this.lastHeard = fill(-Infinity);
    this.peerInc = fill(0);
    this.peerView = fill(0);
    this.peerStatus = fill<StatusCode>(Status.outside);
    this.lastPrepareFrom = fill(-Infinity);
    this.lastCommitSentTo = fill(-Infinity);
    this.outq = Array.from({ length: this.n }, () => []);
  }

  // ---------------------------------------------------------------- public API

  async start(): Promise<void> {
    if (this.stopped) throw new StoppedError(`sequencer member ${this.self} is stopped`);
    if (this.started) return;
    this.started = true;
    this.inc = this.network.incarnation;
    this.startedAt = this.clock.now();
    this.lastTick = this.startedAt;
    this.network.onMessage((from, bytes) => this.onFrame(from, bytes));
    this.network.onPeerDown((peer) => this.onPeerDown(peer));
    this.log.info({ incarnation: this.inc, members: this.ids }, 'sequencer member started');
    this.tick();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.tickTimer?.cancel();
    this.flushTimer?.cancel();
    const err = new StoppedError(`sequencer member ${this.self} stopped`);
    for (const p of [...this.outbox, ...this.waiting]) this.settle(p, undefined, err);
    this.outbox.length = 0;
    this.waiting.length = 0;
    this.log.info({ delivered: this.delivered }, 'sequencer member stopped');
  }

  broadcast(payload: Uint8Array, signal?: AbortSignal): Promise<Ordered> {
    if (this.stopped) return Promise.reject(new StoppedError(`sequencer member ${this.self} is stopped`));
    if (!(payload instanceof Uint8Array))
      return Promise.reject(new BroadcastRejectedError('broadcast payload must be a Uint8Array'));
    if (payload.length > this.opts.maxMessageBytes)
      return Promise.reject(
        new BroadcastRejectedError(
          `broadcast payload of ${payload.length} bytes exceeds maxMessageBytes (${this.opts.maxMessageBytes})`,
        ),
      );
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Ordered>((resolve, reject) => {
      const p: Pending = { payload: payload.slice(), originSeq: 0, settled: false, resolve, reject };
      this.waiting.push(p);
      if (signal) {
        const onAbort = (): void => {
          const i = this.waiting.indexOf(p);
          if (i >= 0) this.waiting.splice(i, 1);
          this.settle(p, undefined, signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
      this.pump();
    });
  }

  onDeliver(handler: (delivery: Delivery) => void): void {
    this.deliverHandler = handler;
  }

  onView(handler: (view: View) => void): void {
    this.viewHandler = handler;
  }

  setStateTransfer(hook: StateTransfer): void {
    this.hook = hook;
  }

  view(): View | undefined {
    return this.emitted;
  }

  status(): OrderingStatus {
    const role = this.stopped
      ? 'stopped'
      : !this.current
        ? 'joining'
        : this.outside
          ? 'outside'
          : this.frozen
            ? this.coord
              ? 'coordinator'
              : 'blocked'
            : !this.hasState
              ? 'joining'
              : this.seq
                ? 'sequencer'
                : 'member';
    return {
      view: this.emitted,
      role,
      pending: this.waiting.length + this.outbox.length,
      delivered: this.delivered,
      details: {
        viewId: this.current?.viewId ?? 0,
        received: this.received,
        stable: this.stableKnown,
        high: this.highKnown,
        stored: this.store.size,
        storedBytes: this.storeBytes,
        outbox: this.outbox.length,
        waiting: this.waiting.length,
        queuedAtSequencer: this.seq ? [...this.seq.pend.values()].reduce((n, m) => n + m.size, 0) : 0,
        retransmitted: this.stats.retransmitted,
        naks: this.stats.naks,
        viewChanges: this.stats.viewChanges,
        orderingRounds: this.stats.rounds,
        malformedFrames: this.stats.malformed,
      },
    };
  }

  // ---------------------------------------------------------------- timers and I/O

  private tick(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const stall = now - this.lastTick - this.tickMs;
    if (stall > this.opts.heartbeatMs) {
      // Our own event loop stalled: what we did not hear meanwhile says nothing about the peers.
      for (let r = 0; r < this.n; r++)
        if (this.lastHeard[r]! > -Infinity) this.lastHeard[r] = Math.min(now, this.lastHeard[r]! + stall);
    }
    this.lastTick = now;
    this.batching++;
    try {
      if (now - this.lastHbAt >= this.opts.heartbeatMs) this.sendHeartbeats(now);
      this.retransmit(now);
      if (this.coord) this.driveCoordination(now);
      this.considerViewChange(now);
    } finally {
      this.batching--;
    }
    this.flush();
    this.tickTimer = this.clock.setTimer(this.tickMs, () => this.tick());
  }

  private scheduleFlush(): void {
    if (this.batching) {
      this.flushWanted = true;
      return;
    }
    if (this.flushTimer || this.stopped) return;
    this.flushTimer = this.clock.setTimer(0, () => {
      this.flushTimer = undefined;
      this.flush();
    });
  }

  private queue(to: number, record: Uint8Array): void {
    if (to === this.rank) return;
    this.outq[to]!.push(record);
    this.scheduleFlush();
  }

  private send(to: number, r: WireRecord): void {
    this.queue(to, encodeRecord(r));
  }

  private flush(): void {
    if (this.stopped || this.batching) return;
    this.batching++;
    try {
      // Work done here (an ordering round delivering, freeing outbox room) may want another pass.
      for (let pass = 0; pass < 4; pass++) {
        this.flushWanted = false;
        this.submitOutbox();
        this.orderRound();
        this.flushAcks();
        if (!this.flushWanted) break;
      }
    } finally {
      this.batching--;
    }
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
    for (let to = 0; to < this.n; to++) {
      const q = this.outq[to]!;
      if (q.length === 0) continue;
      this.outq[to] = [];
      let batch: Uint8Array[] = [];
      let size = 0;
      for (const rec of q) {
        if (batch.length && size + rec.length > this.opts.maxFrameBytes) {
          this.network.send(this.ids[to]!, encodeFrame(this.inc, batch));
          batch = [];
          size = 0;
        }
        batch.push(rec);
        size += rec.length;
      }
      if (batch.length) this.network.send(this.ids[to]!, encodeFrame(this.inc, batch));
    }
    if (this.flushWanted) {
      this.flushWanted = false;
      this.scheduleFlush();
    }
  }

  private sendHeartbeats(now: number): void {
    this.lastHbAt = now;
    const viewId = this.current?.viewId ?? 0;
    const status = this.statusCode();
    const round = this.promised.round;
    const plain = encodeRecord({ kind: 'hb', viewId, status, probe: false, round });
    let probe: Uint8Array | undefined;
    for (let r = 0; r < this.n; r++) {
      if (r === this.rank) continue;
      if (this.suspected(r, now))
        this.queue(r, (probe ??= encodeRecord({ kind: 'hb', viewId, status, probe: true, round })));
      else this.queue(r, plain);
    }
    if (this.current && !this.outside && this.isMember(this.rank, this.inc)) {
      if (this.seq) this.seq.hbDue = true;
      else this.ackDirty = true;
    }
  }

  private statusCode(): StatusCode {
    if (!this.current || this.outside) return Status.outside;
    if (this.frozen) return Status.frozen;
    return this.hasState ? Status.normal : Status.joining;
  }

  private onPeerDown(peer: MemberId): void {
    const r = this.ids.indexOf(peer);
    if (r < 0 || r === this.rank || this.stopped) return;
    const now = this.clock.now();
    this.lastHeard[r] = Math.min(this.lastHeard[r]!, now - this.opts.suspectTimeoutMs);
    this.log.debug({ peer }, 'link down: suspecting peer');
  }

  private onFrame(from: MemberId, bytes: Uint8Array): void {
    if (this.stopped || !this.started) return;
    const r = this.ids.indexOf(from);
    if (r < 0 || r === this.rank) {
      this.stats.malformed++;
      this.log.warn({ from }, 'frame from a member that is not configured; dropped');
      return;
    }
    let records: WireRecord[];
    let inc: number;
    try {
      const frame = decodeFrame(bytes, this.n);
      records = frame.records;
      inc = frame.inc;
    } catch (err) {
      this.stats.malformed++;
      this.log.warn({ from, err: (err as Error).message }, 'malformed frame dropped');
      return;
    }
    if (inc < this.peerInc[r]!) return;
    if (inc > this.peerInc[r]!) {
      if (this.peerInc[r]! > 0) this.log.info({ peer: from, incarnation: inc }, 'peer restarted');
      this.peerInc[r] = inc;
    }
    this.lastHeard[r] = this.clock.now();
    this.batching++;
    try {
      for (const rec of records) {
        if (this.stopped) return;
        this.handle(r, inc, rec);
      }
    } finally {
      this.batching--;
    }
    this.flush();
  }

  private handle(from: number, inc: number, r: WireRecord): void {
    switch (r.kind) {
      case 'hb':
        this.maxRound = Math.max(this.maxRound, r.round);
        return this.onHeartbeat(from, inc, r.viewId, r.status, r.probe);
      case 'submit':
        return this.onSubmit(from, inc, r.viewId, r.firstOriginSeq, r.payloads);
      case 'submitAck':
        if (this.current && r.viewId === this.current.viewId && r.inc === this.inc && this.fromSequencer(from, inc))
          this.submitAcked = Math.max(this.submitAcked, r.accepted);
        return;
      case 'order':
        return this.onOrder(from, inc, r.viewId, r.firstSeq, r.stable, r.gc, r.entries);
      case 'ack':
        return this.onAck(from, inc, r.viewId, r.received, r.delivered);
      case 'stable':
        if (this.current && r.viewId === this.current.viewId && this.fromSequencer(from, inc))
          this.learnStable(r.high, r.stable, r.gc);
        return;
      case 'nak':
        return this.onNak(from, inc, r.viewId, r.from, r.to);
      case 'prepare':
        return this.onPrepare(from, r.ballot);
      case 'promise':
        return this.onPromise(from, inc, r.ballot, r.report);
      case 'reject':
        return this.onReject(r.ballot, r.promised);
      case 'accept':
        return this.onAccept(from, r.ballot, r.toInc, r.proposal, r.prefix);
      case 'accepted':
        return this.onAccepted(from, inc, r.ballot);
      case 'commit':
        return this.onCommit(r.proposal, r.ballot);
      case 'change':
        return this.onChangeRequest(r.viewId);
      case 'stateReq':
        return this.onStateRequest(from, r.viewId, r.offset);
      case 'stateChunk':
        return this.onStateChunk(from, r.viewId, r.total, r.offset, r.data);
    }
  }

  // ---------------------------------------------------------------- membership helpers

  private isMember(rank: number, inc: number): boolean {
    const m = this.current?.members.find((x) => x.rank === rank);
    return m !== undefined && m.inc === inc;
  }

  private sequencerRef(): MemberRef | undefined {
    return this.current?.members[0];
  }

  private fromSequencer(from: number, inc: number): boolean {
    const s = this.sequencerRef();
    return s !== undefined && s.rank === from && s.inc === inc;
  }

  private silence(r: number, now: number): number {
    return now - this.lastHeard[r]!;
  }

  private suspected(r: number, now: number): boolean {
    return this.silence(r, now) > this.opts.suspectTimeoutMs;
  }

  private confirmedDead(r: number, now: number): boolean {
    return this.silence(r, now) > this.opts.suspectTimeoutMs + this.opts.confirmTimeoutMs;
  }

  /** Ranks believed alive (heard recently, not confirmed dead), this member included, ascending. */
  private aliveRanks(now: number): number[] {
    const out: number[] = [];
    for (let r = 0; r < this.n; r++) if (r === this.rank || !this.confirmedDead(r, now)) out.push(r);
    return out;
  }

  // ---------------------------------------------------------------- origin

  private pump(): void {
    while (this.waiting.length && this.outbox.length < this.opts.maxPending) {
      const p = this.waiting.shift()!;
      p.originSeq = ++this.nextOriginSeq;
      this.outbox.push(p);
    }
    if (this.canSubmit()) this.scheduleFlush();
  }

  private canSubmit(): boolean {
    return (
      this.current !== undefined &&
      this.hasState &&
      !this.frozen &&
      !this.outside &&
      this.current.primary &&
      this.isMember(this.rank, this.inc)
    );
  }

  private submitOutbox(): void {
    if (!this.canSubmit() || this.outbox.length === 0) return;
    const first = this.outbox[0]!.originSeq;
    const last = this.outbox[this.outbox.length - 1]!.originSeq;
    const from = Math.max(this.sentUpTo, this.submitAcked) + 1;
    if (from > last) return;
    const seqRef = this.sequencerRef()!;
    const viewId = this.current!.viewId;
    let i = Math.max(0, from - first);
    while (i < this.outbox.length) {
      const payloads: Uint8Array[] = [];
      const firstOriginSeq = this.outbox[i]!.originSeq;
      let size = 0;
      while (i < this.outbox.length) {
        const p = this.outbox[i]!.payload;
        if (payloads.length && size + p.length > this.opts.maxFrameBytes) break;
        payloads.push(p);
        size += p.length + 5;
        i++;
      }
      if (seqRef.rank === this.rank) this.acceptSubmissions(this.rank, firstOriginSeq, payloads);
      else this.send(seqRef.rank, { kind: 'submit', viewId, firstOriginSeq, payloads });
    }
    this.sentUpTo = last;
    this.lastSubmitAt = this.clock.now();
  }

  private settle(p: Pending, value: Ordered | undefined, err?: unknown): void {
    if (p.settled) return;
    p.settled = true;
    if (value) p.resolve(value);
    else p.reject(err);
  }

  private ownDelivered(originSeq: number, view: number, seq: number): void {
    const head = this.outbox[0];
    if (!head || head.originSeq !== originSeq) {
      this.log.error({ originSeq, head: head?.originSeq }, 'own message delivered out of outbox order');
      return;
    }
    this.outbox.shift();
    this.settle(head, { view, seq });
  }

  // ---------------------------------------------------------------- sequencer

  private becomeSequencer(): void {
    const cut = this.current!.cut;
    this.seq = {
      ready: false,
      high: cut,
      stable: cut,
      gc: cut,
      acks: new Map(),
      nextToOrder: new Map(),
      acceptedTo: new Map(),
      pend: new Map(),
      ackDirty: new Set(),
      rr: 0,
      announced: -1,
      hbDue: true,
    };
    for (const m of this.current!.members) {
      if (m.rank !== this.rank) this.seq.acks.set(m.rank, { received: cut, delivered: cut });
    }
  }

  /** Called once the sequencer holds the replicated table at the cut. */
  private readySequencer(): void {
    const s = this.seq;
    if (!s || s.ready) return;
    for (const m of this.current!.members) {
      const t = this.table.get(m.rank);
      const next = t && t.inc === m.inc ? t.originSeq + 1 : 1;
      s.nextToOrder.set(m.rank, next);
      s.acceptedTo.set(m.rank, next - 1);
      s.pend.set(m.rank, new Map());
    }
    s.ready = true;
  }

  private onSubmit(from: number, inc: number, viewId: number, first: number, payloads: Uint8Array[]): void {
    if (!this.current || viewId !== this.current.viewId || !this.isMember(from, inc)) return;
    this.acceptSubmissions(from, first, payloads);
  }

  private acceptSubmissions(origin: number, first: number, payloads: Uint8Array[]): void {
    const s = this.seq;
    if (!s || !s.ready || this.frozen || this.outside) return;
    const pend = s.pend.get(origin)!;
    const next = s.nextToOrder.get(origin)!;
    const limit = next + this.opts.maxPending;
    for (let i = 0; i < payloads.length; i++) {
      const os = first + i;
      if (os < next || os >= limit || pend.has(os)) continue;
      pend.set(os, payloads[i]!);
    }
    let acc = Math.max(s.acceptedTo.get(origin)!, next - 1);
    while (pend.has(acc + 1)) acc++;
    s.acceptedTo.set(origin, acc);
    if (origin === this.rank) this.submitAcked = Math.max(this.submitAcked, acc);
    else s.ackDirty.add(origin);
    this.scheduleFlush();
  }

  private windowOpen(s: SequencerState, bytes: number): boolean {
    if (s.high - s.gc >= this.opts.windowMessages) return false;
    return this.storeBytes === 0 || this.storeBytes + bytes <= this.opts.windowBytes;
  }

  private orderRound(): void {
    const s = this.seq;
    if (!s || !s.ready || this.frozen || this.outside) return;
    const members = this.current!.members;
    const batch: Entry[] = [];
    const firstSeq = s.high + 1;
    let progress = true;
    let full = false;
    while (progress && !full) {
      progress = false;
      for (let k = 0; k < members.length; k++) {
        const m = members[(s.rr + k) % members.length]!;
        const pend = s.pend.get(m.rank)!;
        const os = s.nextToOrder.get(m.rank)!;
        const payload = pend.get(os);
        if (!payload) continue;
        if (!this.windowOpen(s, payload.length)) {
          full = true;
          break;
        }
        pend.delete(os);
        s.nextToOrder.set(m.rank, os + 1);
        const e: Entry = { origin: m.rank, inc: m.inc, originSeq: os, payload };
        s.high++;
        this.store.set(s.high, e);
        this.storeBytes += payload.length;
        batch.push(e);
        progress = true;
      }
      s.rr = (s.rr + 1) % members.length;
    }
    if (batch.length === 0) return;
    this.stats.rounds++;
    this.received = s.high;
    this.highKnown = s.high;
    for (const e of batch) if (e.origin === this.rank) this.submitAcked = Math.max(this.submitAcked, e.originSeq);
    this.multicastOrder(firstSeq, batch);
    this.recomputeStable();
  }

  private multicastOrder(firstSeq: number, entries: readonly Entry[]): void {
    const s = this.seq!;
    s.announced = s.stable;
    for (const rec of this.orderRecords(firstSeq, entries, s.stable, s.gc)) {
      for (const m of this.current!.members) this.queue(m.rank, rec);
    }
  }

  private orderRecords(firstSeq: number, entries: readonly Entry[], stable: number, gc: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const viewId = this.current!.viewId;
    let start = 0;
    while (start < entries.length) {
      let size = 0;
      let end = start;
      while (
        end < entries.length &&
        (end === start || size + entries[end]!.payload.length <= this.opts.maxFrameBytes)
      ) {
        size += entries[end]!.payload.length + 12;
        end++;
      }
      out.push(
        encodeRecord({
          kind: 'order',
          viewId,
          firstSeq: firstSeq + start,
          stable,
          gc,
          entries: entries.slice(start, end),
        }),
      );
      start = end;
    }
    return out;
  }

  private onAck(from: number, inc: number, viewId: number, received: number, delivered: number): void {
    const s = this.seq;
    // A frozen sequencer's stable point is final: the coordinator relies on it as the exact end of
    // what may have been delivered in this view.
    if (!s || this.frozen || !this.current || viewId !== this.current.viewId || !this.isMember(from, inc)) return;
    const a = s.acks.get(from);
    if (!a) return;
    a.received = Math.max(a.received, Math.min(received, s.high));
    a.delivered = Math.max(a.delivered, Math.min(delivered, a.received));
    this.recomputeStable();
  }

  private recomputeStable(): void {
    const s = this.seq;
    if (!s) return;
    let stable = s.high;
    let gc = this.hasState ? this.delivered : this.current!.cut;
    for (const a of s.acks.values()) {
      stable = Math.min(stable, a.received);
      gc = Math.min(gc, a.delivered);
    }
    if (stable > s.stable) {
      s.stable = stable;
      this.scheduleFlush();
    }
    // gc only bounds the window: members learn it with the next ORDER, STABLE or heartbeat.
    if (gc > s.gc) s.gc = gc;
    this.learnStable(s.high, s.stable, s.gc);
  }

  private onNak(from: number, inc: number, viewId: number, lo: number, hi: number): void {
    const s = this.seq;
    if (!s || !this.current || viewId !== this.current.viewId || !this.isMember(from, inc)) return;
    const start = Math.max(lo, s.gc + 1);
    const end = Math.min(hi, s.high);
    if (start > end) return;
    const entries: Entry[] = [];
    let budget = 4 * this.opts.maxFrameBytes;
    for (let q = start; q <= end && budget > 0; q++) {
      const e = this.store.get(q);
      if (!e) break;
      entries.push(e);
      budget -= e.payload.length + 12;
    }
    if (!entries.length) return;
    this.stats.retransmitted += entries.length;
    for (const rec of this.orderRecords(start, entries, s.stable, s.gc)) this.queue(from, rec);
  }

  private flushAcks(): void {
    if (!this.current) return;
    const viewId = this.current.viewId;
    const s = this.seq;
    if (s) {
      for (const origin of s.ackDirty) {
        const m = this.current.members.find((x) => x.rank === origin);
        if (m) this.send(origin, { kind: 'submitAck', viewId, inc: m.inc, accepted: s.acceptedTo.get(origin) ?? 0 });
      }
      s.ackDirty.clear();
      if (s.hbDue || s.stable > s.announced) {
        s.hbDue = false;
        s.announced = s.stable;
        const rec = encodeRecord({ kind: 'stable', viewId, high: s.high, stable: s.stable, gc: s.gc });
        for (const m of this.current.members) this.queue(m.rank, rec);
      }
    } else if (this.ackDirty && !this.frozen && !this.outside) {
      this.ackDirty = false;
      const seqRef = this.sequencerRef();
      if (seqRef && this.isMember(this.rank, this.inc)) {
        // A joiner acknowledges nothing before it has the state: no message of a view becomes
        // stable (deliverable) while one of its members depends on a single state provider.
        const delivered = this.hasState ? this.delivered : this.current.cut;
        const received = this.hasState ? this.received : this.current.cut;
        this.ackedDelivered = delivered;
        this.ackedReceived = Math.max(this.ackedReceived, received);
        this.send(seqRef.rank, { kind: 'ack', viewId, received, delivered });
      }
    }
  }

  // ---------------------------------------------------------------- member: ordered stream

  private onOrder(
    from: number,
    inc: number,
    viewId: number,
    firstSeq: number,
    stable: number,
    gc: number,
    entries: Entry[],
  ): void {
    if (!this.current || viewId !== this.current.viewId || this.frozen || this.outside) return;
    if (!this.fromSequencer(from, inc)) return;
    const before = this.received;
    for (let i = 0; i < entries.length; i++) this.storeEntry(firstSeq + i, entries[i]!);
    if (this.received > before) this.ackDirty = true;
    const last = firstSeq + entries.length - 1;
    if (this.received < last) this.maybeNak(this.clock.now(), false);
    this.learnStable(Math.max(last, this.highKnown), stable, gc);
    if (this.ackDirty) this.scheduleFlush();
  }

  private storeEntry(seq: number, e: Entry): void {
    if (seq <= this.received || this.store.has(seq)) return;
    if (seq > this.received + 2 * this.opts.windowMessages) return;
    this.store.set(seq, e);
    this.storeBytes += e.payload.length;
    if (seq > this.highKnown) this.highKnown = seq;
    while (this.store.has(this.received + 1)) {
      this.received++;
      const got = this.store.get(this.received)!;
      if (got.origin === this.rank && got.inc === this.inc)
        this.submitAcked = Math.max(this.submitAcked, got.originSeq);
    }
  }

  private learnStable(high: number, stable: number, gc: number): void {
    if (high > this.highKnown) this.highKnown = high;
    if (stable > this.stableKnown) this.stableKnown = stable;
    if (gc > this.gcKnown) this.gcKnown = gc;
    this.deliverReady();
    this.collectGarbage();
  }

  private maybeNak(now: number, periodic: boolean): void {
    if (!this.current || this.frozen || this.outside || this.seq) return;
    if (this.received >= this.highKnown) return;
    if (now - this.lastNakAt < (periodic ? this.opts.retransmitMs : this.opts.retransmitMs / 2)) return;
    this.lastNakAt = now;
    this.stats.naks++;
    this.send(this.sequencerRef()!.rank, {
      kind: 'nak',
      viewId: this.current.viewId,
      from: this.received + 1,
      to: this.highKnown,
    });
  }

  private deliverReady(): void {
    if (!this.current || !this.hasState || this.hookBusy || this.outside || !this.current.primary) return;
    const limit = Math.min(this.stableKnown, this.received);
    if (limit > this.delivered) this.deliverUpTo(limit, this.current.viewId);
  }

  private deliverUpTo(limit: number, viewId: number): void {
    const before = this.delivered;
    while (this.delivered < limit && !this.stopped) {
      const seq = this.delivered + 1;
      const e = this.store.get(seq);
      if (!e) {
        this.log.error({ seq }, 'message to deliver is missing');
        break;
      }
      this.delivered = seq;
      this.recordDelivery(e, viewId, seq);
      if (e.origin === this.rank && e.inc === this.inc) this.ownDelivered(e.originSeq, viewId, seq);
      if (this.deliverHandler) {
        try {
          this.deliverHandler({ view: viewId, seq, sender: this.ids[e.origin]!, payload: e.payload });
        } catch (err) {
          this.log.error({ seq, err: (err as Error).message }, 'delivery handler threw');
        }
      }
    }
    if (this.delivered > before) {
      // The sequencer learns deliveries with the next ACK (sent on every receipt and heartbeat);
      // a standalone one only after a large step, so a full window reopens quickly.
      if (this.delivered - this.ackedDelivered >= Math.max(1, this.opts.windowMessages >> 2)) this.ackDirty = true;
      if (this.seq) this.recomputeStableLater();
      this.pump();
      this.scheduleFlush();
    }
  }

  private recomputeStableLater(): void {
    // The sequencer's own delivery moves gc; recompute after the delivery loop, not inside it.
    const s = this.seq!;
    const gc = this.delivered;
    let g = gc;
    for (const a of s.acks.values()) g = Math.min(g, a.delivered);
    if (g > s.gc) {
      s.gc = g;
      this.gcKnown = Math.max(this.gcKnown, g);
      this.collectGarbage();
    }
  }

  private recordDelivery(e: Entry, viewId: number, seq: number): void {
    let t = this.table.get(e.origin);
    if (!t) {
      t = { inc: e.inc, originSeq: 0, recent: [] };
      this.table.set(e.origin, t);
    }
    const expected = t.inc === e.inc ? t.originSeq + 1 : 1;
    if (e.originSeq !== expected || e.inc < t.inc)
      this.log.error(
        { origin: this.ids[e.origin], inc: e.inc, originSeq: e.originSeq, expected },
        'sender FIFO violated in the ordered stream',
      );
    t.inc = e.inc;
    t.originSeq = e.originSeq;
    t.recent.push([e.inc, e.originSeq, viewId, seq]);
    if (t.recent.length > Math.max(RECENT_PER_ORIGIN_MIN, this.opts.maxPending)) t.recent.shift();
  }

  private collectGarbage(): void {
    // Members drop what they delivered: a NAK never asks below the stable point, so only the
    // sequencer keeps messages until every member delivered them (the window accounting).
    const limit = this.seq
      ? Math.min(this.gcKnown, this.delivered, this.received)
      : Math.min(this.delivered, this.received);
    while (this.gcDone < limit) {
      this.gcDone++;
      const e = this.store.get(this.gcDone);
      if (e) {
        this.storeBytes -= e.payload.length;
        this.store.delete(this.gcDone);
      }
    }
    if (this.seq && this.seq.ready) this.scheduleFlush();
  }

  // ---------------------------------------------------------------- retransmission

  private retransmit(now: number): void {
    if (this.canSubmit() && this.outbox.length) {
      const last = this.outbox[this.outbox.length - 1]!.originSeq;
      if (last > this.submitAcked && now - this.lastSubmitAt >= this.opts.retransmitMs) {
        this.sentUpTo = this.submitAcked;
        if (this.sequencerRef()!.rank !== this.rank) this.stats.retransmitted++;
      }
    }
    this.maybeNak(now, true);
    const inc = this.incoming;
    if (inc && now - inc.lastReqAt >= this.opts.retransmitMs) {
      inc.lastReqAt = now;
      this.send(inc.provider, { kind: 'stateReq', viewId: inc.viewId, offset: inc.offset });
    }
  }

  // ---------------------------------------------------------------- heartbeats and view-change triggers

  private onHeartbeat(from: number, inc: number, viewId: number, status: StatusCode, probe: boolean): void {
    this.peerView[from] = viewId;
    this.peerStatus[from] = status;
    const now = this.clock.now();
    if (probe)
      this.send(from, {
        kind: 'hb',
        viewId: this.current?.viewId ?? 0,
        status: this.statusCode(),
        probe: false,
        round: this.promised.round,
      });
    const cur = this.current;
    if (cur && !this.outside && viewId < cur.viewId && this.isMember(from, inc)) {
      if (now - this.lastCommitSentTo[from]! >= this.opts.retransmitMs) {
        this.lastCommitSentTo[from] = now;
        this.send(from, { kind: 'commit', proposal: cur, ballot: this.currentBallot });
      }
    }
  }

  private considerViewChange(now: number): void {
    if (!this.started || this.stopped) return;
    let urgent = false;
    let slow = false;
    const cur = this.current;
    if (!cur || this.outside) urgent = true;
    else {
      for (const m of cur.members) {
        if (m.rank === this.rank) continue;
        if (this.peerInc[m.rank]! > m.inc || this.confirmedDead(m.rank, now)) urgent = true;
        else if (
          (this.peerStatus[m.rank] === Status.outside || this.peerView[m.rank]! < cur.viewId) &&
          now - this.installedAt > this.opts.viewChangeTimeoutMs
        )
          // A member that did not take up this view in time (it could not complete the previous
          // one, or it promised a newer ballot that never finished): a new view change brings it in.
          slow = true;
        else if (!this.frozen && this.peerView[m.rank] === cur.viewId && this.peerStatus[m.rank] === Status.frozen)
          slow = true;
      }
      for (let r = 0; r < this.n; r++) {
        if (r === this.rank || cur.members.some((m) => m.rank === r)) continue;
        if (!this.suspected(r, now) && this.peerView[r]! <= cur.viewId) urgent = true;
      }
      if (this.frozen && now - this.promisedAt > this.opts.viewChangeTimeoutMs) urgent = true;
    }
    if (now - this.requestedAt < this.opts.viewChangeTimeoutMs) urgent = true;
    if (!urgent && !slow) {
      this.reasonSince = undefined;
      return;
    }
    this.reasonSince ??= now;
    if (!urgent && now - this.reasonSince < this.opts.viewChangeTimeoutMs) return;
    if (this.coord) return;
    if (now - this.startedAt < this.opts.suspectTimeoutMs) return;
    // Someone else is running a ballot we promised: give it its time.
    if (this.promised.rank !== this.rank && now - this.promisedAt < this.opts.viewChangeTimeoutMs) return;
    if (now - this.lastAttemptAt < this.retryAfter) return;
    const alive = this.aliveRanks(now);
    const cand = alive[0]!;
    if (cand === this.rank) {
      this.startViewChange(now);
      return;
    }
    if (now - this.lastChangeReqAt >= this.opts.viewChangeTimeoutMs / 4) {
      this.lastChangeReqAt = now;
      this.send(cand, { kind: 'change', viewId: cur?.viewId ?? 0 });
    }
    const pos = alive.indexOf(this.rank);
    const candActive = now - this.lastPrepareFrom[cand]! < 2 * this.opts.viewChangeTimeoutMs;
    if (!candActive && now - this.reasonSince > this.opts.viewChangeTimeoutMs * (1 + pos)) this.startViewChange(now);
  }

  private onChangeRequest(viewId: number): void {
    if (this.current && viewId < this.current.viewId) return;
    this.requestedAt = this.clock.now();
    this.considerViewChange(this.requestedAt);
  }

  // ---------------------------------------------------------------- view change: acceptor

  private freeze(): void {
    if (this.current && !this.frozen) {
      this.frozen = true;
      this.log.debug({ viewId: this.current.viewId }, 'frozen for a view change');
    }
  }

  private makeReport(): Report {
    const entries: SeqEntry[] = [];
    if (this.current) {
      const seqs = [...this.store.keys()].filter((q) => q > this.stableKnown).sort((a, b) => a - b);
      for (const q of seqs) entries.push({ seq: q, ...this.store.get(q)! });
    }
    return {
      installed: this.current,
      hasState: this.hasState,
      delivered: this.delivered,
      received: this.current ? this.received : 0,
      stableKnown: this.current ? this.stableKnown : 0,
      acked: this.current ? Math.max(this.ackedReceived, this.current.cut) : 0,
      entries,
      accepted: this.accepted,
    };
  }

  private onPrepare(from: number, ballot: Ballot): void {
    const now = this.clock.now();
    this.lastPrepareFrom[from] = now;
    this.maxRound = Math.max(this.maxRound, ballot.round);
    if (compareBallots(ballot, this.promised) < 0) {
      this.send(from, { kind: 'reject', ballot, promised: this.promised });
      return;
    }
    if (compareBallots(ballot, this.promised) > 0) {
      this.promised = ballot;
      this.promisedAt = now;
      if (this.coord && compareBallots(this.coord.ballot, ballot) < 0) this.abandon('a higher ballot is running');
    }
    this.freeze();
    const report = this.makeReport();
    this.log.debug(
      {
        ballot,
        to: this.ids[from],
        installed: report.installed?.viewId,
        accepted: report.accepted.map((a) => a.proposal.viewId),
      },
      'promised',
    );
    this.send(from, { kind: 'promise', ballot, report });
  }

  private onAccept(from: number, ballot: Ballot, toInc: number, proposal: Proposal, prefix: SeqEntry[]): void {
    if (toInc !== this.inc) return;
    this.maxRound = Math.max(this.maxRound, ballot.round);
    if (compareBallots(ballot, this.promised) < 0) {
      this.send(from, { kind: 'reject', ballot, promised: this.promised });
      return;
    }
    if (this.current && this.hasState && this.delivered > proposal.cut) {
      // Never agree to a view that would undo a delivery (defence in depth: see decideView).
      this.log.warn({ delivered: this.delivered, cut: proposal.cut }, 'refused a proposal cut below a delivery');
      this.send(from, { kind: 'reject', ballot, promised: this.promised });
      return;
    }
    if (compareBallots(ballot, this.promised) > 0) {
      this.promised = ballot;
      this.promisedAt = this.clock.now();
    }
    this.acceptLocally(ballot, proposal, prefix);
    this.log.debug({ ballot, viewId: proposal.viewId, baseId: proposal.baseId, cut: proposal.cut }, 'accepted');
    this.send(from, { kind: 'accepted', ballot });
  }

  private acceptLocally(ballot: Ballot, proposal: Proposal, prefix: readonly SeqEntry[]): void {
    this.freeze();
    const cur = this.current;
    const survivor = cur !== undefined && cur.viewId === proposal.baseId && sameBallot(cur.tag, proposal.baseTag);
    // A survivor holds the prefix in its log; anyone else keeps it with the accepted proposal, so
    // that messages a flush will deliver are held by every acceptor, not only by the survivors.
    if (survivor) for (const e of prefix) this.storeEntry(e.seq, e);
    // Every proposal accepted since the last install is kept (a later one may name an earlier one
    // as its base, and a coordinator must be able to see both), one per view id.
    this.accepted = this.accepted.filter((a) => a.proposal.viewId !== proposal.viewId);
    this.accepted.push({ ballot, proposal, prefix: survivor ? [] : prefix });
    this.accepted.sort((a, b) => a.proposal.viewId - b.proposal.viewId);
    if (this.accepted.length > MAX_ACCEPTED) this.accepted.splice(0, this.accepted.length - MAX_ACCEPTED);
  }

  // ---------------------------------------------------------------- view change: coordinator

  private startViewChange(now: number): void {
    const round = Math.max(this.maxRound, this.promised.round) + 1;
    this.maxRound = round;
    const ballot: Ballot = { round, rank: this.rank };
    this.promised = ballot;
    this.promisedAt = now;
    this.lastAttemptAt = now;
    this.retryAfter = this.opts.viewChangeTimeoutMs * (0.5 + this.random.next());
    this.freeze();
    const expected = new Set(this.aliveRanks(now));
    this.coord = {
      ballot,
      phase: 'prepare',
      startedAt: now,
      phaseAt: now,
      lastSendAt: now,
      expected,
      promises: new Map([[this.rank, { inc: this.inc, report: this.makeReport() }]]),
      accepted: new Set(),
    };
    this.stats.viewChanges++;
    this.log.debug({ ballot, expected: [...expected].map((r) => this.ids[r]) }, 'view change started');
    for (let r = 0; r < this.n; r++) if (r !== this.rank) this.send(r, { kind: 'prepare', ballot });
    this.driveCoordination(now);
  }

  private abandon(why: string): void {
    if (!this.coord) return;
    this.log.debug({ ballot: this.coord.ballot, why }, 'view change attempt abandoned');
    this.coord = undefined;
  }

  private onPromise(from: number, inc: number, ballot: Ballot, report: Report): void {
    const c = this.coord;
    if (!c || c.phase !== 'prepare' || !sameBallot(c.ballot, ballot)) return;
    c.promises.set(from, { inc, report });
    this.driveCoordination(this.clock.now());
  }

  private onReject(ballot: Ballot, promised: Ballot): void {
    this.maxRound = Math.max(this.maxRound, promised.round);
    if (this.coord && sameBallot(this.coord.ballot, ballot)) this.abandon('rejected by a member that promised higher');
  }

  private onAccepted(from: number, inc: number, ballot: Ballot): void {
    const c = this.coord;
    if (!c || c.phase !== 'accept' || !sameBallot(c.ballot, ballot)) return;
    if (c.acceptors!.get(from) !== inc) return;
    c.accepted.add(from);
    this.driveCoordination(this.clock.now());
  }

  private quorum(promisers: ReadonlyMap<number, { report: Report }>): boolean {
    const size = promisers.size;
    let veterans = 0;
    for (const p of promisers.values()) if (p.report.installed) veterans++;
    if (veterans === 0) return size === this.n || (this.opts.bootstrapQuorum === 'majority' && size >= this.majority);
    if (this.failStop) return true;
    return size >= this.majority && (veterans >= this.majority || size === this.n);
  }

  private driveCoordination(now: number): void {
    const c = this.coord;
    if (!c) return;
    const resend = now - c.lastSendAt >= 2 * this.opts.retransmitMs;
    if (c.phase === 'prepare') {
      for (const r of [...c.expected]) if (r !== this.rank && this.confirmedDead(r, now)) c.expected.delete(r);
      const allExpected = [...c.expected].every((r) => c.promises.has(r));
      const elapsed = now - c.startedAt;
      const ready = c.promises.size === this.n || allExpected || elapsed >= this.opts.viewChangeTimeoutMs / 2;
      if (ready && this.quorum(c.promises)) {
        this.propose(c, now);
        return;
      }
      if (elapsed >= this.opts.viewChangeTimeoutMs) {
        this.abandon(`no quorum (${c.promises.size} of ${this.n} answered)`);
        return;
      }
      if (resend) {
        c.lastSendAt = now;
        for (let r = 0; r < this.n; r++)
          if (r !== this.rank && !c.promises.has(r)) this.send(r, { kind: 'prepare', ballot: c.ballot });
      }
      return;
    }
    if (c.acceptors && [...c.acceptors.keys()].every((r) => c.accepted.has(r))) {
      this.commit(c);
      return;
    }
    if (now - c.phaseAt >= this.opts.viewChangeTimeoutMs) {
      this.abandon('not every promiser accepted');
      return;
    }
    if (resend) {
      c.lastSendAt = now;
      for (const [r, inc] of c.acceptors!) if (!c.accepted.has(r)) this.sendAccept(c, r, inc);
    }
  }

  private sendAccept(c: Coordination, r: number, inc: number): void {
    this.send(r, {
      kind: 'accept',
      ballot: c.ballot,
      toInc: inc,
      proposal: c.proposal!,
      prefix: c.prefixes!.get(r) ?? [],
    });
  }

  private propose(c: Coordination, now: number): void {
    const built = this.buildProposal(c);
    if (typeof built === 'string') {
      this.log.warn({ ballot: c.ballot, why: built }, 'cannot form a view yet');
      this.abandon(built);
      return;
    }
    c.proposal = built.proposal;
    c.prefixes = built.prefixes;
    c.phase = 'accept';
    c.phaseAt = now;
    c.lastSendAt = now;
    c.acceptors = new Map([...c.promises].map(([r, p]) => [r, p.inc]));
    this.acceptLocally(c.ballot, built.proposal, built.prefixes.get(this.rank) ?? []);
    c.accepted.add(this.rank);
    for (const [r, inc] of c.acceptors) if (r !== this.rank) this.sendAccept(c, r, inc);
    this.driveCoordination(now);
  }

  private buildProposal(c: Coordination): ViewDecision | string {
    return decideView({
      ballot: c.ballot,
      self: this.rank,
      majority: this.majority,
      failStop: this.failStop,
      promises: [...c.promises].map(([rank, p]) => ({ rank, inc: p.inc, report: p.report })),
    });
  }

  private commit(c: Coordination): void {
    const p = c.proposal!;
    this.coord = undefined;
    const targets = new Set<number>([...p.members.map((m) => m.rank), ...c.acceptors!.keys()]);
    for (const r of targets) if (r !== this.rank) this.send(r, { kind: 'commit', proposal: p, ballot: c.ballot });
    this.log.debug({ viewId: p.viewId, cut: p.cut }, 'view decided');
    this.onCommit(p, c.ballot);
  }

  // ---------------------------------------------------------------- installing a view

  private onCommit(p: Proposal, ballot: Ballot): void {
    if (this.hookBusy) {
      if (!this.pendingCommit || p.viewId > this.pendingCommit.proposal.viewId)
        this.pendingCommit = { proposal: p, ballot };
      return;
    }
    const cur = this.current;
    if (cur && p.viewId <= cur.viewId) return;
    // A member that promised a higher ballot told that ballot's coordinator what it held without
    // this view. Installing it now would make that report untrue (it would acknowledge and deliver
    // here behind the coordinator's back, or stop being a survivor of the view the report named),
    // so it learns the outcome from the higher ballot instead; a later view change brings it along.
    if (compareBallots(this.promised, ballot) > 0) {
      this.log.debug(
        { viewId: p.viewId, ballot, promised: this.promised },
        'commit ignored: a higher ballot was promised',
      );
      return;
    }
    const me = p.members.find((m) => m.rank === this.rank);
    if (!me || me.inc !== this.inc) {
      if (!this.outside) this.log.info({ viewId: p.viewId }, 'a newer view excludes this member; will rejoin');
      this.outside = true;
      this.freeze();
      return;
    }
    if (p.baseId === 0) {
      if (cur) {
        this.outside = true;
        return;
      }
      this.hasState = true;
      this.delivered = 0;
      this.install(p, ballot, true);
      return;
    }
    const survivor =
      this.hasState &&
      cur !== undefined &&
      cur.viewId === p.baseId &&
      sameBallot(cur.tag, p.baseTag) &&
      this.received >= p.cut &&
      this.delivered <= p.cut;
    if (survivor) {
      this.deliverUpTo(p.cut, cur.viewId);
      if (this.delivered !== p.cut) {
        this.log.error({ delivered: this.delivered, cut: p.cut }, 'could not deliver up to the cut');
        this.outside = true;
        return;
      }
      this.install(p, ballot, true);
      return;
    }
    if (this.hasState && cur && this.delivered === p.cut) {
      // Already exactly at the cut (in a view the decision skipped, or in the base): nothing to
      // deliver, no state to fetch.
      this.install(p, ballot, true);
      return;
    }
    if (this.hasState && cur && this.delivered > p.cut && cur.viewId === p.baseId)
      this.log.error({ delivered: this.delivered, cut: p.cut }, 'delivered beyond the cut of the next view');
    if (!p.joiners.includes(this.rank) || p.provider < 0) {
      this.log.info({ viewId: p.viewId }, 'cannot complete the previous view; will rejoin');
      this.outside = true;
      this.freeze();
      return;
    }
    this.install(p, ballot, false);
  }

  private install(p: Proposal, ballot: Ballot, withState: boolean): void {
    const now = this.clock.now();
    this.current = p;
    this.currentBallot = ballot;
    this.installedAt = now;
    this.frozen = false;
    this.outside = false;
    this.accepted = this.accepted.filter((a) => a.proposal.viewId > p.viewId);
    this.coord = undefined;
    this.store.clear();
    this.storeBytes = 0;
    this.gcDone = p.cut;
    this.received = p.cut;
    this.stableKnown = p.cut;
    this.highKnown = p.cut;
    this.gcKnown = p.cut;
    this.ackedReceived = p.cut;
    this.snapshot = undefined;
    this.incoming = undefined;
    this.reasonSince = undefined;
    this.requestedAt = -Infinity;
    this.retryAfter = 0;
    this.sentUpTo = 0;
    this.submitAcked = 0;
    this.lastSubmitAt = -Infinity;
    for (const m of p.members)
      if (m.rank !== this.rank) this.lastHeard[m.rank] = Math.max(this.lastHeard[m.rank]!, now);
    this.seq = undefined;
    if (p.members[0]!.rank === this.rank) this.becomeSequencer();
    if (withState) {
      this.hasState = true;
      this.emitView(p);
      if (p.provider === this.rank && p.joiners.length) this.capture(p);
      this.stateReady();
    } else {
      this.hasState = false;
      this.incoming = { viewId: p.viewId, provider: p.provider, chunks: [], offset: 0, lastReqAt: -Infinity };
      this.retransmit(now);
    }
    this.ackDirty = true;
    this.scheduleFlush();
  }

  private emitView(p: Proposal): void {
    const view: View = {
      id: p.viewId,
      members: p.members.map((m) => this.ids[m.rank]!),
      primary: p.primary,
      cut: p.cut,
    };
    this.emitted = view;
    this.log.info(
      { viewId: view.id, members: view.members, cut: view.cut, sequencer: view.members[0] },
      'view installed',
    );
    if (this.viewHandler) {
      try {
        this.viewHandler(view);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'view handler threw');
      }
    }
  }

  /** Own broadcasts the table says were delivered resolve; the rest are submitted again. */
  private stateReady(): void {
    const t = this.table.get(this.rank);
    while (this.outbox.length && t && t.inc === this.inc && this.outbox[0]!.originSeq <= t.originSeq) {
      const p = this.outbox.shift()!;
      const rec = t.recent.find(([i, o]) => i === this.inc && o === p.originSeq);
      this.settle(p, { view: rec?.[2] ?? this.current!.viewId, seq: rec?.[3] ?? this.current!.cut });
    }
    this.readySequencer();
    this.pump();
    this.deliverReady();
    this.scheduleFlush();
  }

  private capture(p: Proposal): void {
    this.hookBusy = true;
    const table = this.tableSnapshot();
    const done = (app: Uint8Array): void => {
      this.hookBusy = false;
      if (this.current === p) this.snapshot = { viewId: p.viewId, bytes: encodeSnapshot(table, app) };
      this.afterHook();
    };
    const fail = (err: unknown): void => {
      this.log.error({ err: (err as Error)?.message, cut: p.cut }, 'state capture failed; retrying');
      this.clock.setTimer(this.opts.retransmitMs, () => {
        if (this.stopped) return;
        this.hookBusy = false;
        if (this.current === p) this.capture(p);
        else this.afterHook();
      });
    };
    try {
      const result = this.hook ? this.hook.capture(p.cut) : new Uint8Array(0);
      if (result instanceof Uint8Array) done(result);
      else Promise.resolve(result).then(done, fail);
    } catch (err) {
      fail(err);
    }
  }

  private afterHook(): void {
    if (this.stopped) return;
    const pending = this.pendingCommit;
    this.pendingCommit = undefined;
    if (pending) this.onCommit(pending.proposal, pending.ballot);
    this.deliverReady();
    this.scheduleFlush();
  }

  private tableSnapshot(): Map<number, OriginRecord> {
    const out = new Map<number, OriginRecord>();
    for (const [rank, t] of this.table) out.set(rank, { inc: t.inc, originSeq: t.originSeq, recent: t.recent.slice() });
    return out;
  }

  private onStateRequest(from: number, viewId: number, offset: number): void {
    const snap = this.snapshot;
    if (!snap || snap.viewId !== viewId || offset > snap.bytes.length) return;
    const data = snap.bytes.subarray(offset, Math.min(snap.bytes.length, offset + this.opts.stateChunkBytes));
    this.send(from, { kind: 'stateChunk', viewId, total: snap.bytes.length, offset, data });
  }

  private onStateChunk(from: number, viewId: number, total: number, offset: number, data: Uint8Array): void {
    const inc = this.incoming;
    if (!inc || inc.viewId !== viewId || from !== inc.provider || offset !== inc.offset) return;
    if (data.length === 0 && offset < total) return;
    inc.chunks.push(data);
    inc.offset += data.length;
    if (inc.offset < total) {
      inc.lastReqAt = this.clock.now();
      this.send(inc.provider, { kind: 'stateReq', viewId, offset: inc.offset });
      return;
    }
    const bytes = new Uint8Array(inc.offset);
    let at = 0;
    for (const c of inc.chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    this.incoming = undefined;
    let decoded: ReturnType<typeof decodeSnapshot>;
    try {
      decoded = decodeSnapshot(bytes, this.n);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'state transfer snapshot malformed; asking again');
      this.incoming = { viewId, provider: from, chunks: [], offset: 0, lastReqAt: -Infinity };
      return;
    }
    this.installState(this.current!, decoded.table, decoded.app);
  }

  private installState(p: Proposal, table: Map<number, OriginRecord>, app: Uint8Array): void {
    this.table.clear();
    for (const [rank, t] of table)
      this.table.set(rank, {
        inc: t.inc,
        originSeq: t.originSeq,
        recent: t.recent.map((x) => [...x] as [number, number, number, number]),
      });
    this.emitView(p);
    const finish = (): void => {
      this.hookBusy = false;
      if (this.current !== p || this.stopped) {
        this.afterHook();
        return;
      }
      this.hasState = true;
      this.delivered = p.cut;
      this.gcDone = Math.max(this.gcDone, p.cut);
      this.ackDirty = true;
      this.stateReady();
      this.afterHook();
    };
    this.hookBusy = true;
    try {
      const r = this.hook?.install(app, p.cut);
      if (r && typeof (r as Promise<void>).then === 'function')
        (r as Promise<void>).then(finish, (err: unknown) => {
          this.log.error({ err: (err as Error)?.message }, 'state install failed');
          finish();
        });
      else finish();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'state install threw');
      finish();
    }
  }
}
