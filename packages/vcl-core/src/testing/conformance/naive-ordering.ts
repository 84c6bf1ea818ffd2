import { inject, injectable, type DependencyContainer, type InjectionToken } from 'tsyringe';
import type { Clock, Timer } from '../../contracts/clock';
import type { Logger } from '../../contracts/logger';
import type { MemberId, Network } from '../../contracts/network';
import type {
  Delivery,
  GroupConfig,
  Ordered,
  OrderingProtocol,
  OrderingStatus,
  StateTransfer,
  View,
} from '../../contracts/ordering';
import type { Plugin, PluginRegistration } from '../../contracts/plugin';
import type { Random } from '../../contracts/random';
import { token } from '../../contracts/token';
import { CLOCK, GROUP, LOGGER, NETWORK, ORDERING, RANDOM } from '../../contracts/tokens';
import { ConfigError, StoppedError } from '../../errors';

/** A single deliberate bug injected into the naive protocol, to prove the conformance kit finds it. */
export type OrderingFlaw =
  /** Delivers stable messages in arrival order instead of seq order (breaks total order). */
  | 'reorder'
  /** Delivers again a message it receives again after delivering it (breaks integrity). */
  | 'duplicate'
  /** The sequencer delivers a message as soon as it orders it, before the others hold it (breaks uniform agreement). */
  | 'lose-on-crash'
  /** Forms and delivers in views without a majority (breaks primary component). */
  | 'deliver-in-minority';

/** Every flaw, for listings. */
export const ORDERING_FLAWS: readonly OrderingFlaw[] = ['reorder', 'duplicate', 'lose-on-crash', 'deliver-in-minority'];

/** Options of the naive test-only ordering protocol. */
export interface NaiveOrderingOptions {
  /** The injected bug; none by default. */
  readonly flaw?: OrderingFlaw;
  /** Heartbeat and retransmission period in ms. Default 20. */
  readonly heartbeatMs?: number;
  /** Silence after which a peer is suspected, in ms. Default 150. */
  readonly suspectMs?: number;
}

/** Token of the naive protocol's options. */
export const NAIVE_ORDERING_OPTIONS = token<NaiveOrderingOptions>('@vcl/core/testing:NaiveOrderingOptions');

interface Entry {
  readonly seq: number;
  readonly sender: MemberId;
  readonly inc: number;
  readonly counter: number;
  readonly payload: string;
}

interface InternalView extends View {
  readonly incs: Readonly<Record<MemberId, number>>;
}

type SenderNext = Record<string, number>;

interface Prepared {
  readonly pid: number;
  /** The view this member is ready in (0: none). */
  readonly view: number;
  readonly ready: boolean;
  readonly delivered: number;
  readonly held: Entry[];
  readonly senderNext: SenderNext;
  /** The latest install it accepted and is not ready in yet. */
  readonly pending: Install | null;
}

interface Install {
  readonly pid: number;
  readonly view: InternalView;
  readonly fromView: number;
  readonly entries: Entry[];
  readonly senderNext: SenderNext;
  readonly donor: MemberId | null;
  readonly needState: MemberId[];
}

type Msg =
  | { t: 'hb'; view: number; ack: number; stable: number }
  | { t: 'data'; counter: number; payload: string }
  | { t: 'order'; view: number; entries: Entry[]; stable: number }
  | { t: 'ack'; view: number; ack: number }
  | { t: 'stable'; view: number; stable: number }
  | { t: 'prepare'; pid: number }
  | ({ t: 'prepared' } & Prepared)
  | { t: 'nack'; pid: number; promised: number }
  | ({ t: 'install' } & Install)
  | { t: 'installed'; pid: number }
  | { t: 'commit'; pid: number }
  | { t: 'committed'; pid: number }
  | { t: 'statereq'; view: number }
  | { t: 'state'; view: number; cut: number; state: string; recent: Record<MemberId, OwnOrdered[]> };

/**
 * Where a message was delivered; members keep the latest per sender and pass them on with state,
 * so a joiner that skipped its own message by state transfer can still settle its promise.
 */
interface OwnOrdered {
  readonly inc: number;
  readonly counter: number;
  readonly seq: number;
  readonly view: number;
}

type Wire = Msg & { inc: number };

interface PendingBroadcast {
  readonly payload: string;
  readonly resolve: (o: Ordered) => void;
  readonly reject: (e: unknown) => void;
  ordered: boolean;
}

