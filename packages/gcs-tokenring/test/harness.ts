// A simulated token-ring group for the package's own specs: members built the way deployments build
// them (createOrderingMember), a toy replicated application (a hash chain of delivered payloads) with
// state transfer, a recorder of everything each incarnation saw, and a checker for the six
// guarantees of the OrderingProtocol contract.
import {
  createOrderingMember,
  type Delivery,
  type Logger,
  type MemberId,
  type Ordered,
  type OrderingProtocol,
  type PartitionMode,
  type View,
} from '@vcl/core';
import { Simulator, type LinkFaults } from '@vcl/core/testing';
import { tokenRing, type TokenRingOptions } from '../src';

/** A logger that drops everything (or prints, for one member, when TOKENRING_DEBUG names it). */
export function testLogger(bindings: Record<string, unknown> = {}): Logger {
  const debug = process.env['TOKENRING_DEBUG'];
  const on = debug !== undefined && (debug === '*' || debug === bindings['member']);
  const out =
    (level: string) =>
    (obj: object, msg?: string): void => {
      if (on) console.log(level, JSON.stringify({ ...bindings, ...obj }), msg ?? '');
    };
  return {
    debug: out('debug'),
    info: out('info'),
    warn: out('warn'),
    error: (obj, msg) => {
      out('error')(obj, msg);
      errors.push(`${JSON.stringify({ ...bindings, ...obj })} ${msg ?? ''}`);
    },
    child: (b) => testLogger({ ...bindings, ...b }),
  };
}

/** Every `logger.error` line of the current process (a protocol error is a test failure). */
export const errors: string[] = [];

type Event =
  | { readonly type: 'view'; readonly view: View }
  | { readonly type: 'deliver'; readonly d: Delivery; readonly key: string }
  | { readonly type: 'install'; readonly cut: number; readonly hash: number };

/** One incarnation of one member. */
export interface Life {
  readonly id: MemberId;
  readonly inc: number;
  readonly member: OrderingProtocol;
  readonly events: Event[];
  /** The toy application's state: last seq applied and a hash chain of the payloads. */
  app: { seq: number; hash: number };
  crashed: boolean;
  sent: number;
}

interface Bcast {
  readonly key: string;
  readonly life: Life;
  readonly k: number;
  result?: Ordered;
  error?: unknown;
}

