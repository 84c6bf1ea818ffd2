/**
 * The token ring ordering protocol, after Totem's single-ring protocol (Amir et al. 1995, as in
 * Corosync), with a Paxos-style decision for each view change so that views form one chain and
 * safe delivery holds across crashes, partitions and restarts without stable storage.
 *
 * ## Members, rings, views
 * A *ring* is one round of membership: a set of members (configured order is ring order), named by
 * a *ballot* `ringSeq * 1024 + representative index` that totally orders rounds. A ring is
 * *primary* when its round qualifies (see Quorum); only a primary ring installs a *view* and
 * stamps messages. Minority rings keep the token moving for failure detection and merge probing,
 * install no view (the member keeps its last primary view and reports role `non-primary`) and
 * stamp nothing, so their members' undelivered messages of the last primary view stay valid.
 *
 * ## Token (operational)
 * `{ ring, tokenSeq, phase, seq, arus[], dlv[], ready[], rtr[], sent[], backlog[], hurry }`:
 * - `seq`: last global sequence number stamped (starts at the view's cut, so seqs are global).
 * - `arus[i]`: member i's all-received-up-to as of its last visit (the vector form of Totem's aru).
 * - `dlv[i]`: what member i had delivered at its last visit; messages up to `min(dlv)` are dropped.
 * - `rtr`: retransmission requests; a visitor re-sends what it holds and adds its own gaps.
 * - `sent[i]`, `backlog[i]`: flow control (below). `hurry`: hops during which nobody holds it.
 * On a visit a member serves `rtr`, stamps up to its allowance (each message goes to every ring
 * member), lowers nothing but its own `arus[i]`, requests its gaps, then delivers everything up to
 * `min(arus)`: every member has reported holding it, which is safe delivery (uniform agreement).
 * Each hop is acknowledged; the sender re-sends every `tokenRetransmitMs` until acknowledged, and
 * the receiver drops any `tokenSeq` it has seen (duplicates, reordering).
 *
 * Flow control: over any rotation at most `window` messages are stamped (`window - sum(sent of
 * the others)` is free), at most `maxPerVisit` per visit, split in proportion to each member's
 * backlog (every member with a backlog gets at least one per rotation); no message is stamped
 * while `2 * window` stamped messages are not yet held by all. Broadcasts wait in the local
 * backlog meanwhile.
 *
 * Idle: when nothing is pending anywhere (`min(arus) == min(dlv) == seq`, no rtr, no backlog) the
 * holder keeps the token for `holdMs` (capped at `tokenLossMs / (2 * ring size)` so the token
 * still visits every member well within the loss timeout). A member with new work sends WANT, and
 * the holder lets the token go at once with `hurry` set for one rotation.
 *
 * ## States
 * - gather: JOIN `{ inc, promised, gather, proc, fail }` to every configured member every
 *   `joinMs`. Fail sets are adopted only from members of the ring this member left (Totem); a
 *   member that lists me as failed goes in mine; JOINs of an older gather of the same sender
 *   incarnation are ignored. Consensus: every member not in my fail set has sent me a JOIN, in this
 *   gather, with my fail set. Members silent or still disagreeing after `consensusMs` join the fail
 *   set. On consensus the representative (first non-failed member) creates the commit token with a
 *   ballot above every promise it has heard. A ring member that receives a JOIN from an outsider
 *   that excludes it does not break its ring for it: merge probes bring the two together later.
 * - commit: rotation 1 of the commit token: each member promises the ballot (refusing any lower
 *   one ever after: Paxos phase 1) and appends its info (installed view, delivered, accepted plan,
 *   messages held of that view's ring). Back at the representative, `decidePlan` (plan.ts) decides
 *   the round; rotation 2 carries plan and infos to everyone, who *accepts* it (Paxos phase 2).
 * - recovery: the regular token circulates with `phase = 0`. Every member must hold the base
 *   view's messages `(lo, end]` (joiners too, so a later round can always finish the plan; a
 *   member keeps its own view's messages beside them, in case a later round must finish that view
 *   instead); the first holder of each missing message sends it, and `rtr` covers losses. When the
 *   token shows every member holds all of it, a member installs: transitional members deliver up
 *   to `end` in the base view, install the new view (cut `end`), and the state provider captures
 *   the state; joiners receive it (acknowledged chunks), install the view, then the state, and
 *   only then deliver. A joiner is ready once the whole state has arrived (it depends on its
 *   provider no longer), so the ring does not wait for the application's install: when every member
 *   is ready the token turns operational, and the joiner delivers once its install is done.
 * - operational: as above. Token loss (`tokenLossMs` without the token), a JOIN from a
 *   non-member (or from a member that has left this ring), a merge probe, a peer-down hint or a
 *   member that fails to receive for `failToReceiveRotations` rotations start a gather.
 *
 * ## Quorum and decisions (plan.ts)
 * A round is primary when it holds a strict majority of the configured members and at least
 * half of the configured members are non-fresh (installed a view in this incarnation: a restarted
 * member remembers nothing), so the remembering members meet every majority; or when it holds
 * every configured member (cold start; and the only way on after a majority lost its memory,
 * logged as an error). `fail-stop` makes every round primary. The base is the latest view
 * installed among the members; `end` is the highest-ballot accepted plan's for that base if any
 * (it may be installed somewhere), or the cut of a later view only absent members installed (it
 * never operated), else the longest prefix of the base ring the members hold between them.
 *
 * ## Invariants
 * 1. A message stamped `s` in view V is delivered in V, at every member, only once every member
 *    of V holds it (min(arus) >= s), or during recovery once every member of the next ring holds it.
 * 2. A plan installs only after every member of its round accepted it and holds `(lo, end]`; the
 *    remembering members of a later round meet that round, and promises make them report the
 *    accepted plan, so no two installed plans for the same base differ in `end` (no two histories).
 * 3. `end` covers everything any member of the base view delivered (each such message is held by
 *    every base member, so by every transitional member of any later round).
 * 4. A view installs only after its predecessor's messages up to its cut were delivered, at every
 *    transitional member the same ones (virtual synchrony); joiners start from a state captured
 *    exactly at the cut; seqs continue at `cut + 1`.
 * 5. A sender's undelivered messages are sent again after a view change only when the new view's
 *    history shows they were not delivered (own recovery, or the transferred sender table), in
 *    their original order (no duplication, sender FIFO).
 */