const key = (member: MemberId, inc: number) => `${member}#${inc}`;
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));

/**
 * A deliberately simple, test-only ordering protocol: a fixed sequencer per view, delivery once
 * every view member acknowledged holding a message, and a Paxos-style view change (the first
 * reachable member prepares a view id higher than any promised, collects every member's state,
 * and installs the cut that covers everything any majority-view member could have delivered).
 * It exists to exercise the conformance kit: without a flaw it should pass every profile; each
 * flaw breaks exactly one guarantee.
 */
@injectable()
export class NaiveOrdering implements OrderingProtocol {
  readonly self: MemberId;
  private readonly flaw: OrderingFlaw | undefined;
  private readonly hbMs: number;
  private readonly suspectMs: number;
  private readonly rank: number;
  private readonly inc: number;
  private deliverHandler: (d: Delivery) => void = () => {};
  private viewHandler: (v: View) => void = () => {};
  private hook: StateTransfer = { capture: () => new Uint8Array(0), install: () => {} };
  private timer: Timer | undefined;
  private stopped = false;
  private startedAt = 0;

  private readonly heard = new Map<MemberId, { at: number; inc: number }>();
  private readonly peerViews = new Map<MemberId, { view: number; since: number }>();
  private promised = 0;
  private current: InternalView | undefined;
  private ready = false;
  private delivered = 0;
  private stable = 0;
  private held = new Map<number, Entry>();
  private senderNext: SenderNext = {};
  private counter = 0;
  private readonly pending = new Map<number, PendingBroadcast>();
  private waitingState: { cut: number; donor: MemberId; senderNext: SenderNext } | undefined;
  private donorState: { view: number; cut: number; state: string } | undefined;
  private accepted: Install | undefined;
  private installedAt = 0;
  private retryAt = 0;
  private readonly recent = new Map<MemberId, OwnOrdered[]>();

  // Sequencer of the current view.
  private nextSeq = 0;
  private ordered = new Map<number, Entry>();
  private acks = new Map<MemberId, number>();
  private orderNext: SenderNext = {};
  private buffered = new Map<string, Map<number, string>>();

  // Coordinator of a view change.
  private proposal:
    | {
        pid: number;
        members: MemberId[];
        incs: Record<MemberId, number>;
        replies: Map<MemberId, Prepared>;
        install?: Install;
        installed: Set<MemberId>;
        committed: Set<MemberId>;
      }
    | undefined;

  constructor(
    @inject(GROUP as InjectionToken<GroupConfig>) private readonly group: GroupConfig,
    @inject(NETWORK as InjectionToken<Network>) private readonly network: Network,
    @inject(CLOCK as InjectionToken<Clock>) private readonly clock: Clock,
    @inject(RANDOM as InjectionToken<Random>) private readonly random: Random,
    @inject(LOGGER as InjectionToken<Logger>) private readonly logger: Logger,
    @inject(NAIVE_ORDERING_OPTIONS as InjectionToken<NaiveOrderingOptions>) options: NaiveOrderingOptions,
  ) {
    this.self = group.self;
    this.flaw = options.flaw;
    this.hbMs = options.heartbeatMs ?? 20;
    this.suspectMs = options.suspectMs ?? 150;
    this.rank = group.members.indexOf(group.self);
    this.inc = network.incarnation;
  }

  async start(): Promise<void> {
    this.network.onMessage((from, bytes) => this.receive(from, bytes));
    this.network.onPeerDown(() => {});
    this.startedAt = this.clock.now();
    this.timer = this.clock.setTimer(this.random.next() * this.hbMs, () => this.tick());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    for (const p of this.pending.values()) p.reject(new StoppedError(`ordering member ${this.self} stopped`));
    this.pending.clear();
  }