/** How a `Cluster` is built. */
export interface ClusterOptions {
  readonly seed: number;
  readonly members: number;
  readonly faults?: Partial<LinkFaults>;
  readonly options?: TokenRingOptions;
  readonly partition?: PartitionMode;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function fnv(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** A simulated group of token ring members with recording and checking. */
export class Cluster {
  readonly sim: Simulator;
  readonly ids: readonly MemberId[];
  readonly lives: Life[] = [];
  readonly current = new Map<MemberId, Life>();
  readonly bcasts = new Map<string, Bcast>();
  private readonly partitionMode: PartitionMode;

  constructor(readonly opts: ClusterOptions) {
    this.ids = Array.from({ length: opts.members }, (_, i) => `n${i + 1}`);
    this.sim = new Simulator({ seed: opts.seed, members: this.ids, faults: opts.faults });
    this.partitionMode = opts.partition ?? 'primary-component';
  }

  /** Starts every member. */
  async startAll(): Promise<void> {
    for (const id of this.ids) await this.spawn(id);
  }

  /** Starts the current incarnation of `id`. */
  async spawn(id: MemberId): Promise<Life> {
    const node = this.sim.node(id);
    const group = { self: id, members: this.ids, partition: this.partitionMode };
    const member = createOrderingMember(tokenRing(this.opts.options), {
      group,
      network: node.network,
      clock: node.clock,
      random: node.random,
      logger: testLogger({ member: `${id}#${node.incarnation}` }),
    });
    const life: Life = {
      id,
      inc: node.incarnation,
      member,
      events: [],
      app: { seq: 0, hash: 0x811c9dc5 },
      crashed: false,
      sent: 0,
    };
    member.onView((view) => life.events.push({ type: 'view', view }));
    member.onDeliver((d) => {
      const key = decoder.decode(d.payload);
      life.events.push({ type: 'deliver', d, key });
      life.app = { seq: d.seq, hash: fnv(life.app.hash, key) };
    });
    member.setStateTransfer({
      capture: (cut) => {
        if (life.app.seq !== cut) throw new Error(`capture at ${cut} but the app is at ${life.app.seq}`);
        return encoder.encode(JSON.stringify(life.app));
      },
      install: (state, cut) => {
        life.app = JSON.parse(decoder.decode(state)) as Life['app'];
        life.events.push({ type: 'install', cut, hash: life.app.hash });
      },
    });
    this.lives.push(life);
    this.current.set(id, life);
    await node.network.start();
    await member.start();
    return life;
  }

  /** Crashes `id` (its incarnation is gone; it keeps no memory). */
  crash(id: MemberId): void {
    const life = this.current.get(id)!;
    life.crashed = true;
    this.sim.crash(id);
  }

  /** Restarts crashed `id` as a new incarnation. */
  async restart(id: MemberId): Promise<Life> {
    this.sim.restart(id);
    return this.spawn(id);
  }

  /** Whether `id` is up. */
  up(id: MemberId): boolean {
    return !this.current.get(id)!.crashed;
  }

  /** Broadcasts a fresh, uniquely named payload from `id`. */
  broadcast(id: MemberId): Bcast {
    const life = this.current.get(id)!;
    const k = ++life.sent;
    const key = `${id}#${life.inc}:${k}`;
    const b: Bcast = { key, life, k };
    this.bcasts.set(key, b);
    life.member.broadcast(encoder.encode(key)).then(
      (r) => (b.result = r),
      (e) => (b.error = e),
    );
    return b;
  }

  /** Runs the simulation for `ms` virtual ms. */
  run(ms: number): Promise<void> {
    return this.sim.runFor(ms);
  }

  /** Live members that have not crashed. */
  live(): Life[] {
    return this.ids.map((id) => this.current.get(id)!).filter((l) => !l.crashed);
  }

  /** Whether every live member is in the same full view with everything delivered and nothing pending. */
  settled(): boolean {
    const live = this.live();
    if (live.length !== this.ids.length) return false;
    const views = live.map((l) => l.member.view());
    const v0 = views[0];
    if (!v0 || v0.members.length !== this.ids.length) return false;
    if (!views.every((v) => v?.id === v0.id)) return false;
    const d0 = live[0]!.member.status().delivered;
    return live.every(
      (l) =>
        l.member.status().delivered === d0 &&
        l.member.status().pending === 0 &&
        ['member', 'token-holder'].includes(l.member.status().role),
    );
  }

  /**
   * Runs until `settled()` (or `timeoutMs` virtual ms pass, or `maxEvents` events run: a storm);
   * returns whether it settled.
   */
  async settle(timeoutMs = 30000, maxEvents = 2_000_000): Promise<boolean> {
    const limit = this.sim.stats.events + maxEvents;
    await this.sim.runUntil(() => this.sim.stats.events > limit || this.settled(), timeoutMs);
    return this.settled();
  }

  /** Seqs delivered by `id`'s current incarnation. */
  delivered(id: MemberId): number {
    return this.current.get(id)!.member.status().delivered;
  }

  /**
   * Checks the six guarantees over everything recorded; returns the violations found. `final`
   * adds the end-of-run checks (everything broadcast by a live member delivered everywhere).
   */
  check(final = false): string[] {
    const v: string[] = [];
    const n = this.ids.length;
    const bySeq = new Map<number, string>();
    const deliveredIn = new Map<string, number>();
    const views = new Map<number, View>();
    for (const life of this.lives) {
      const who = `${life.id}#${life.inc}`;
      let cur: View | undefined;
      let last: number | undefined;
      let joining = false;
      const seen = new Set<string>();
      for (const ev of life.events) {
        if (ev.type === 'install') {
          // A joiner: restarted (no view yet) or back from a minority (its old view is stale).
          if (cur && ev.cut < (last ?? 0)) v.push(`${who}: state at cut ${ev.cut} after delivering ${last}`);
          last = ev.cut;
          joining = true;
          continue;
        }
        if (ev.type === 'view') {
          const view = ev.view;
          const known = views.get(view.id);
          if (known && (known.cut !== view.cut || known.members.join() !== view.members.join()))
            v.push(`${who}: view ${view.id} is ${view.members.join()}@${view.cut}, elsewhere ${known.members.join()}@${known.cut}`);
          views.set(view.id, view);
          if (cur && view.id <= cur.id) v.push(`${who}: view ${view.id} after view ${cur.id}`);
          if (!view.members.includes(life.id)) v.push(`${who}: installed view ${view.id} without itself`);
          if (view.primary && this.partitionMode === 'primary-component' && 2 * view.members.length <= n)
            v.push(`${who}: view ${view.id} of ${view.members.length}/${n} members is primary`);
          if (last === undefined) {
            if (view.cut !== 0) v.push(`${who}: first view ${view.id} at cut ${view.cut} without state transfer`);
            last = view.cut;
          } else if (last !== view.cut) v.push(`${who}: view ${view.id} cut ${view.cut} but delivered ${last}`);
          cur = view;
          joining = false;
          continue;
        }
        const { d, key } = ev;
        if (joining) v.push(`${who}: delivery ${d.seq} between a state transfer and its view`);
        if (!cur) v.push(`${who}: delivery ${d.seq} before any view`);
        else {
          if (d.view !== cur.id) v.push(`${who}: seq ${d.seq} delivered in view ${d.view}, installed ${cur.id}`);
          if (!cur.primary) v.push(`${who}: seq ${d.seq} delivered in non-primary view ${cur.id}`);
        }
        if (d.seq !== (last ?? 0) + 1) v.push(`${who}: delivered seq ${d.seq} after ${last}`);
        last = d.seq;
        const other = bySeq.get(d.seq);
        if (other === undefined) bySeq.set(d.seq, key);
        else if (other !== key) v.push(`${who}: seq ${d.seq} is ${key}, elsewhere ${other} (total order)`);
        if (seen.has(key)) v.push(`${who}: ${key} delivered twice`);
        seen.add(key);
        const at = deliveredIn.get(key);
        if (at !== undefined && at !== d.view) v.push(`${key} delivered in views ${at} and ${d.view}`);
        deliveredIn.set(key, d.view);
        if (!this.bcasts.has(key)) v.push(`${who}: delivered ${key}, never broadcast`);
        if (d.sender !== key.split('#')[0]) v.push(`${who}: ${key} delivered as sent by ${d.sender}`);
      }
    }
    const seqOf = new Map<string, number>();
    for (const [s, key] of bySeq) {
      if (seqOf.has(key)) v.push(`${key} at seqs ${seqOf.get(key)} and ${s} (duplication)`);
      seqOf.set(key, s);
    }
    // Sender FIFO: an incarnation's broadcasts are delivered in order and without holes.
    const bySender = new Map<Life, Bcast[]>();
    for (const b of this.bcasts.values()) bySender.set(b.life, [...(bySender.get(b.life) ?? []), b]);
    for (const [life, list] of bySender) {
      list.sort((a, b) => a.k - b.k);
      let prev = 0;
      let hole: string | undefined;
      for (const b of list) {
        const s = seqOf.get(b.key);
        if (s === undefined) {
          hole ??= b.key;
          continue;
        }
        if (hole) v.push(`${life.id}#${life.inc}: ${b.key} delivered but earlier ${hole} not (FIFO)`);
        if (s < prev) v.push(`${b.key} at seq ${s} before an earlier broadcast at ${prev} (FIFO)`);
        prev = s;
      }
    }
    for (const b of this.bcasts.values()) {
      if (!b.result) continue;
      const s = seqOf.get(b.key);
      if (s !== b.result.seq) v.push(`${b.key} resolved at seq ${b.result.seq}, delivered at ${s}`);
      if (deliveredIn.get(b.key) !== b.result.view)
        v.push(`${b.key} resolved in view ${b.result.view}, delivered in ${deliveredIn.get(b.key)}`);
    }
    // Join: a transferred state equals the state every member had at that cut.
    for (const life of this.lives)
      for (const ev of life.events) {
        if (ev.type !== 'install') continue;
        let h = 0x811c9dc5;
        for (let s = 1; s <= ev.cut; s++) {
          const key = bySeq.get(s);
          if (key === undefined) {
            v.push(`${life.id}#${life.inc}: state at cut ${ev.cut} but seq ${s} was never delivered`);
            break;
          }
          h = fnv(h, key);
        }
        if (h !== ev.hash) v.push(`${life.id}#${life.inc}: state at cut ${ev.cut} differs from the history`);
      }
    if (final) {
      const top = Math.max(0, ...bySeq.keys());
      for (const life of this.live()) {
        const d = life.member.status().delivered;
        if (d !== top) v.push(`${life.id}#${life.inc}: delivered ${d} at the end, the group ${top}`);
        if (life.app.seq !== top) v.push(`${life.id}#${life.inc}: app at ${life.app.seq} at the end, the group ${top}`);
      }
      for (const b of this.bcasts.values())
        if (!b.life.crashed && !b.result) v.push(`${b.key} from a live member never resolved (${String(b.error)})`);
    }
    return v;
  }
}

/** A random fault schedule within the model the protocol promises to survive. */
export interface ChaosOptions {
  readonly seed: number;
  readonly members: number;
  /** Virtual ms of faults before the final heal. */
  readonly durationMs?: number;
  readonly crashes?: boolean;
  readonly partitions?: boolean;
  readonly linkFaults?: boolean;
  readonly options?: TokenRingOptions;
}

/**
 * Runs one seeded chaos schedule: broadcasts from random members, and (as enabled) crashes and
 * restarts (never more than a minority down or not yet rejoined at once, the amnesia bound),
 * partitions and heals, drops, duplicates and reordering. Then heals everything, restarts every
 * crashed member, lets the group settle and returns the cluster and its violations.
 */
export async function runChaos(c: ChaosOptions): Promise<{ cluster: Cluster; violations: string[]; settled: boolean }> {
  const cluster = new Cluster({ seed: c.seed, members: c.members, options: c.options });
  const rnd = cluster.sim.random;
  await cluster.startAll();
  const minority = Math.floor((c.members - 1) / 2);
  const duration = c.durationMs ?? 4000;
  const end = cluster.sim.now + duration;
  while (cluster.sim.now < end) {
    const roll = rnd.next();
    const ids = cluster.ids;
    if (roll < 0.55) {
      const live = cluster.live();
      const burst = rnd.int(1, 4);
      for (let i = 0; i < burst; i++) cluster.broadcast(rnd.pick(live).id);
    } else if (roll < 0.65 && c.crashes) {
      const fresh = ids.filter((id) => !cluster.up(id) || !cluster.current.get(id)!.member.view()).length;
      const up = ids.filter((id) => cluster.up(id));
      if (fresh < minority && up.length) cluster.crash(rnd.pick(up));
    } else if (roll < 0.75 && c.crashes) {
      const down = ids.filter((id) => !cluster.up(id));
      if (down.length) await cluster.restart(rnd.pick(down));
    } else if (roll < 0.83 && c.partitions) {
      const shuffled = [...ids].sort(() => rnd.next() - 0.5);
      const cut = rnd.int(1, ids.length - 1);
      cluster.sim.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
    } else if (roll < 0.9 && c.partitions) {
      cluster.sim.heal();
    } else if (c.linkFaults) {
      cluster.sim.setFaults({
        drop: rnd.next() * 0.2,
        duplicate: rnd.next() * 0.1,
        fifo: rnd.next() < 0.5,
        maxDelayMs: rnd.int(2, 20),
      });
    }
    if (process.env['CHAOS_TRACE'])
      console.log(
        `t=${cluster.sim.now.toFixed(1)} ev=${cluster.sim.stats.events} roll=${roll.toFixed(2)}`,
        cluster.ids
          .map((id) => {
            const l = cluster.current.get(id)!;
            const st = l.member.status();
            return `${id}${l.crashed ? 'X' : ''}:${st.role}:v${st.view?.id}:${st.delivered}:${st.details?.['ring']}`;
          })
          .join(' '),
      );
    await cluster.run(rnd.int(5, 250));
  }
  cluster.sim.heal();
  cluster.sim.setFaults({ drop: 0, duplicate: 0, fifo: true, maxDelayMs: 5 });
  for (const id of cluster.ids) if (!cluster.up(id)) await cluster.restart(id);
  if (process.env['CHAOS_TRACE']) {
    const timer = setInterval(
      () =>
        console.log(
          `settling t=${cluster.sim.now.toFixed(1)} ev=${cluster.sim.stats.events}`,
          cluster.ids
            .map((id) => {
              const l = cluster.current.get(id)!;
              const st = l.member.status();
              return `${id}:${st.role}:v${st.view?.id}:${st.delivered}:${st.pending}:${st.details?.['ring']}`;
            })
            .join(' '),
        ),
      1000,
    );
    await cluster.settle(60000).finally(() => clearInterval(timer));
  }
  const settled = await cluster.settle(60000);
  const violations = cluster.check(true);
  if (!settled) violations.push('the group did not settle after the faults ended');
  return { cluster, violations, settled };
}
