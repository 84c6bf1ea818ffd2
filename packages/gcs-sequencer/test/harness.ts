// A simulator-driven harness for the sequencer: builds members with createOrderingMember, drives
// load and faults, records everything every incarnation observed, and checks the six guarantees.
import {
  createOrderingMember,
  type Delivery,
  type Logger,
  type MemberId,
  type OrderingProtocol,
  type PartitionMode,
  type View,
} from '@vcl/core';
import { Simulator, type LinkFaults } from '@vcl/core/testing';
import { sequencer, type SequencerOptions } from '../src';

/** A logger that keeps lines only when asked (set VCL_SEQ_LOG=1 to print them). */
export function testLogger(lines: string[] = [], bindings: Record<string, unknown> = {}): Logger {
  const out = (level: string) => (obj: object, msg?: string) => {
    if (level === 'debug' && !process.env.VCL_SEQ_LOG) return;
    const line = `${level} ${JSON.stringify({ ...bindings, ...obj })} ${msg ?? ''}`;
    lines.push(line);
    if (process.env.VCL_SEQ_LOG) console.log(line);
  };
  return {
    debug: out('debug'),
    info: out('info'),
    warn: out('warn'),
    error: out('error'),
    child: (b) => testLogger(lines, { ...bindings, ...b }),
  };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Incarnation {
  readonly key: string;
  readonly id: MemberId;
  readonly inc: number;
  readonly member: OrderingProtocol;
  readonly events: Event[];
  views: View[];
  /** Seq of the last delivery or installed state. */
  last: number;
  hash: number;
  hasState: boolean;
  sent: number;
  resolved: Map<number, { view: number; seq: number }>;
  rejected: number;
  alive: boolean;
}

type Event =
  { t: 'view'; view: View } | { t: 'install'; cut: number; hash: number } | { t: 'deliver'; d: Delivery; key: string };

/** Options of a `SimGroup`. */
export interface SimGroupOptions {
  readonly seed: number;
  readonly size?: number;
  readonly options?: SequencerOptions;
  readonly faults?: Partial<LinkFaults>;
  readonly partition?: PartitionMode;
}

function mix(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** A simulated group of sequencer members with a recording application on each. */
export class SimGroup {
  readonly sim: Simulator;
  readonly ids: MemberId[];
  readonly incs: Incarnation[] = [];
  readonly logs: string[] = [];
  readonly partitionMode: PartitionMode;
  private readonly options: SequencerOptions;
  /** seq -> what was delivered there (first observer) and the state hash after it. */
  readonly global = new Map<number, { key: string; sender: MemberId; hash: number }>();
  readonly violations: string[] = [];

  constructor(readonly config: SimGroupOptions) {
    const size = config.size ?? 3;
    this.ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
    this.sim = new Simulator({ seed: config.seed, members: this.ids, faults: config.faults });
    this.options = {
      heartbeatMs: 50,
      suspectTimeoutMs: 250,
      confirmTimeoutMs: 100,
      retransmitMs: 50,
      viewChangeTimeoutMs: 500,
      ...config.options,
    };
    this.partitionMode = config.partition ?? 'primary-component';
  }

  /** Starts every member (or the ones named). */
  async start(ids: readonly MemberId[] = this.ids): Promise<void> {
    for (const id of ids) await this.boot(id);
  }

  /** The live incarnation of `id`, if up. */
  live(id: MemberId): Incarnation | undefined {
    const inc = [...this.incs].reverse().find((x) => x.id === id);
    return inc && inc.alive ? inc : undefined;
  }

  /** Every live incarnation. */
  lives(): Incarnation[] {
    return this.ids.map((id) => this.live(id)).filter((x): x is Incarnation => x !== undefined);
  }

  private async boot(id: MemberId): Promise<Incarnation> {
    const node = this.sim.node(id);
    const member = createOrderingMember(sequencer(this.options), {
      group: { self: id, members: this.ids, partition: this.partitionMode },
      network: node.network,
      clock: node.clock,
      random: node.random,
      logger: testLogger(this.logs, { t: () => this.sim.now }).child({ inc: node.incarnation }),
    });
    const me: Incarnation = {
      key: `${id}#${node.incarnation}`,
      id,
      inc: node.incarnation,
      member,
      events: [],
      views: [],
      last: 0,
      hash: 0,
      hasState: false,
      sent: 0,
      resolved: new Map(),
      rejected: 0,
      alive: true,
    };
    this.incs.push(me);
    member.onView((view) => {
      me.events.push({ t: 'view', view });
      me.views.push(view);
    });
    member.onDeliver((d) => this.onDeliver(me, d));
    member.setStateTransfer({
      capture: (cut) => {
        if (me.last !== cut) this.violate(`${me.key}: capture at cut ${cut} but its state is at ${me.last}`);
        return enc.encode(JSON.stringify({ last: me.last, hash: me.hash }));
      },
      install: (state, cut) => {
        const s = JSON.parse(dec.decode(state)) as { last: number; hash: number };
        if (s.last !== cut) this.violate(`${me.key}: state for cut ${cut} was captured at ${s.last}`);
        me.last = s.last;
        me.hash = s.hash;
        me.hasState = true;
        me.events.push({ t: 'install', cut, hash: s.hash });
        const g = this.global.get(cut);
        if (cut > 0 && g && g.hash !== s.hash)
          this.violate(`${me.key}: installed state at ${cut} differs from the history`);
      },
    });
    await node.network.start();
    await member.start();
    return me;
  }

  /** Members to crash right after their next delivery (inside the delivery handler). */
  readonly crashAfterDelivery = new Set<MemberId>();

  private onDeliver(me: Incarnation, d: Delivery): void {
    if (!me.alive) return;
    const key = dec.decode(d.payload);
    me.events.push({ t: 'deliver', d, key });
    const view = me.views[me.views.length - 1];
    if (!view) this.violate(`${me.key}: delivered seq ${d.seq} before any view`);
    else if (view.id !== d.view)
      this.violate(`${me.key}: delivered seq ${d.seq} in view ${d.view} while in view ${view.id}`);
    if (d.seq !== me.last + 1) this.violate(`${me.key}: delivered seq ${d.seq} after ${me.last} (gap or repeat)`);
    if (!key.startsWith(`${d.sender}#`))
      this.violate(`${me.key}: seq ${d.seq} payload ${key} attributed to ${d.sender}`);
    me.last = d.seq;
    me.hash = mix(me.hash ^ d.seq, key);
    const g = this.global.get(d.seq);
    if (!g) this.global.set(d.seq, { key, sender: d.sender, hash: me.hash });
    else if (g.key !== key || g.hash !== me.hash)
      this.violate(`${me.key}: seq ${d.seq} is ${key}, elsewhere ${g.key} (total order / state divergence)`);
    if (this.crashAfterDelivery.delete(me.id)) this.crash(me.id);
  }

  violate(msg: string): void {
    if (this.violations.length < 50) this.violations.push(`[t=${this.sim.now}] ${msg}`);
  }

  /** Broadcasts one message from the live incarnation of `id` (no-op if down). */
  send(id: MemberId): Promise<unknown> | undefined {
    const me = this.live(id);
    if (!me) return undefined;
    const n = ++me.sent;
    const p = me.member.broadcast(enc.encode(`${me.key}#${n}`));
    p.then(
      (o) => me.resolved.set(n, o),
      () => me.rejected++,
    );
    return p;
  }

  /** Sends `count` messages from every live member every `everyMs` for `forMs` (no waiting: a burst). */
  load(everyMs: number, forMs: number, count = 1, who: MemberId[] = this.ids): void {
    const end = this.sim.now + forMs;
    const step = (): void => {
      if (this.sim.now > end) return;
      for (const id of who) for (let i = 0; i < count; i++) this.send(id);
      this.sim.schedule(everyMs, step);
    };
    step();
  }

  crash(id: MemberId): void {
    const me = this.live(id);
    if (me) me.alive = false;
    this.sim.crash(id);
  }

  async restart(id: MemberId): Promise<void> {
    this.sim.restart(id);
    await this.boot(id);
  }

  /** Whether every live member is in one view with all of them, all caught up and nothing pending. */
  settled(): boolean {
    const lives = this.lives();
    if (!lives.length) return true;
    const v = lives[0]!.member.view();
    if (!v) return false;
    const last = lives[0]!.last;
    for (const me of lives) {
      const mv = me.member.view();
      const st = me.member.status();
      if (!mv || mv.id !== v.id || st.pending !== 0 || me.last !== last) return false;
      if (st.role !== 'member' && st.role !== 'sequencer') return false;
    }
    return v.members.length === lives.length;
  }

  /** Runs until settled (or `timeoutMs` of virtual time); returns whether it settled. */
  async settle(timeoutMs = 30_000): Promise<boolean> {
    const ok = await this.sim.runUntil(() => this.settled(), timeoutMs);
    if (!ok) {
      const lives = this.lives().map((me) => ({
        k: me.key,
        last: me.last,
        view: me.member.view()?.id,
        ...me.member.status(),
      }));
      this.violate(`did not settle: ${JSON.stringify(lives)}`);
    }
    return ok;
  }

  /** Checks the six guarantees over everything recorded; returns the violations. */
  check(final = true): string[] {
    const out = [...this.violations];
    const v = (m: string): void => void (out.length < 60 && out.push(m));
    const majority = Math.floor(this.ids.length / 2) + 1;
    // Views: one definition per id; increasing per incarnation; primary views hold a majority.
    const views = new Map<number, View>();
    for (const me of this.incs) {
      let prev = 0;
      for (const view of me.views) {
        if (view.id <= prev) v(`${me.key}: view ${view.id} after ${prev}`);
        prev = view.id;
        const known = views.get(view.id);
        if (!known) views.set(view.id, view);
        else if (known.cut !== view.cut || known.members.join() !== view.members.join())
          v(`view ${view.id} differs: ${JSON.stringify(known)} vs ${JSON.stringify(view)} at ${me.key}`);
        if (!view.members.includes(me.id)) v(`${me.key}: installed view ${view.id} without itself`);
        if (view.primary && this.partitionMode !== 'fail-stop' && view.members.length < majority)
          v(`view ${view.id} is primary with ${view.members.length} of ${this.ids.length}`);
      }
    }
    // Per incarnation: a view is entered exactly at its cut (survivors delivered up to it, joiners
    // install the state at it: virtual synchrony), deliveries in it start at cut + 1.
    const maxInView = new Map<number, number>();
    for (const me of this.incs) {
      let view: View | undefined;
      let position = 0;
      me.events.forEach((e, i) => {
        if (e.t === 'view') {
          const joiner = me.events[i + 1]?.t === 'install';
          if (!joiner && position !== e.view.cut)
            v(
              `${me.key}: entered view ${e.view.id} (cut ${e.view.cut}) at ${position}${view ? ` from view ${view.id}` : ''}`,
            );
          view = e.view;
        } else if (e.t === 'install') {
          if (!view || view.cut !== e.cut) v(`${me.key}: state installed at ${e.cut}, view cut ${view?.cut}`);
          position = e.cut;
        } else {
          if (!view) return;
          if (!view.primary) v(`${me.key}: delivered in non-primary view ${view.id}`);
          if (e.d.seq !== position + 1) v(`${me.key}: delivered ${e.d.seq} at position ${position} in view ${view.id}`);
          position = e.d.seq;
          maxInView.set(view.id, Math.max(maxInView.get(view.id) ?? 0, e.d.seq));
        }
      });
    }
    // Uniform agreement: a later view's cut covers everything anyone delivered in an earlier view.
    for (const [vid, max] of maxInView)
      for (const [wid, w] of views)
        if (wid > vid && w.cut < max) v(`seq ${max} delivered in view ${vid} but view ${wid} has cut ${w.cut}`);
    // Integrity: no duplicates, no creation, sender FIFO (per sender incarnation, no gaps).
    const nextIndex = new Map<string, number>();
    const seqs = [...this.global.keys()].sort((a, b) => a - b);
    for (let i = 0; i < seqs.length; i++)
      if (seqs[i] !== i + 1) {
        v(`global order has a hole before ${seqs[i]}`);
        break;
      }
    const seen = new Set<string>();
    for (const s of seqs) {
      const g = this.global.get(s)!;
      if (seen.has(g.key)) v(`${g.key} delivered twice (seq ${s})`);
      seen.add(g.key);
      const m = /^(n\d+#\d+)#(\d+)$/.exec(g.key);
      if (!m) {
        v(`seq ${s}: unknown payload ${g.key}`);
        continue;
      }
      const inc = this.incs.find((x) => x.key === m[1]);
      const idx = Number(m[2]);
      if (!inc || idx > inc.sent) v(`seq ${s}: ${g.key} was never broadcast`);
      const want = (nextIndex.get(m[1]!) ?? 0) + 1;
      if (idx !== want) v(`seq ${s}: ${g.key} breaks sender FIFO (expected #${want})`);
      nextIndex.set(m[1]!, idx);
    }
    // Broadcast results name where the message really is.
    for (const me of this.incs)
      for (const [n, o] of me.resolved) {
        const g = this.global.get(o.seq);
        if (!g || g.key !== `${me.key}#${n}`) v(`${me.key}#${n} resolved at seq ${o.seq} which holds ${g?.key}`);
      }
    if (final) {
      for (const me of this.lives()) {
        if (me.resolved.size + me.rejected !== me.sent)
          v(`${me.key}: ${me.sent - me.resolved.size} broadcasts unresolved`);
        const count = nextIndex.get(me.key) ?? 0;
        if (count !== me.sent) v(`${me.key}: ${me.sent} sent, ${count} in the order`);
      }
    }
    return out;
  }
}