  broadcast(payload: Uint8Array): Promise<Ordered> {
    if (this.stopped) return Promise.reject(new StoppedError(`ordering member ${this.self} is stopped`));
    const counter = ++this.counter;
    return new Promise<Ordered>((resolve, reject) => {
      this.pending.set(counter, { payload: b64(payload), resolve, reject, ordered: false });
      this.sendData(counter);
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
    return this.current && this.publicView(this.current);
  }

  status(): OrderingStatus {
    return {
      ...(this.current ? { view: this.publicView(this.current) } : {}),
      role: !this.ready ? 'joining' : this.isSequencer() ? 'sequencer' : 'member',
      pending: this.pending.size,
      delivered: this.delivered,
    };
  }

  private publicView(v: InternalView): View {
    return { id: v.id, members: v.members, primary: v.primary, cut: v.cut };
  }

  /** Promised a newer view: acknowledges nothing more in the current one. */
  private blocked(): boolean {
    return this.promised > (this.current?.id ?? 0);
  }

  private isSequencer(): boolean {
    return this.ready && this.current?.members[0] === this.self;
  }

  private send(to: MemberId, msg: Msg): void {
    this.network.send(to, new TextEncoder().encode(JSON.stringify({ ...msg, inc: this.inc })));
  }

  private tick(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimer(this.hbMs, () => this.tick());
    const v = this.current;
    for (const m of this.group.members)
      if (m !== this.self)
        this.send(m, {
          t: 'hb',
          view: v?.id ?? 0,
          ack: this.ready && !this.blocked() ? this.contiguous() : 0,
          stable: this.isSequencer() ? this.stable : 0,
        });
    if (v && this.ready) {
      for (const c of this.pending.keys()) if (!this.pending.get(c)!.ordered) this.sendData(c);
      if (this.isSequencer()) this.retransmitOrders(v);
    }
    if (this.waitingState) this.send(this.waitingState.donor, { t: 'statereq', view: v!.id });
    this.coordinate();
  }

  private contiguous(): number {
    let n = this.delivered;
    while (this.held.has(n + 1)) n++;
    return n;
  }

  private sendData(counter: number): void {
    const p = this.pending.get(counter);
    const v = this.current;
    if (!p || !v || !this.ready) return;
    const msg: Msg = { t: 'data', counter, payload: p.payload };
    if (v.members[0] === this.self) this.onData(this.self, this.inc, msg);
    else this.send(v.members[0]!, msg);
  }

  private receive(from: MemberId, bytes: Uint8Array): void {
    if (this.stopped) return;
    let msg: Wire;
    try {
      msg = JSON.parse(new TextDecoder().decode(bytes)) as Wire;
    } catch (err) {
      this.logger.warn({ from, err }, 'malformed message dropped');
      return;
    }
    const known = this.heard.get(from);
    if (known && msg.inc < known.inc) return;
    this.heard.set(from, { at: this.clock.now(), inc: msg.inc });
    const v = this.current;
    const inView = (id: number) => v !== undefined && v.id === id && v.incs[from] === msg.inc;
    switch (msg.t) {
      case 'hb': {
        const pv = this.peerViews.get(from);
        if (!pv || pv.view !== msg.view) this.peerViews.set(from, { view: msg.view, since: this.clock.now() });
        if (inView(msg.view)) {
          if (this.isSequencer()) this.onAck(from, msg.ack);
          if (v!.members[0] === from && this.ready) this.learnStable(msg.stable);
        }
        break;
      }
      case 'data':
        this.onData(from, msg.inc, msg);
        break;
      case 'order':
        if (inView(msg.view) && this.ready) this.onOrder(from, msg.entries, msg.stable);
        break;
      case 'ack':
        if (inView(msg.view) && this.isSequencer()) this.onAck(from, msg.ack);
        break;
      case 'stable':
        if (inView(msg.view) && this.ready) this.learnStable(msg.stable);
        break;
      case 'prepare':
        this.onPrepare(from, msg.pid);
        break;
      case 'prepared':
        if (this.proposal?.pid === msg.pid && this.proposal.incs[from] === msg.inc && !this.proposal.install) {
          this.proposal.replies.set(from, msg);
          this.tryInstall();
        }
        break;
      case 'nack':
        if (this.proposal?.pid === msg.pid) {
          this.promised = Math.max(this.promised, msg.promised);
          this.proposal = undefined;
        }
        break;
      case 'install':
        this.onInstall(from, msg);
        break;
      case 'installed':
        if (this.proposal?.pid === msg.pid && this.proposal.install) {
          this.proposal.installed.add(from);
          // Commit only once every member of the new view holds the install (and its tail entries).
          if (this.proposal.installed.size === this.proposal.members.length)
            for (const m of this.proposal.members) this.send(m, { t: 'commit', pid: msg.pid });
        }
        break;
      case 'commit':
        this.onCommit(from, msg.pid);
        break;
      case 'committed':
        if (this.proposal?.pid === msg.pid) this.proposal.committed.add(from);
        break;
      case 'statereq':
        if (this.donorState?.view === msg.view)
          this.send(from, {
            t: 'state',
            view: msg.view,
            cut: this.donorState.cut,
            state: this.donorState.state,
            recent: Object.fromEntries(this.recent),
          });
        break;
      case 'state':
        void this.onState(msg.view, msg.cut, msg.state, msg.recent);
        break;
    }
  }

  // --- sequencer ---

  private onData(from: MemberId, inc: number, msg: { counter: number; payload: string }): void {
    const v = this.current;
    if (!v || !this.isSequencer() || this.blocked() || v.incs[from] !== inc) return;
    const k = key(from, inc);
    const next = this.orderNext[k] ?? 1;
    if (msg.counter < next) return;
    // Sender FIFO: a message waits until every earlier one of its sender incarnation is ordered.
    const buf = this.buffered.get(k) ?? new Map<number, string>();
    buf.set(msg.counter, msg.payload);
    this.buffered.set(k, buf);
    const fresh: Entry[] = [];
    for (let c = next; buf.has(c); c++) {
      const e: Entry = { seq: this.nextSeq++, sender: from, inc, counter: c, payload: buf.get(c)! };
      buf.delete(c);
      this.orderNext[k] = c + 1;
      this.ordered.set(e.seq, e);
      this.held.set(e.seq, e);
      fresh.push(e);
      if (this.flaw === 'lose-on-crash') {
        this.learnStable(e.seq);
      }
    }
    if (fresh.length === 0) return;
    for (const m of v.members)
      if (m !== this.self) this.send(m, { t: 'order', view: v.id, entries: fresh, stable: this.stable });
    this.onAck(this.self, this.contiguous());
  }

  private retransmitOrders(v: InternalView): void {
    const last = this.nextSeq - 1;
    for (const m of v.members) {
      if (m === this.self) continue;
      const acked = this.acks.get(m) ?? v.cut;
      if (acked >= last) continue;
      const entries: Entry[] = [];
      for (let s = acked + 1; s <= Math.min(last, acked + 32); s++) entries.push(this.ordered.get(s)!);
      this.send(m, { t: 'order', view: v.id, entries, stable: this.stable });
    }
  }

  private onAck(from: MemberId, ack: number): void {
    const v = this.current!;
    this.acks.set(from, Math.max(this.acks.get(from) ?? v.cut, ack));
    // Safe delivery: stable is what every member of the view holds.
    const stable = Math.min(...v.members.map((m) => this.acks.get(m) ?? v.cut));
    if (stable > this.stable) {
      this.learnStable(stable);
      for (const m of v.members) if (m !== this.self) this.send(m, { t: 'stable', view: v.id, stable });
      for (const s of [...this.ordered.keys()]) if (s <= stable) this.ordered.delete(s);
    }
  }

  // --- member ---

  private onOrder(from: MemberId, entries: Entry[], stable: number): void {
    if (this.current!.members[0] !== from) return;
    for (const e of entries) {
      if (e.sender === this.self && e.inc === this.inc) {
        const p = this.pending.get(e.counter);
        if (p) p.ordered = true;
      }
      if (e.seq > this.delivered) this.held.set(e.seq, e);
      else if (this.flaw === 'duplicate') this.emit(e);
    }
    if (!this.blocked()) this.send(from, { t: 'ack', view: this.current!.id, ack: this.contiguous() });
    this.learnStable(stable);
  }

  private learnStable(stable: number): void {
    this.stable = Math.max(this.stable, stable);
    this.deliverStable();
  }

  private deliverStable(): void {
    if (!this.ready) return;
    if (this.flaw === 'reorder') {
      for (const [seq, e] of this.held)
        if (seq <= this.stable) {
          this.held.delete(seq);
          this.delivered = Math.max(this.delivered, seq);
          this.emit(e);
        }
      return;
    }
    while (this.delivered < this.stable && this.held.has(this.delivered + 1)) {
      const e = this.held.get(this.delivered + 1)!;
      this.held.delete(e.seq);
      this.delivered = e.seq;
      this.emit(e);
    }
  }

  private emit(e: Entry): void {
    this.senderNext[key(e.sender, e.inc)] = e.counter + 1;
    const view = this.current!.id;
    const mine = this.recent.get(e.sender) ?? [];
    mine.push({ inc: e.inc, counter: e.counter, seq: e.seq, view });
    if (mine.length > 256) mine.shift();
    this.recent.set(e.sender, mine);
    this.deliverHandler({ view, seq: e.seq, sender: e.sender, payload: unb64(e.payload) });
    if (e.sender === this.self && e.inc === this.inc) {
      const p = this.pending.get(e.counter);
      if (p) {
        this.pending.delete(e.counter);
        p.resolve({ view, seq: e.seq });
      }
    }
  }

  // --- view change ---

  private reachable(): { members: MemberId[]; incs: Record<MemberId, number> } {
    const now = this.clock.now();
    const incs: Record<MemberId, number> = {};
    const members = this.group.members.filter((m) => {
      if (m === this.self) return ((incs[m] = this.inc), true);
      const h = this.heard.get(m);
      if (!h || now - h.at > this.suspectMs) return false;
      incs[m] = h.inc;
      return true;
    });
    return { members, incs };
  }

  private coordinate(): void {
    const now = this.clock.now();
    if (now - this.startedAt < this.suspectMs || now < this.retryAt) return;
    const r = this.reachable();
    if (r.members[0] !== this.self) {
      this.proposal = undefined;
      return;
    }
    const same = (ms: readonly MemberId[], incs: Readonly<Record<MemberId, number>>) =>
      ms.length === r.members.length && ms.every((m, i) => r.members[i] === m && incs[m] === r.incs[m]);
    const p = this.proposal;
    if (p?.install) {
      const all = p.installed.size === p.members.length;
      for (const m of p.members) {
        if (!p.installed.has(m)) this.send(m, { t: 'install', ...p.install });
        else if (all && !p.committed.has(m)) this.send(m, { t: 'commit', pid: p.pid });
      }
    }
    // A reachable member stuck in another view (it missed this one, or sits in a view without us) needs a new one.
    const astray = r.members.some((m) => {
      const pv = this.peerViews.get(m);
      return (
        m !== this.self &&
        pv !== undefined &&
        pv.view !== this.current?.id &&
        now - Math.max(pv.since, this.installedAt) > this.suspectMs
      );
    });
    if (this.current && same(this.current.members, this.current.incs) && !astray) return;
    const majority = r.members.length * 2 > this.group.members.length;
    if (!majority && this.group.partition !== 'fail-stop' && this.flaw !== 'deliver-in-minority') return;
    if (p && !p.install && same(p.members, p.incs)) {
      for (const m of p.members) if (!p.replies.has(m)) this.send(m, { t: 'prepare', pid: p.pid });
      return;
    }
    // An install of ours still in flight: let it land before judging the view again.
    if (p?.install && same(p.members, p.incs) && p.pid > (this.current?.id ?? 0) && !astray) return;
    const n = this.group.members.length;
    const floor = Math.max(this.promised, this.current?.id ?? 0, p?.pid ?? 0);
    // View ids are unique per coordinator (id mod n is its rank), so two sides never reuse one.
    let pid = floor - (floor % n) + this.rank;
    if (pid <= floor) pid += n;
    this.proposal = {
      pid,
      members: r.members,
      incs: r.incs,
      replies: new Map(),
      installed: new Set(),
      committed: new Set(),
    };
    for (const m of r.members) this.send(m, { t: 'prepare', pid });
  }

  private onPrepare(from: MemberId, pid: number): void {
    if (pid < this.promised) {
      this.send(from, { t: 'nack', pid, promised: this.promised });
      return;
    }
    // Promising stops acknowledging in the old view, so nothing beyond this reply becomes stable there.
    this.promised = pid;
    const v = this.current;
    this.send(from, {
      t: 'prepared',
      pid,
      view: v?.id ?? 0,
      ready: this.ready,
      delivered: this.delivered,
      held: [...this.held.values()],
      senderNext: { ...this.senderNext },
      pending: this.accepted && !(this.ready && this.current?.id === this.accepted.pid) ? this.accepted : null,
    });
  }

  private tryInstall(): void {
    const p = this.proposal!;
    if (p.replies.size < p.members.length) return;
    const replies = p.members.map((m) => ({ m, r: p.replies.get(m)! }));
    // A restarted member remembers nothing, so it cannot vouch for the newest primary view: only
    // members that remember a view (or hold an install of one) count toward the majority, unless
    // every configured member is here, so every surviving memory is too.
    const remembering = replies.filter((x) => (x.r.ready && x.r.view > 0) || x.r.pending).length;
    const n = this.group.members.length;
    const quorum = remembering * 2 > n || replies.length === n;
    if (!quorum && this.group.partition !== 'fail-stop' && this.flaw !== 'deliver-in-minority') {
      this.logger.debug({ pid: p.pid, remembering }, 'view change waits for a majority that remembers a view');
      this.proposal = undefined;
      this.retryAt = this.clock.now() + this.suspectMs;
      return;
    }
    const readyViews = replies.filter((x) => x.r.ready && x.r.view > 0).map((x) => x.r.view);
    const fromView = readyViews.length ? Math.max(...readyViews) : 0;
    const base = replies.filter((x) => x.r.ready && x.r.view === fromView);
    const entries = new Map<number, Entry>();
    let senderNext: SenderNext = {};
    let best = -1;
    let low = Infinity;
    for (const { r } of base) {
      for (const e of r.held) entries.set(e.seq, e);
      low = Math.min(low, r.delivered);
      if (r.delivered > best) {
        best = r.delivered;
        senderNext = { ...r.senderNext };
      }
    }
    let known = 0;
    for (const { r } of replies) {
      const pending = r.pending;
      if (!pending) continue;
      // A pending install from the same view carries entries every member of that install held.
      if (pending.fromView === fromView) for (const e of pending.entries) entries.set(e.seq, e);
      if (pending.fromView >= fromView) known = Math.max(known, pending.view.cut);
    }
    let cut = base.length ? low : 0;
    while (entries.has(cut + 1)) cut++;
    // A committed view may already have delivered up to its cut; without those entries and a
    // state at least that far, a new view would roll it back: wait for a member that has them.
    if (cut < known) {
      this.logger.debug({ pid: p.pid, cut, known }, 'view change waits for a member holding the newer cut');
      this.proposal = undefined;
      this.retryAt = this.clock.now() + this.suspectMs;
      return;
    }
    const list = [...entries.values()].filter((e) => e.seq <= cut && e.seq > low).sort((a, b) => a.seq - b.seq);
    for (const e of list) if (e.seq > best) senderNext[key(e.sender, e.inc)] = e.counter + 1;
    const needState =
      fromView === 0 ? [] : replies.filter((x) => !(x.r.ready && x.r.view === fromView)).map((x) => x.m);
    const primary =
      this.group.partition === 'fail-stop' ||
      this.flaw === 'deliver-in-minority' ||
      p.members.length * 2 > this.group.members.length;
    p.install = {
      pid: p.pid,
      view: { id: p.pid, members: p.members, incs: p.incs, cut, primary },
      fromView,
      entries: list,
      senderNext,
      donor: needState.length ? base[0]!.m : null,
      needState,
    };
    for (const m of p.members) this.send(m, { t: 'install', ...p.install });
  }

  private onInstall(from: MemberId, msg: Install & { inc: number }): void {
    if (msg.pid < this.promised || (this.current && this.current.id >= msg.pid)) return;
    if (msg.view.incs[this.self] !== this.inc) return;
    this.promised = msg.pid;
    this.accepted = msg;
    this.send(from, { t: 'installed', pid: msg.pid });
  }

  private onCommit(from: MemberId, pid: number): void {
    if (this.current && this.current.id >= pid) {
      this.send(from, { t: 'committed', pid });
      return;
    }
    const msg = this.accepted;
    // Having promised a newer view, this member already reported its state to that view's
    // coordinator; committing an older install now would change it behind that report.
    if (!msg || msg.pid !== pid || pid < this.promised) return;
    this.send(from, { t: 'committed', pid });
    const old = this.current;
    const continuing = old !== undefined && old.id === msg.fromView && this.ready;
    if (continuing) {
      for (const e of msg.entries) if (e.seq > this.delivered && !this.held.has(e.seq)) this.held.set(e.seq, e);
      this.stable = Math.max(this.stable, msg.view.cut);
      this.deliverStable();
      if (this.delivered !== msg.view.cut)
        this.logger.error({ delivered: this.delivered, cut: msg.view.cut }, 'install cut not reached');
    }
    this.current = msg.view;
    this.ready = false;
    this.held = new Map();
    this.stable = msg.view.cut;
    this.senderNext = { ...msg.senderNext };
    this.acks = new Map();
    this.ordered = new Map();
    this.buffered = new Map();
    this.nextSeq = msg.view.cut + 1;
    this.orderNext = { ...msg.senderNext };
    this.waitingState = undefined;
    for (const p of this.pending.values()) p.ordered = false;
    this.installedAt = this.clock.now();
    this.viewHandler(this.publicView(msg.view));
    if (msg.needState.includes(this.self) && msg.donor !== null) {
      this.waitingState = { cut: msg.view.cut, donor: msg.donor, senderNext: msg.senderNext };
      this.send(msg.donor, { t: 'statereq', view: msg.view.id });
      return;
    }
    if (msg.donor === this.self) {
      const view = msg.view.id;
      void Promise.resolve(this.hook.capture(msg.view.cut)).then((bytes) => {
        if (this.current?.id !== view) return;
        this.donorState = { view, cut: msg.view.cut, state: b64(bytes) };
        for (const m of msg.needState)
          this.send(m, {
            t: 'state',
            view,
            cut: msg.view.cut,
            state: this.donorState.state,
            recent: Object.fromEntries(this.recent),
          });
        this.becomeReady();
      });
      return;
    }
    this.becomeReady();
  }

  private async onState(
    view: number,
    cut: number,
    state: string,
    recent: Record<MemberId, OwnOrdered[]>,
  ): Promise<void> {
    const w = this.waitingState;
    if (!w || this.current?.id !== view || w.cut !== cut) return;
    this.waitingState = undefined;
    await this.hook.install(unb64(state), cut);
    if (this.current?.id !== view) return;
    this.delivered = cut;
    this.recent.clear();
    for (const [m, list] of Object.entries(recent)) this.recent.set(m, [...list]);
    for (const o of this.recent.get(this.self) ?? []) {
      const p = o.inc === this.inc && o.seq <= cut ? this.pending.get(o.counter) : undefined;
      if (!p) continue;
      this.pending.delete(o.counter);
      p.resolve({ view: o.view, seq: o.seq });
    }
    this.becomeReady();
  }

  private becomeReady(): void {
    this.ready = true;
    for (const c of this.pending.keys()) this.sendData(c);
    this.send(this.current!.members[0]!, { t: 'ack', view: this.current!.id, ack: this.contiguous() });
  }
}

/** The naive protocol without a flaw, as a plugin (`naive`); test-only, a reference for the kit. */
export function naiveOrdering(options: Omit<NaiveOrderingOptions, 'flaw'> = {}): Plugin {
  return naivePlugin('naive', options);
}

/** The naive protocol with one injected flaw, as a plugin named `broken-<flaw>`; test-only. */
export function brokenOrdering(options: NaiveOrderingOptions & { readonly flaw: OrderingFlaw }): Plugin {
  if (!ORDERING_FLAWS.includes(options.flaw))
    throw new ConfigError('brokenOrdering options', [
      { path: 'flaw', message: `unknown flaw ${String(options.flaw)}; one of ${ORDERING_FLAWS.join(', ')}` },
    ]);
  return naivePlugin(`broken-${options.flaw}`, options);
}

function naivePlugin(name: string, options: NaiveOrderingOptions): Plugin {
  return {
    kind: 'ordering',
    name,
    register(container: DependencyContainer) {
      container.register(NAIVE_ORDERING_OPTIONS as InjectionToken<NaiveOrderingOptions>, { useValue: options });
      container.register(ORDERING as InjectionToken<OrderingProtocol>, { useClass: NaiveOrdering });
    },
  };
}

/**
 * Plugin-registry entries for the naive protocol (`naive`) and each broken variant
 * (`broken-reorder`, ...). Test-only: register them only when asked for by name.
 */
export const naiveOrderingRegistrations: readonly PluginRegistration[] = [
  {
    kind: 'ordering',
    name: 'naive',
    packageName: '@vcl/core/testing',
    description: 'test-only naive sequencer protocol (reference for the conformance kit)',
    create: () => naiveOrdering(),
  },
  ...ORDERING_FLAWS.map((flaw): PluginRegistration => ({
    kind: 'ordering',
    name: `broken-${flaw}`,
    packageName: '@vcl/core/testing',
    description: `test-only naive sequencer protocol with a deliberate flaw: ${flaw}`,
    create: () => brokenOrdering({ flaw }),
  })),
];