import { inject, injectable } from 'tsyringe';
import {
  BodyReader,
  BodyWriter,
  CLOCK,
  ConfigError,
  GROUP,
  LOGGER,
  NETWORK,
  BroadcastRejectedError,
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
import { TOKEN_RING_OPTIONS, type ResolvedTokenRingOptions } from './options';
import {
  decidePlan,
  isTransitional,
  recoveryDuties,
  recoveryStart,
  rememberEnough,
  stateProvider,
  toRanges,
} from './plan';
import { SenderTable } from './sender-table';
import {
  BALLOT_SPAN,
  Kind,
  MAX_MEMBERS,
  decode,
  encode,
  type AckMsg,
  type AcceptedPlan,
  type CommitMsg,
  type DataMsg,
  type JoinMsg,
  type MemberInfo,
  type MemberRef,
  type Plan,
  type RingKey,
  type StateMsg,
  type TokenMsg,
  type ViewRecord,
  type WireMsg,
} from './wire';

/** A broadcast whose outcome was lost with the history of a view this member was not part of. */
export class DeliveryUnknownError extends VclError {
  override readonly code = 'VCL_DELIVERY_UNKNOWN';
}

type State = 'idle' | 'gather' | 'commit' | 'recovery' | 'operational' | 'stopped';

const RTR_MAX = 256;
/** State chunks in flight to one joiner beyond what it acknowledged. */
const STATE_WINDOW = 16;

interface Outbound {
  readonly fifo: number;
  readonly payload: Uint8Array;
  stamped?: { readonly tag: number; readonly seq: number };
  settled: boolean;
  resolve(o: Ordered): void;
  reject(e: unknown): void;
  unlisten?: () => void;
}

interface Installed {
  readonly record: ViewRecord;
  readonly view: View;
}

interface PendingSend {
  readonly to: MemberId;
  readonly bytes: Uint8Array;
  readonly seq: number;
  readonly commit: boolean;
  timer?: Timer;
}

interface Gather {
  /** Members of the ring this member left: their fail sets are adopted (Totem). */
  readonly prev: ReadonlySet<number>;
  readonly fail: Set<number>;
  readonly joins: Map<number, { readonly failKey: string; readonly promised: number }>;
  consensus: boolean;
  /** The fail set when the consensus timer last fired (no change since: a stuck disagreement). */
  lastTimeoutKey?: string;
}

interface Ring {
  readonly key: RingKey;
  readonly members: readonly MemberRef[];
  readonly ids: readonly MemberId[];
  readonly pos: number;
  readonly n: number;
  lastCommitHop: number;
  lastTokenSeq: number;
  plan?: Plan;
  infos?: readonly MemberInfo[];
  transitional: boolean;
  provider?: number;
  recoveryStart: number;
  /** Where this member keeps the base ring's messages during recovery. */
  baseStore?: Store;
  installed: boolean;
  ready: boolean;
  joining: boolean;
  newView?: Installed;
  myAru: number;
  held?: MutableToken;
  holdTimer?: Timer;
  pending?: PendingSend;
  wanted: boolean;
  wantSent: boolean;
  lastArus: number[];
  stall: number[];
  stateChunks?: Uint8Array[];
  stateAcked: Map<number, number>;
  stateSent: Map<number, number>;
  stateTimer?: Timer;
  incoming?: { total: number; chunks: (Uint8Array | undefined)[]; got: number };
}

/** Messages of one ring held by this member, keyed by seq. */
interface Store {
  tag: number;
  floor: number;
  readonly msgs: Map<number, DataMsg>;
}

/** The token ring member. Built by `tokenRing()`; see the module comment for the protocol. */
@injectable()
export class TokenRing implements OrderingProtocol {
  readonly self: MemberId;

  private readonly ids: readonly MemberId[];
  private readonly me: number;
  private readonly inc: number;
  private readonly failStop: boolean;
  private readonly log: Logger;
  private readonly maxInFlight: number;

  private state: State = 'idle';
  private gather?: Gather;
  private ring?: Ring;
  private installed?: Installed;
  private delivered = 0;
  private accepted?: AcceptedPlan;
  private promised = 0;
  private readonly knownInc: number[];
  /** Per member: incarnation and gather counter of the latest JOIN heard. */
  private readonly joinEpoch: { inc: number; gather: number }[];
  private gatherCount = 0;
  /** Messages of the installed view's ring (tag 0: none yet). */
  private readonly store: Store = { tag: 0, floor: 0, msgs: new Map() };
  /** Messages of the ring the accepted plan finishes, when that is not the installed view's ring. */
  private planStore?: Store;
  private senders: SenderTable;

  private fifo = 0;
  private installing?: Promise<void>;
  private backlog: Outbound[] = [];
  private readonly outstanding = new Map<number, Outbound>();

  private lastProgress = 0;
  private lossTimer?: Timer;
  private joinTimer?: Timer;
  private consensusTimer?: Timer;
  private mergeTimer?: Timer;

  private deliverHandler?: (d: Delivery) => void;
  private viewHandler?: (v: View) => void;
  private hook?: StateTransfer;

  private readonly stats = { rounds: 0, views: 0, tokenRetransmits: 0, msgRetransmits: 0, malformed: 0 };

  constructor(
    @inject(NETWORK) private readonly network: Network,
    @inject(CLOCK) private readonly clock: Clock,
    @inject(RANDOM) private readonly random: Random,
    @inject(LOGGER) logger: Logger,
    @inject(GROUP) group: GroupConfig,
    @inject(TOKEN_RING_OPTIONS) private readonly options: ResolvedTokenRingOptions,
  ) {
    this.self = group.self;
    this.ids = [...group.members];
    this.me = this.ids.indexOf(group.self);
    const issues = [];
    if (this.me < 0) issues.push({ path: 'group.self', message: `${group.self} is not a configured member` });
    if (network.self !== group.self)
      issues.push({ path: 'group.self', message: `network is ${network.self}, group says ${group.self}` });
    if (new Set(this.ids).size !== this.ids.length)
      issues.push({ path: 'group.members', message: 'member ids must be unique' });
    if (this.ids.length > MAX_MEMBERS)
      issues.push({ path: 'group.members', message: `at most ${MAX_MEMBERS} members, got ${this.ids.length}` });
    if (group.partition === 'fail-stop' && this.ids.length > 2)
      issues.push({
        path: 'group.partition',
        message: `fail-stop is only for 2-member groups, this one has ${this.ids.length}`,
        hint: 'use primary-component: with 3 or more members a majority can always go on',
      });
    if (issues.length) throw new ConfigError('tokenring group', issues);
    this.inc = network.incarnation;
    this.failStop = group.partition === 'fail-stop';
    this.log = logger.child({ member: this.self, plugin: 'tokenring' });
    this.knownInc = this.ids.map(() => 0);
    this.knownInc[this.me] = this.inc;
    this.joinEpoch = this.ids.map(() => ({ inc: 0, gather: 0 }));
    this.maxInFlight = 2 * options.window;
    this.senders = new SenderTable(this.maxInFlight + options.maxPerVisit);
  }

  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    this.network.onMessage((from, bytes) => this.onMessage(from, bytes));
    this.network.onPeerDown((peer) => this.onPeerDown(peer));
    this.log.info({ incarnation: this.inc, members: this.ids }, 'token ring member starting');
    this.enterGather('start');
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.leaveRing();
    this.clearGatherTimers();
    this.lossTimer?.cancel();
    this.mergeTimer?.cancel();
    this.state = 'stopped';
    const err = new StoppedError(`token ring member ${this.self} stopped`);
    for (const ob of [...this.backlog, ...this.outstanding.values()]) this.settle(ob, undefined, err);
    this.backlog = [];
    this.outstanding.clear();
    this.log.info({}, 'token ring member stopped');
  }

  broadcast(payload: Uint8Array, signal?: AbortSignal): Promise<Ordered> {
    if (this.state === 'stopped') return Promise.reject(new StoppedError(`token ring member ${this.self} stopped`));
    if (!(payload instanceof Uint8Array))
      return Promise.reject(new BroadcastRejectedError('broadcast payload must be a Uint8Array'));
    if (payload.length > this.options.maxMessageBytes)
      return Promise.reject(
        new BroadcastRejectedError(
          `broadcast payload of ${payload.length} bytes exceeds maxMessageBytes (${this.options.maxMessageBytes})`,
        ),
      );
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Ordered>((resolve, reject) => {
      const ob: Outbound = { fifo: ++this.fifo, payload: payload.slice(), settled: false, resolve, reject };
      if (signal) {
        const onAbort = (): void => {
          if (ob.settled) return;
          // Not stamped yet: it never enters the order. Stamped: it may still be delivered.
          if (!ob.stamped) this.backlog = this.backlog.filter((b) => b !== ob);
          this.settle(ob, undefined, signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        ob.unlisten = () => signal.removeEventListener('abort', onAbort);
      }
      this.backlog.push(ob);
      this.wake();
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
    return this.installed?.view;
  }

  status(): OrderingStatus {
    const r = this.ring;
    let role: string = this.state;
    if (this.state === 'operational' && r) {
      if (!r.plan?.primary) role = 'non-primary';
      else role = r.held ? 'token-holder' : 'member';
    } else if (this.state === 'recovery' && r && r.installed && !r.ready) role = 'joining';
    return {
      view: this.installed?.view,
      role,
      pending: this.backlog.length + this.outstanding.size,
      delivered: this.delivered,
      details: {
        ring: r ? `${Math.floor(r.key.ballot / BALLOT_SPAN)}/${this.ids[r.key.ballot % BALLOT_SPAN]}` : '',
        ringSize: r?.n ?? 0,
        ...this.stats,
      },
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Input

  private onMessage(from: MemberId, bytes: Uint8Array): void {
    if (this.state === 'stopped' || this.state === 'idle') return;
    const index = this.ids.indexOf(from);
    if (index < 0) {
      this.stats.malformed++;
      this.log.warn({ from }, 'message from a member that is not configured; dropped');
      return;
    }
    let msg: WireMsg;
    try {
      msg = decode(bytes, this.ids.length);
    } catch (err) {
      this.stats.malformed++;
      this.log.warn({ from, err: (err as Error).message }, 'malformed token ring message; dropped');
      return;
    }
    switch (msg.kind) {
      case Kind.Join:
        return this.onJoin(index, msg);
      case Kind.Commit:
        return this.onCommit(index, msg);
      case Kind.Token:
        return this.onToken(index, msg);
      case Kind.Ack:
        return this.onAck(msg);
      case Kind.Data:
        return this.onData(msg);
      case Kind.Want:
        return this.onWant(msg.ring);
      case Kind.Probe:
        return this.onProbe(index, msg.ring);
      case Kind.State:
        return this.onState(index, msg);
      case Kind.StateAck:
        return this.onStateAck(index, msg.ring, msg.got);
    }
  }

  /**
   * The link to `peer` broke. A hint, not a verdict, but a crashed member is the usual cause: the
   * round starts without waiting `consensusMs` for it. If it is in fact alive, it rejoins through
   * the next merge.
   */
  private onPeerDown(peer: MemberId): void {
    const index = this.ids.indexOf(peer);
    if (index < 0 || index === this.me || this.state === 'stopped' || this.state === 'idle') return;
    if (this.state === 'gather') {
      const g = this.gather!;
      if (g.consensus || g.fail.has(index)) return;
      g.fail.add(index);
      this.sendJoin();
      this.checkConsensus();
      return;
    }
    if (this.ring?.ids.includes(peer)) this.enterGather(`peer ${peer} down`, [index]);
  }

  // ---------------------------------------------------------------------------------------------
  // Gather

  private enterGather(reason: string, failed: readonly number[] = []): void {
    this.log.debug({ reason, failed: failed.map((i) => this.ids[i]) }, 'gather');
    const prev = new Set(this.ring?.members.map((m) => m.index) ?? []);
    this.leaveRing();
    this.clearGatherTimers();
    this.stats.rounds++;
    this.gatherCount++;
    this.state = 'gather';
    this.gather = { prev, fail: new Set(failed.filter((i) => i !== this.me)), joins: new Map(), consensus: false };
    this.touch();
    this.sendJoin();
    this.scheduleJoin();
    this.scheduleConsensus();
    this.checkConsensus();
  }

  private scheduleJoin(): void {
    const ms = this.options.joinMs * (0.75 + 0.5 * this.random.next());
    this.joinTimer = this.clock.setTimer(ms, () => {
      if (this.state !== 'gather') return;
      this.sendJoin();
      this.scheduleJoin();
    });
  }

  private scheduleConsensus(): void {
    this.consensusTimer = this.clock.setTimer(this.options.consensusMs, () => {
      const g = this.gather;
      if (this.state !== 'gather' || !g) return;
      // Agreement can be lost again (a member changes its fail set): keep the timer running.
      if (g.consensus) {
        this.scheduleConsensus();
        return;
      }
      // First give up on the silent members only (Totem): members that answer but disagree are
      // usually a step behind (they fail the same silent ones at their own timeout), and failing
      // them too would split live members apart. Only a disagreement that outlasts a whole period
      // without any change here counts against them.
      const stuck = g.lastTimeoutKey === failKey(g.fail);
      let changed = false;
      for (let i = 0; i < this.ids.length; i++) {
        if (i === this.me || g.fail.has(i) || g.joins.has(i)) continue;
        g.fail.add(i);
        changed = true;
      }
      if (!changed && stuck) {
        const mine = failKey(g.fail);
        for (let i = 0; i < this.ids.length; i++) {
          if (i === this.me || g.fail.has(i) || g.joins.get(i)?.failKey === mine) continue;
          g.fail.add(i);
          changed = true;
        }
      }
      g.lastTimeoutKey = failKey(g.fail);
      if (changed) this.sendJoin();
      this.scheduleConsensus();
      this.checkConsensus();
    });
  }

  private clearGatherTimers(): void {
    this.joinTimer?.cancel();
    this.consensusTimer?.cancel();
    this.joinTimer = this.consensusTimer = undefined;
  }

  private sendJoin(): void {
    const g = this.gather;
    if (!g) return;
    const msg: JoinMsg = {
      kind: Kind.Join,
      inc: this.inc,
      promised: this.promised,
      gather: this.gatherCount,
      proc: this.ids.map((_, index) => ({ index, inc: this.knownInc[index]! })),
      fail: [...g.fail].sort((a, b) => a - b),
    };
    const bytes = encode(msg);
    for (let i = 0; i < this.ids.length; i++) if (i !== this.me) this.network.send(this.ids[i]!, bytes);
  }

  private onJoin(from: number, m: JoinMsg): void {
    if (m.inc < this.knownInc[from]!) return;
    const restarted = m.inc > this.knownInc[from]!;
    // Reordered JOINs of an earlier gather of the same sender carry stale fail sets.
    const epoch = this.joinEpoch[from]!;
    if (m.inc === epoch.inc && m.gather < epoch.gather) return;
    this.joinEpoch[from] = { inc: m.inc, gather: m.gather };
    this.knownInc[from] = m.inc;
    for (const ref of m.proc)
      if (ref.index !== this.me && ref.inc > this.knownInc[ref.index]!) this.knownInc[ref.index] = ref.inc;
    // A JOIN that fails an older incarnation of this member (queued on a link while it was down,
    // delivered to it after its restart) says nothing about this one: taken as excluding it, this
    // member would fail the sender in turn, and the others re-form without it once per such JOIN.
    const excludesMe = m.fail.includes(this.me) && m.proc.some((p) => p.index === this.me && p.inc === this.inc);

    if (this.state !== 'gather') {
      const r = this.ring;
      const member = r?.members.find((x) => x.index === from);
      if (member && member.inc === m.inc) {
        // A JOIN sent before this ring formed: its sender promised less than our ballot.
        if (m.promised < r!.key.ballot) return;
      } else if (excludesMe && !restarted) {
        // An outsider that will not have us this round: merge later, through probes, instead of
        // breaking this ring for a round that cannot include us.
        return;
      }
      this.enterGather(`join from ${this.ids[from]}`);
    }
    const g = this.gather!;
    if (restarted) g.fail.delete(from);
    if (g.fail.has(from)) return;
    let changed = false;
    if (excludesMe) {
      g.fail.add(from);
      changed = true;
    } else {
      if (g.prev.has(from))
        for (const f of m.fail)
          if (f !== this.me && !g.fail.has(f)) {
            g.fail.add(f);
            changed = true;
          }
      g.joins.set(from, { failKey: failKey(m.fail), promised: m.promised });
    }
    if (changed) {
      g.consensus = false;
      this.sendJoin();
    }
    this.checkConsensus();
  }

  private checkConsensus(): void {
    const g = this.gather;
    if (this.state !== 'gather' || !g || g.consensus) return;
    const mine = failKey(g.fail);
    const members = this.candidates(g);
    for (const i of members) if (i !== this.me && g.joins.get(i)?.failKey !== mine) return;
    g.consensus = true;
    this.touch();
    this.log.debug({ members: members.map((i) => this.ids[i]) }, 'gather consensus');
    if (members[0] === this.me) this.createCommit(members, g);
  }

  private candidates(g: Gather): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.ids.length; i++) if (!g.fail.has(i)) out.push(i);
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Commit

  private createCommit(members: readonly number[], g: Gather): void {
    let top = Math.floor(this.promised / BALLOT_SPAN);
    for (const j of g.joins.values()) top = Math.max(top, Math.floor(j.promised / BALLOT_SPAN));
    const msg: CommitMsg = {
      kind: Kind.Commit,
      ring: { ballot: (top + 1) * BALLOT_SPAN + this.me, repInc: this.inc },
      members: members.map((index) => ({ index, inc: this.knownInc[index]! })),
      rotation: 1,
      hop: 0,
      infos: [],
    };
    this.onCommit(this.me, msg);
  }

  private onCommit(from: number, m: CommitMsg): void {
    const r = this.ring;
    if (r && sameKey(r.key, m.ring)) {
      if (from !== this.me) this.ack(from, m.ring, true, m.hop);
      if (m.hop <= r.lastCommitHop) return;
      r.lastCommitHop = m.hop;
      this.touch();
      if (r.pos === 0) {
        if (m.rotation === 1 && this.state === 'commit' && m.infos.length === r.n) this.decide(r, m);
        else if (m.rotation === 2 && r.plan) this.startToken(r);
      } else if (
        m.rotation === 2 &&
        this.state === 'commit' &&
        m.plan &&
        m.infos.length === r.n &&
        m.infos.every((info, k) => info.index === r.members[k]!.index)
      ) {
        this.applyPlan(r, m.plan, m.infos);
        this.forwardCommit(r, { ...m, hop: m.hop + 1 });
      }
      return;
    }
    if (this.state !== 'gather' || m.rotation !== 1) return;
    const g = this.gather!;
    if (m.ring.ballot <= this.promised) return;
    const mine = this.candidates(g);
    if (mine.length !== m.members.length || mine.some((idx, k) => m.members[k]!.index !== idx)) return;
    const pos = m.members.findIndex((x) => x.index === this.me);
    if (m.infos.length !== pos || m.infos.some((info, k) => info.index !== m.members[k]!.index)) {
      this.stats.malformed++;
      this.log.warn({ from: this.ids[from] }, 'commit token with infos out of ring order; dropped');
      return;
    }
    for (const ref of m.members) {
      if (ref.index === this.me ? ref.inc !== this.inc : ref.inc < this.knownInc[ref.index]!) return;
      this.knownInc[ref.index] = Math.max(this.knownInc[ref.index]!, ref.inc);
    }
    if (from !== this.me) this.ack(from, m.ring, true, m.hop);
    // Phase 1: promise the ballot and report what this member knows.
    this.promised = m.ring.ballot;
    this.clearGatherTimers();
    this.gather = undefined;
    this.state = 'commit';
    const ring = this.newRing(m.ring, m.members);
    ring.lastCommitHop = m.hop;
    this.ring = ring;
    this.touch();
    const infos = [...m.infos, this.info()];
    if (ring.pos === 0 && ring.n === 1) this.decide(ring, { ...m, infos });
    else this.forwardCommit(ring, { ...m, hop: m.hop + 1, infos });
  }

  private decide(r: Ring, m: CommitMsg): void {
    const plan = decidePlan(m.infos, this.ids.length, this.failStop);
    this.log.debug({ plan, members: r.ids }, 'round decided');
    const remembering = m.infos.filter((i) => i.view !== undefined).length;
    if (plan.primary && !this.failStop && plan.base.id > 0 && !rememberEnough(remembering, this.ids.length))
      this.log.error(
        { remembering, members: this.ids.length, base: plan.base.id, end: plan.end },
        'a majority of the members restarted and lost their state; going on from what the others remember ' +
          '(messages only the restarted members had delivered may be lost)',
      );
    this.applyPlan(r, plan, m.infos);
    if (r.n === 1) this.startToken(r);
    else this.forwardCommit(r, { ...m, rotation: 2, hop: m.hop + 1, plan });
  }

  /** Phase 2: accept the plan, and start sending what others miss of the base ring. */
  private applyPlan(r: Ring, plan: Plan, infos: readonly MemberInfo[]): void {
    r.plan = plan;
    r.infos = infos;
    this.scheduleMerge();
    if (!plan.primary) {
      this.state = 'operational';
      return;
    }
    this.state = 'recovery';
    this.accepted = { ballot: r.key.ballot, base: plan.base, end: plan.end, nextId: plan.nextId };
    const mine = infos.find((i) => i.index === this.me)!;
    r.transitional = isTransitional(plan, mine);
    r.provider = stateProvider(plan, infos);
    r.recoveryStart = recoveryStart(plan, mine);
    const tag = plan.base.ballot;
    let st = this.storeFor(tag);
    // A member keeps its own view's messages even when the plan finishes another ring: a later
    // round may have to finish its own view instead, if the plan's base installers all vanish.
    if (!st) st = this.planStore = { tag, floor: r.recoveryStart, msgs: new Map() };
    else st.floor = Math.min(st.floor, r.recoveryStart);
    r.baseStore = st;
    for (const [seq, to] of recoveryDuties(plan, infos, this.me)) {
      const d = st.msgs.get(seq);
      if (!d) continue;
      const bytes = encode(d);
      for (const t of to) this.network.send(this.ids[t]!, bytes);
    }
  }

  private forwardCommit(r: Ring, m: CommitMsg): void {
    this.sendReliably(r, r.ids[(r.pos + 1) % r.n]!, encode(m), m.hop, true);
  }

  private info(): MemberInfo {
    const holding = (st: Store) => ({ tag: st.tag, ranges: toRanges([...st.msgs.keys()].sort((a, b) => a - b)) });
    const holdings = [];
    if (this.store.tag !== 0) holdings.push(holding(this.store));
    if (this.planStore) holdings.push(holding(this.planStore));
    return {
      index: this.me,
      inc: this.inc,
      view: this.installed?.record,
      delivered: this.delivered,
      accepted: this.accepted,
      holdings,
    };
  }

  private storeFor(tag: number): Store | undefined {
    if (tag === 0) return undefined;
    if (this.store.tag === tag) return this.store;
    return this.planStore?.tag === tag ? this.planStore : undefined;
  }

  private newRing(key: RingKey, members: readonly MemberRef[]): Ring {
    const n = members.length;
    return {
      key,
      members,
      ids: members.map((m) => this.ids[m.index]!),
      pos: members.findIndex((m) => m.index === this.me),
      n,
      lastCommitHop: -1,
      lastTokenSeq: 0,
      transitional: false,
      recoveryStart: 0,
      installed: false,
      ready: false,
      joining: false,
      myAru: 0,
      wanted: false,
      wantSent: false,
      lastArus: new Array<number>(n).fill(-1),
      stall: new Array<number>(n).fill(0),
      stateAcked: new Map(),
      stateSent: new Map(),
    };
  }

  private leaveRing(): void {
    const r = this.ring;
    if (!r) return;
    r.pending?.timer?.cancel();
    r.holdTimer?.cancel();
    r.stateTimer?.cancel();
    this.mergeTimer?.cancel();
    this.ring = undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Token

  private startToken(r: Ring): void {
    const plan = r.plan!;
    const fill = (v: number): number[] => new Array<number>(r.n).fill(v);
    const tok: TokenMsg = {
      kind: Kind.Token,
      ring: r.key,
      tokenSeq: 1,
      phase: plan.primary ? 0 : 1,
      seq: plan.primary ? plan.end : 0,
      arus: fill(plan.primary ? plan.lo : 0),
      dlv: fill(plan.primary ? plan.lo : 0),
      ready: new Array<boolean>(r.n).fill(false),
      rtr: [],
      sent: fill(0),
      backlog: fill(0),
      hurry: r.n,
    };
    this.onToken(this.me, tok);
  }

  private onToken(from: number, t: TokenMsg): void {
    const r = this.ring;
    if (!r || !sameKey(r.key, t.ring) || (this.state !== 'recovery' && this.state !== 'operational')) return;
    if (from !== this.me) this.ack(from, t.ring, false, t.tokenSeq);
    if (t.tokenSeq <= r.lastTokenSeq) return;
    const n = r.n;
    const top = t.phase === 0 ? r.plan!.end : t.seq;
    if (
      t.arus.length !== n ||
      t.dlv.length !== n ||
      t.ready.length !== n ||
      t.sent.length !== n ||
      t.backlog.length !== n ||
      t.arus.some((a) => a > top) ||
      t.dlv.some((d) => d > top)
    ) {
      this.stats.malformed++;
      this.log.warn({ from: this.ids[from] }, 'token with inconsistent vectors; dropped');
      return;
    }
    r.lastTokenSeq = t.tokenSeq;
    this.clearPending(r);
    this.touch();
    r.wantSent = false;
    const tok: MutableToken = {
      ...t,
      arus: [...t.arus],
      dlv: [...t.dlv],
      ready: [...t.ready],
      rtr: [...t.rtr],
      sent: [...t.sent],
      backlog: [...t.backlog],
    };
    if (tok.phase === 0) this.recoveryVisit(r, tok);
    else this.operationalVisit(r, tok);
  }

  private recoveryVisit(r: Ring, t: MutableToken): void {
    const plan = r.plan!;
    const st = r.baseStore;
    if (st) this.serveRetransmissions(r, t, st);
    let e = r.recoveryStart;
    if (r.installed) e = plan.end;
    else while (e < plan.end && st?.msgs.has(e + 1)) e++;
    t.arus[r.pos] = e;
    if (st) this.requestGaps(t, e, plan.end, st);
    this.detectStall(r, t, plan.end);
    if (this.ring !== r) return;
    if (!r.installed && !this.installing && Math.min(...t.arus) >= plan.end) {
      this.install(r);
      if (this.ring !== r) return;
      // Every member must see this token once to install: no holding for a rotation. Later the
      // token is held only while joiners wait for their state (they send WANT when ready).
      t.hurry = Math.max(t.hurry, r.n);
    }
    t.ready[r.pos] = r.ready;
    if (t.ready.every(Boolean)) {
      // Everyone installed and every joiner has its state: the new view starts.
      const cut = plan.end;
      t.phase = 1;
      t.seq = cut;
      t.arus.fill(cut);
      t.dlv.fill(cut);
      t.rtr = [];
      t.hurry = r.n;
      this.operationalVisit(r, t);
      return;
    }
    const waitingOnly = r.installed && Math.min(...t.arus) >= plan.end && t.rtr.length === 0;
    this.passOrHold(r, t, waitingOnly);
  }

  private operationalVisit(r: Ring, t: MutableToken): void {
    if (this.state === 'recovery') this.state = 'operational';
    if (!r.plan?.primary) {
      this.passOrHold(r, t, true);
      return;
    }
    if (r.myAru < r.newView!.record.cut) r.myAru = r.newView!.record.cut;
    this.serveRetransmissions(r, t, this.store);
    this.stamp(r, t);
    while (this.store.msgs.has(r.myAru + 1)) r.myAru++;
    t.arus[r.pos] = r.myAru;
    this.requestGaps(t, r.myAru, t.seq, this.store);
    const safe = Math.min(...t.arus);
    if (!this.installing) this.deliverUpTo(safe, r.newView!.view.id);
    if (this.ring !== r) return;
    t.dlv[r.pos] = this.delivered;
    this.collect(Math.min(...t.dlv));
    this.detectStall(r, t, t.seq);
    if (this.ring !== r) return;
    const idle =
      this.backlog.length === 0 &&
      t.rtr.length === 0 &&
      safe === t.seq &&
      Math.min(...t.dlv) === t.seq &&
      t.sent.every((s) => s === 0);
    this.passOrHold(r, t, idle);
  }

  private serveRetransmissions(r: Ring, t: MutableToken, st: Store): void {
    if (t.rtr.length === 0) return;
    const keep: number[] = [];
    let budget = this.options.window;
    for (const s of t.rtr) {
      const d = st.msgs.get(s);
      if (!d || budget === 0) {
        keep.push(s);
        continue;
      }
      budget--;
      this.stats.msgRetransmits++;
      const bytes = encode(d);
      for (let j = 0; j < r.n; j++) if (j !== r.pos && t.arus[j]! < s) this.network.send(r.ids[j]!, bytes);
    }
    t.rtr = keep;
  }

  private requestGaps(t: MutableToken, from: number, to: number, st: Store): void {
    if (from >= to) return;
    const want = new Set(t.rtr);
    for (let s = from + 1; s <= to && want.size < RTR_MAX; s++) if (!st.msgs.has(s)) want.add(s);
    t.rtr = [...want];
  }

  private stamp(r: Ring, t: MutableToken): void {
    const o = this.options;
    const mine = this.backlog.length;
    let others = 0;
    let othersBacklog = 0;
    let waiting = mine > 0 ? 1 : 0;
    for (let j = 0; j < r.n; j++)
      if (j !== r.pos) {
        others += t.sent[j]!;
        othersBacklog += t.backlog[j]!;
        if (t.backlog[j]! > 0) waiting++;
      }
    // Shares in proportion to backlog, rounded so that every member with a backlog gets at least
    // one message per rotation and the shares still fit in the window (no sender is starved).
    const total = mine + othersBacklog;
    const room0 = Math.max(1, o.window - (waiting - 1));
    const share = mine === 0 ? 0 : Math.max(1, Math.floor((room0 * mine) / total));
    const room = this.maxInFlight - (t.seq - Math.min(...t.arus));
    const allow = Math.max(0, Math.min(o.maxPerVisit, o.window - others, share, mine, room));
    const tag = r.key.ballot;
    for (let k = 0; k < allow; k++) {
      const ob = this.backlog.shift()!;
      const seq = ++t.seq;
      const d: DataMsg = {
        kind: Kind.Data,
        tag,
        seq,
        sender: this.me,
        senderInc: this.inc,
        fifo: ob.fifo,
        payload: ob.payload,
      };
      this.store.msgs.set(seq, d);
      ob.stamped = { tag, seq };
      this.outstanding.set(ob.fifo, ob);
      const bytes = encode(d);
      for (let j = 0; j < r.n; j++) if (j !== r.pos) this.network.send(r.ids[j]!, bytes);
    }
    t.sent[r.pos] = allow;
    t.backlog[r.pos] = this.backlog.length;
  }

  /** Totem's fail-to-receive rule: a member whose aru stays behind for too many rotations is dropped. */
  private detectStall(r: Ring, t: MutableToken, top: number): void {
    for (let j = 0; j < r.n; j++) {
      if (j === r.pos) continue;
      const a = t.arus[j]!;
      r.stall[j] = a < top && a === r.lastArus[j] ? r.stall[j]! + 1 : 0;
      r.lastArus[j] = a;
      if (r.stall[j]! >= this.options.failToReceiveRotations) {
        this.log.warn({ member: r.ids[j], aru: a, seq: top }, 'member fails to receive; removing it from the ring');
        this.enterGather(`${r.ids[j]} fails to receive`, [r.members[j]!.index]);
        return;
      }
    }
  }

  private passOrHold(r: Ring, t: MutableToken, idle: boolean): void {
    if (r.wanted) {
      r.wanted = false;
      t.hurry = r.n;
    }
    if (idle && t.hurry === 0) {
      r.held = t;
      r.holdTimer = this.clock.setTimer(this.holdMs(r), () => this.release(r));
      return;
    }
    this.pass(r, t);
  }

  private holdMs(r: Ring): number {
    return Math.min(this.options.holdMs, this.options.tokenLossMs / (2 * r.n));
  }

  private release(r: Ring): void {
    const t = r.held;
    if (!t || this.ring !== r) return;
    r.held = undefined;
    r.holdTimer?.cancel();
    r.holdTimer = undefined;
    this.pass(r, t);
  }

  private pass(r: Ring, t: MutableToken): void {
    if (t.hurry > 0) t.hurry--;
    // The next hop's number; not recorded as seen, so a one-member ring accepts its own token back.
    t.tokenSeq = r.lastTokenSeq + 1;
    this.sendReliably(r, r.ids[(r.pos + 1) % r.n]!, encode(t as TokenMsg), t.tokenSeq, false);
  }

  /** Sends a token hop and re-sends it until the successor acknowledges it. */
  private sendReliably(r: Ring, to: MemberId, bytes: Uint8Array, seq: number, commit: boolean): void {
    this.clearPending(r);
    this.network.send(to, bytes);
    if (to === this.self) return;
    const p: PendingSend = { to, bytes, seq, commit };
    r.pending = p;
    const again = (): void => {
      if (this.ring !== r || r.pending !== p) return;
      this.stats.tokenRetransmits++;
      this.network.send(to, bytes);
      p.timer = this.clock.setTimer(this.options.tokenRetransmitMs, again);
    };
    p.timer = this.clock.setTimer(this.options.tokenRetransmitMs, again);
  }

  private clearPending(r: Ring): void {
    r.pending?.timer?.cancel();
    r.pending = undefined;
  }

  private ack(to: number, ring: RingKey, commit: boolean, seq: number): void {
    const msg: AckMsg = { kind: Kind.Ack, ring, commit, seq };
    this.network.send(this.ids[to]!, encode(msg));
  }

  private onAck(m: AckMsg): void {
    const r = this.ring;
    const p = r?.pending;
    if (!r || !p || !sameKey(r.key, m.ring) || p.commit !== m.commit || m.seq < p.seq) return;
    this.clearPending(r);
  }

  private onWant(ring: RingKey): void {
    const r = this.ring;
    if (!r || !sameKey(r.key, ring)) return;
    if (r.held) {
      r.held.hurry = r.n;
      this.release(r);
    } else r.wanted = true;
  }

  /** New local work: let the token come here without waiting for idle holders. */
  private wake(): void {
    const r = this.ring;
    if (!r || this.state !== 'operational' || !r.plan?.primary) return;
    if (r.held) {
      r.held.hurry = r.n;
      this.release(r);
      return;
    }
    this.sendWant(r);
  }

  private sendWant(r: Ring): void {
    if (r.wantSent) return;
    r.wantSent = true;
    const bytes = encode({ kind: Kind.Want, ring: r.key });
    for (let j = 0; j < r.n; j++) if (j !== r.pos) this.network.send(r.ids[j]!, bytes);
  }

  // ---------------------------------------------------------------------------------------------
  // Messages, delivery

  private onData(d: DataMsg): void {
    const s = this.storeFor(d.tag);
    if (!s || d.seq <= s.floor || s.msgs.has(d.seq)) return;
    s.msgs.set(d.seq, d);
  }

  private resetStore(tag: number, floor: number): void {
    this.store.tag = tag;
    this.store.floor = floor;
    this.store.msgs.clear();
  }

  private collect(floor: number): void {
    const s = this.store;
    if (floor <= s.floor) return;
    if (floor - s.floor <= s.msgs.size) for (let q = s.floor + 1; q <= floor; q++) s.msgs.delete(q);
    else for (const q of s.msgs.keys()) if (q <= floor) s.msgs.delete(q);
    s.floor = floor;
  }

  private deliverUpTo(safe: number, viewId: number): void {
    while (this.delivered < safe) {
      const seq = this.delivered + 1;
      const d = this.store.msgs.get(seq);
      if (!d) {
        // Every member reported holding it; this member too. Not reachable unless a peer lies.
        this.log.error({ seq, safe }, 'seq reported held by every member is missing here; not delivering');
        return;
      }
      this.delivered = seq;
      const at: Ordered = { view: viewId, seq };
      this.senders.record(d.sender, d.senderInc, d.fifo, at);
      try {
        this.deliverHandler?.({ view: viewId, seq, sender: this.ids[d.sender]!, payload: d.payload });
      } catch (err) {
        this.log.error({ err: (err as Error).message, seq }, 'deliver handler threw');
      }
      if (d.sender === this.me && d.senderInc === this.inc) {
        const ob = this.outstanding.get(d.fifo);
        if (ob) {
          this.outstanding.delete(d.fifo);
          this.settle(ob, at);
        }
      }
    }
  }

  private settle(ob: Outbound, at?: Ordered, err?: unknown): void {
    if (ob.settled) return;
    ob.settled = true;
    ob.unlisten?.();
    if (at) ob.resolve(at);
    else ob.reject(err);
  }

  /** Puts undelivered stamped messages back at the head of the backlog, in their original order. */
  private requeue(obs: Outbound[]): void {
    if (obs.length === 0) return;
    obs.sort((a, b) => a.fifo - b.fifo);
    for (const ob of obs) {
      ob.stamped = undefined;
      this.outstanding.delete(ob.fifo);
    }
    this.backlog = [...obs.filter((o) => !o.settled), ...this.backlog];
  }

  // ---------------------------------------------------------------------------------------------
  // Install and state transfer

  private install(r: Ring): void {
    const plan = r.plan!;
    r.installed = true;
    const record: ViewRecord = { id: plan.nextId, ballot: r.key.ballot, cut: plan.end };
    const view: View = Object.freeze({
      id: plan.nextId,
      members: Object.freeze([...r.ids]),
      primary: true,
      cut: plan.end,
    });
    r.newView = { record, view };
    if (r.transitional) {
      this.deliverUpTo(plan.end, this.installed!.view.id);
      if (this.ring !== r) return;
      this.requeue([...this.outstanding.values()]);
      this.commitView(r);
      r.ready = true;
      if (r.provider === this.me) this.captureState(r);
    } else if (r.provider === undefined) {
      // The group's first view: nothing to transfer.
      this.commitView(r);
      r.ready = true;
    } else {
      this.log.debug({ view: view.id, cut: plan.end, provider: this.ids[r.provider] }, 'waiting for state');
      const inc = r.incoming;
      if (inc && inc.got === inc.total && !r.joining) {
        r.joining = true;
        this.installState(r, inc.chunks as Uint8Array[]);
      }
    }
  }

  /** Makes `r.newView` this member's installed view (after the state is in place at a joiner). */
  private commitView(r: Ring): void {
    const nv = r.newView!;
    this.installed = nv;
    this.delivered = nv.record.cut;
    this.accepted = undefined;
    this.resetStore(r.key.ballot, nv.record.cut);
    this.planStore = undefined;
    r.myAru = nv.record.cut;
    this.stats.views++;
    this.log.info({ view: nv.view.id, members: nv.view.members, cut: nv.view.cut }, 'view installed');
    try {
      this.viewHandler?.(nv.view);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'view handler threw');
    }
  }

  private captureState(r: Ring): void {
    const cut = r.plan!.end;
    const w = new BodyWriter(256);
    this.senders.write(w);
    const table = w.finish().slice();
    let captured: Uint8Array | Promise<Uint8Array>;
    try {
      captured = this.hook ? this.hook.capture(cut) : new Uint8Array(0);
    } catch (err) {
      captured = Promise.reject(err);
    }
    Promise.resolve(captured).then(
      (state) => {
        if (this.ring !== r) return;
        const bundle = new BodyWriter(table.length + state.length + 16).bytes(table).bytes(state).finish();
        const size = this.options.stateChunkBytes;
        const chunks: Uint8Array[] = [];
        for (let off = 0; off === 0 || off < bundle.length; off += size) chunks.push(bundle.slice(off, off + size));
        r.stateChunks = chunks;
        this.sendState(r);
      },
      (err) => {
        this.log.error({ err: (err as Error)?.message, cut }, 'state capture failed; retrying');
        r.stateTimer = this.clock.setTimer(this.options.stateRetransmitMs, () => {
          if (this.ring === r) this.captureState(r);
        });
      },
    );
  }

  /**
   * Sends every joiner the next chunks of the state, at most STATE_WINDOW beyond what it has
   * acknowledged (acknowledgements clock the rest out); a period without progress re-sends them.
   */
  private sendState(r: Ring, resend = true): void {
    const chunks = r.stateChunks;
    if (!chunks || this.ring !== r) return;
    let outstanding = false;
    for (const m of r.members) {
      const info = r.infos!.find((i) => i.index === m.index)!;
      if (isTransitional(r.plan!, info)) continue;
      const got = r.stateAcked.get(m.index) ?? 0;
      if (got >= chunks.length) continue;
      outstanding = true;
      const upTo = Math.min(chunks.length, got + STATE_WINDOW);
      const from = resend ? got : Math.max(got, r.stateSent.get(m.index) ?? 0);
      for (let c = from; c < upTo; c++) {
        const msg: StateMsg = { kind: Kind.State, ring: r.key, chunk: c, total: chunks.length, bytes: chunks[c]! };
        this.network.send(this.ids[m.index]!, encode(msg));
      }
      r.stateSent.set(m.index, Math.max(r.stateSent.get(m.index) ?? 0, upTo));
    }
    if (resend && outstanding) {
      r.stateTimer?.cancel();
      r.stateTimer = this.clock.setTimer(this.options.stateRetransmitMs, () => this.sendState(r));
    }
  }

  private onStateAck(from: number, ring: RingKey, got: number): void {
    const r = this.ring;
    if (!r || !sameKey(r.key, ring)) return;
    if (got <= (r.stateAcked.get(from) ?? 0)) return;
    r.stateAcked.set(from, got);
    this.sendState(r, false);
  }

  private onState(from: number, m: StateMsg): void {
    const r = this.ring;
    if (!r || !sameKey(r.key, m.ring) || r.provider !== from || r.transitional || !r.plan?.primary) return;
    if (m.total === 0 || m.chunk >= m.total || m.total > 1 << 20) return;
    if (r.ready) {
      this.network.send(this.ids[from]!, encode({ kind: Kind.StateAck, ring: r.key, got: m.total }));
      return;
    }
    const inc = (r.incoming ??= { total: m.total, chunks: new Array(m.total).fill(undefined), got: 0 });
    if (inc.total !== m.total) return;
    inc.chunks[m.chunk] ??= m.bytes;
    while (inc.got < inc.total && inc.chunks[inc.got]) inc.got++;
    this.network.send(this.ids[from]!, encode({ kind: Kind.StateAck, ring: r.key, got: inc.got }));
    if (inc.got === inc.total && r.installed && !r.ready && !r.joining) {
      r.joining = true;
      this.installState(r, inc.chunks as Uint8Array[]);
    }
  }

  private installState(r: Ring, chunks: Uint8Array[]): void {
    const cut = r.plan!.end;
    let state: Uint8Array;
    const table = new SenderTable(this.maxInFlight + this.options.maxPerVisit);
    try {
      const total = chunks.reduce((n, c) => n + c.length, 0);
      const all = new Uint8Array(total);
      let off = 0;
      for (const c of chunks) {
        all.set(c, off);
        off += c.length;
      }
      const rd = new BodyReader(all, 'state transfer');
      const tableBytes = rd.bytes('sender table');
      state = rd.bytes('state').slice();
      rd.end();
      const tr = new BodyReader(tableBytes, 'sender table');
      table.read(tr, this.ids.length);
      tr.end();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'malformed state transfer; starting a new round');
      this.enterGather('malformed state transfer');
      return;
    }
    if (this.ring !== r) return;
    // The joiner installs the view, then the state at its cut, then delivers.
    this.senders = table;
    this.commitView(r);
    // Broadcasts stamped in views this member missed: the group's sender table says which were
    // delivered (resolve them) and which were dropped (send them again, in order).
    const again: Outbound[] = [];
    for (const ob of [...this.outstanding.values()].sort((a, b) => a.fifo - b.fifo)) {
      const fate = this.senders.lookup(this.me, this.inc, ob.fifo);
      if (fate === undefined) again.push(ob);
      else {
        this.outstanding.delete(ob.fifo);
        if (fate === 'unknown')
          this.settle(ob, undefined, new DeliveryUnknownError(`broadcast ${ob.fifo} was delivered; position unknown`));
        else this.settle(ob, fate);
      }
    }
    this.requeue(again);
    let installing: void | Promise<void>;
    try {
      installing = this.hook?.install(state, cut);
    } catch (err) {
      installing = Promise.reject(err);
    }
    const done = Promise.resolve(installing).then(
      () => undefined,
      (err) => this.log.error({ err: (err as Error)?.message, cut }, 'state install failed'),
    );
    // Nothing is delivered here until the application has the state, even if the ring changes
    // meanwhile. But the state has arrived whole, so this member no longer depends on its provider:
    // it is ready at once, and the ring goes operational while the application installs (a large
    // state takes seconds). The others deliver what this member holds (safe delivery counts what
    // it holds, not what it delivered) and keep it for this member until it delivers too.
    this.installing = done;
    r.ready = true;
    this.sendWant(r);
    void done.then(() => {
      if (this.installing === done) this.installing = undefined;
      if (this.ring !== r || this.state === 'stopped') return;
      // Deliver what became safe meanwhile at the next token visit, without waiting for an idle hold.
      r.wantSent = false;
      this.sendWant(r);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Merge detection, timers

  private onProbe(from: number, ring: RingKey): void {
    if (this.state === 'gather' || this.state === 'idle') return;
    const r = this.ring;
    if (r && (sameKey(r.key, ring) || r.members.some((m) => m.index === from))) return;
    this.enterGather(`probe from ${this.ids[from]}`);
  }

  private scheduleMerge(): void {
    this.mergeTimer?.cancel();
    const r = this.ring;
    if (!r || r.pos !== 0 || r.n === this.ids.length) return;
    this.mergeTimer = this.clock.setTimer(this.options.mergeMs, () => {
      if (this.ring !== r || this.state !== 'operational') return;
      const bytes = encode({ kind: Kind.Probe, ring: r.key });
      for (let i = 0; i < this.ids.length; i++)
        if (!r.members.some((m) => m.index === i)) this.network.send(this.ids[i]!, bytes);
      this.scheduleMerge();
    });
  }

  /** Records progress (a token, a commit token, a new gather) for the token-loss timeout. */
  private touch(): void {
    this.lastProgress = this.clock.now();
    if (!this.lossTimer) this.armLoss(this.options.tokenLossMs);
  }

  private armLoss(ms: number): void {
    this.lossTimer = this.clock.setTimer(ms, () => {
      this.lossTimer = undefined;
      if (this.state === 'stopped') return;
      const waited = this.clock.now() - this.lastProgress;
      const watched = this.state !== 'gather' || this.gather?.consensus === true;
      if (watched && waited >= this.options.tokenLossMs) {
        this.enterGather('token loss');
        return;
      }
      this.armLoss(watched ? Math.max(1, this.options.tokenLossMs - waited) : this.options.tokenLossMs);
    });
  }
}

type MutableToken = {
  -readonly [K in keyof TokenMsg]: TokenMsg[K] extends readonly (infer E)[] ? E[] : TokenMsg[K];
};

function sameKey(a: RingKey, b: RingKey): boolean {
  return a.ballot === b.ballot && a.repInc === b.repInc;
}

function failKey(fail: Iterable<number>): string {
  return [...fail].sort((a, b) => a - b).join(',');
}
