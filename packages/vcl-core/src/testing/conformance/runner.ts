import { createHash } from 'node:crypto';
import { createOrderingMember } from '../../assembly/ordering-member';
import type { Logger } from '../../contracts/logger';
import type { MemberId } from '../../contracts/network';
import type { OrderingProtocol, PartitionMode } from '../../contracts/ordering';
import type { Plugin } from '../../contracts/plugin';
import { ConfigError } from '../../errors';
import type { SeededRandom } from '../sim/prng';
import { Simulator, type LinkFaults } from '../sim/simulator';
import { checkOrderingHistory } from './check';
import {
  chainDigest,
  decodeWorkloadPayload,
  encodeWorkloadPayload,
  INITIAL_DIGEST,
  messageId,
  type IncarnationHistory,
  type OrderingHistory,
  type Violation,
} from './history';

/** Which faults a run injects. Every schedule is drawn from the seed. */
export type FaultProfile =
  /** A clean network, nobody crashes. */
  | 'none'
  /** Links drop, duplicate and reorder messages with varying delays. */
  | 'drops'
  /**
   * Members crash and restart: at most a minority down or not yet rejoined at once; the view's
   * first member often, sometimes right after a delivery.
   */
  | 'crashes'
  /** The group splits into a majority and a minority side, and heals. */
  | 'partitions'
  /** All of the above at once. */
  | 'chaos';

/** Every fault profile, for option validation and listings. */
export const FAULT_PROFILES: readonly FaultProfile[] = ['none', 'drops', 'crashes', 'partitions', 'chaos'];

/** Options of one simulated conformance run of an ordering plugin. */
export interface OrderingRunOptions {
  /** The configured ordering plugin under test; one member is built from it per incarnation. */
  readonly plugin: Plugin;
  /** The seed; the same seed and options give the same run, bit for bit. */
  readonly seed: number;
  /** Group size. Default 3. Members are named n1..nK. */
  readonly members?: number;
  /** Fault profile. Default `none`. */
  readonly faults?: FaultProfile;
  /** Virtual ms during which faults happen. Default 10000. */
  readonly durationMs?: number;
  /** Virtual ms the workload goes on after faults end (so liveness sees post-fault broadcasts). Default 1000. */
  readonly tailMs?: number;
  /** Longest virtual quiet period after the workload stops, waiting for the group to settle. Default 5000. */
  readonly quietMs?: number;
  /** Mean virtual ms between two broadcasts of one member. Default 100. */
  readonly broadcastEveryMs?: number;
  /** Most unresolved broadcasts one incarnation keeps in flight. Default 4. */
  readonly maxPending?: number;
  /** Partition mode of the group. Default `primary-component`. */
  readonly partition?: PartitionMode;
  /** Where members log. Default: a silent logger. */
  readonly logger?: Logger;
  /**
   * Virtual ms a state transfer takes: `capture` resolves that long after the plugin asks (a donor
   * saving a large state), `install` likewise (a joiner loading or replaying it). Default 0 each:
   * both return at once.
   */
  readonly stateTransferMs?: { readonly capture: number; readonly install: number };
  /**
   * Checks progress under churn: whenever a primary component exists (a majority of the members,
   * all alive and unpartitioned, whose latest installed view is one and the same) and one of them
   * has a broadcast pending, some member delivers within this many virtual ms; a longer silence is
   * a `progress` violation. Default: not checked.
   */
  readonly progressBoundMs?: number;
}

/** Counters of one run. */
export interface OrderingRunStats {
  /** Virtual ms simulated. */
  readonly virtualMs: number;
  /** Simulator events run. */
  readonly events: number;
  /** Network messages sent / dropped / duplicated. */
  readonly sent: number;
  readonly dropped: number;
  readonly duplicated: number;
  /** Broadcasts made, and how many resolved. */
  readonly broadcasts: number;
  readonly resolved: number;
  /** Deliveries over all incarnations, and the highest seq. */
  readonly deliveries: number;
  readonly maxSeq: number;
  /**
   * The longest silence (no delivery anywhere) while a primary component existed with work pending,
   * virtual ms; measured only with `progressBoundMs` (a run without it schedules nothing extra).
   */
  readonly longestGapMs?: number;
  /** Distinct view ids installed. */
  readonly views: number;
  /** Crashes, restarts and partitions injected. */
  readonly crashes: number;
  readonly restarts: number;
  readonly partitions: number;
  /** Real ms the run took (not part of the fingerprint). */
  readonly wallMs: number;
}

/** What one run produced. */
export interface OrderingRunResult {
  /** The seed. */
  readonly seed: number;
  /** Everything every incarnation did. */
  readonly history: OrderingHistory;
  /** Every guarantee broken (empty: the run conforms). */
  readonly violations: Violation[];
  /** Counters. */
  readonly stats: OrderingRunStats;
  /** A digest of the whole run (network events and history); equal fingerprints mean equal runs. */
  readonly fingerprint: string;
}

/** How long a "crash right after the next delivery" stays armed. */
const ARMED_CRASH_TTL_MS = 1000;

const CLEAN_LINKS: LinkFaults = { drop: 0, duplicate: 0, minDelayMs: 1, maxDelayMs: 5, fifo: true };

const SILENT: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => SILENT,
};

/** A logger that drops everything (the runner's default). */
export function silentLogger(): Logger {
  return SILENT;
}

interface Live {
  readonly h: IncarnationHistory;
  readonly member: OrderingProtocol;
  pending: number;
  counter: number;
  digest: string;
  applied: number;
  step: number;
}

/**
 * Runs one seeded conformance run of an ordering plugin on the simulator: K members under a
 * seeded broadcast workload and a seeded fault schedule; after `durationMs` every fault is healed
 * and every crashed member restarted, the workload goes on for `tailMs`, stops, and the group gets
 * up to `quietMs` to settle. Then the history is checked (`checkOrderingHistory`, liveness included).
 */
export async function runOrderingSeed(options: OrderingRunOptions): Promise<OrderingRunResult> {
  const o = normalize(options);
  const started = Date.now();
  const ids = Array.from({ length: o.members }, (_, i) => `n${i + 1}`);
  const sim = new Simulator({ seed: o.seed, members: ids });
  const history: OrderingHistory = { members: ids, partition: o.partition, incarnations: [], faults: [] };
  const live = new Map<MemberId, Live>();
  // Members to crash right after their next delivery, with when that was decided.
  const crashAfterDelivery = new Map<MemberId, number>();
  const counts = { crashes: 0, restarts: 0, partitions: 0 };
  const workloadEnd = o.durationMs + o.tailMs;
  const note = (action: string) => history.faults.push({ at: sim.now, action });

  const crash = (id: MemberId, why: string) => {
    const l = live.get(id);
    if (!l || !sim.node(id).up) return;
    sim.crash(id);
    l.h.crashedAt = sim.now;
    live.delete(id);
    crashAfterDelivery.delete(id);
    counts.crashes++;
    note(`crash ${id}${why}`);
  };

  const start = (id: MemberId) => {
    const node = sim.node(id);
    const h: IncarnationHistory = {
      member: id,
      incarnation: node.incarnation,
      startedAt: sim.now,
      views: [],
      deliveries: [],
      broadcasts: [],
      stateInstalls: [],
      stateCaptures: [],
    };
    history.incarnations.push(h);
    let member: OrderingProtocol;
    try {
      member = createOrderingMember(o.plugin, {
        group: { self: id, members: ids, partition: o.partition },
        network: node.network,
        clock: node.clock,
        random: node.random,
        logger: o.logger.child({ member: id, incarnation: node.incarnation }),
      });
    } catch (err) {
      h.startError = String(err);
      return;
    }
    const l: Live = { h, member, pending: 0, counter: 0, digest: INITIAL_DIGEST, applied: 0, step: 0 };
    live.set(id, l);
    const alive = () => live.get(id) === l;
    member.onView((view) => {
      if (!alive()) return;
      h.views.push({ ...view, members: [...view.members], at: sim.now, step: l.step++ });
    });
    member.onDeliver((d) => {
      if (!alive()) return;
      progress.delivered();
      const decoded = decodeWorkloadPayload(d.payload);
      h.deliveries.push({
        view: d.view,
        seq: d.seq,
        sender: d.sender,
        messageId: decoded?.id,
        at: sim.now,
        step: l.step++,
      });
      l.digest = chainDigest(l.digest, decoded?.id ?? `?${d.sender}@${d.seq}`);
      l.applied = d.seq;
      const armedAt = crashAfterDelivery.get(id);
      if (armedAt !== undefined) {
        crashAfterDelivery.delete(id);
        // The group may have changed since the crash was decided: it must still leave a majority.
        if (sim.now - armedAt <= ARMED_CRASH_TTL_MS && faults.mayCrash())
          crash(id, ` right after delivering seq ${d.seq}`);
      }
    });
    const later = <T>(ms: number, f: () => T): T | Promise<T> =>
      ms > 0 ? new Promise<T>((resolve) => node.clock.setTimer(ms, () => resolve(f()))) : f();
    member.setStateTransfer({
      capture: (cut) => {
        // Taken at the cut (now); shipped once the capture's time has passed.
        if (alive()) h.stateCaptures.push({ cut, digest: l.digest, applied: l.applied, at: sim.now, step: l.step++ });
        const bytes = new TextEncoder().encode(JSON.stringify({ cut, digest: l.digest }));
        return later(o.stateTransferMs.capture, () => bytes);
      },
      install: (state, cut) =>
        later(o.stateTransferMs.install, () => {
          let parsed: { cut?: unknown; digest?: unknown } = {};
          try {
            parsed = JSON.parse(new TextDecoder().decode(state)) as typeof parsed;
          } catch {
            parsed = {};
          }
          const digest = typeof parsed.digest === 'string' ? parsed.digest : `unreadable state (${state.length} bytes)`;
          const capturedCut = typeof parsed.cut === 'number' ? parsed.cut : -1;
          if (!alive()) return;
          h.stateInstalls.push({ cut, digest, capturedCut, at: sim.now, step: l.step++ });
          l.digest = digest;
          l.applied = cut;
        }),
    });
    void node.network
      .start()
      .then(() => member.start())
      .catch((err: unknown) => {
        h.startError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      });
    scheduleWorkload(l, sim.random.fork(`workload:${id}:${node.incarnation}`));
  };

  const scheduleWorkload = (l: Live, random: SeededRandom) => {
    const tick = () => {
      if (live.get(l.h.member) !== l || sim.now >= workloadEnd) return;
      if (l.pending < o.maxPending) broadcast(l);
      sim.schedule(random.next() * 2 * o.broadcastEveryMs, tick);
    };
    sim.schedule(random.next() * 2 * o.broadcastEveryMs, tick);
  };

  const broadcast = (l: Live) => {
    const counter = ++l.counter;
    const id = messageId(l.h.member, l.h.incarnation, counter);
    const rec: IncarnationHistory['broadcasts'][number] = { messageId: id, counter, at: sim.now };
    l.h.broadcasts.push(rec);
    l.pending++;
    let promise: Promise<{ view: number; seq: number }>;
    try {
      promise = l.member.broadcast(encodeWorkloadPayload(l.h.member, l.h.incarnation, counter));
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      (ordered) => {
        l.pending--;
        if (live.get(l.h.member) === l) rec.resolved = { at: sim.now, seq: ordered.seq, view: ordered.view };
      },
      (err: unknown) => {
        l.pending--;
        if (live.get(l.h.member) === l)
          rec.rejected = { at: sim.now, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
      },
    );
  };

  let partitioned = false;
  const progress = new ProgressWatch(sim, o, ids, live, () => partitioned);
  for (const id of ids) start(id);
  const faults = new FaultDriver(sim, o, ids, live, {
    crash,
    restart: (id) => {
      if (sim.node(id).up) sim.crash(id);
      sim.restart(id);
      counts.restarts++;
      note(`restart ${id}`);
      start(id);
    },
    armCrashAfterDelivery: (id) => {
      crashAfterDelivery.set(id, sim.now);
      note(`crash ${id} after its next delivery`);
    },
    partition: (groups) => {
      sim.partition(groups);
      partitioned = true;
      counts.partitions++;
      note(`partition ${groups.map((g) => g.join(',')).join('|')}`);
    },
    heal: () => {
      sim.heal();
      partitioned = false;
      note('heal');
    },
    links: (f) => {
      sim.setFaults(f);
      note(
        `links drop=${f.drop.toFixed(3)} duplicate=${f.duplicate.toFixed(3)} delay=${f.minDelayMs}..${f.maxDelayMs.toFixed(1)}` +
          ` fifo=${f.fifo}`,
      );
    },
  });
  faults.begin();
  await sim.runUntilTime(o.durationMs);

  // End of faults: heal, clean links, restart everyone, so a correct protocol must converge.
  faults.stop();
  crashAfterDelivery.clear();
  sim.heal();
  partitioned = false;
  sim.setFaults(CLEAN_LINKS);
  note('end of faults: heal, clean links, restart every crashed member');
  for (const id of ids) {
    if (!sim.node(id).up || !live.has(id)) {
      if (sim.node(id).up) sim.crash(id);
      sim.restart(id);
      counts.restarts++;
      start(id);
    }
  }
  history.faultsEndedAt = sim.now;
  await sim.runUntilTime(workloadEnd);
  await sim.runUntil(() => settled(ids, live), o.quietMs);
  history.endedAt = sim.now;
  progress.stop();

  const violations = [...checkOrderingHistory(history), ...progress.violations];
  const all = history.incarnations;
  const stats: OrderingRunStats = {
    virtualMs: sim.now,
    events: sim.stats.events,
    sent: sim.stats.sent,
    dropped: sim.stats.dropped,
    duplicated: sim.stats.duplicated,
    broadcasts: all.reduce((n, h) => n + h.broadcasts.length, 0),
    resolved: all.reduce((n, h) => n + h.broadcasts.filter((b) => b.resolved).length, 0),
    deliveries: all.reduce((n, h) => n + h.deliveries.length, 0),
    maxSeq: all.reduce((n, h) => Math.max(n, ...h.deliveries.map((d) => d.seq)), 0),
    ...(o.progressBoundMs !== undefined ? { longestGapMs: progress.longestGapMs } : {}),
    views: new Set(all.flatMap((h) => h.views.map((x) => x.id))).size,
    ...counts,
    wallMs: Date.now() - started,
  };
  const fingerprint = `${sim.fingerprint()}:${createHash('sha256').update(JSON.stringify(history)).digest('hex').slice(0, 16)}`;
  return { seed: o.seed, history, violations, stats, fingerprint };
}

/** True when every member is up in one primary view of all members and nothing is pending. */
function settled(ids: readonly MemberId[], live: Map<MemberId, Live>): boolean {
  let viewId: number | undefined;
  let maxSeq: number | undefined;
  for (const id of ids) {
    const l = live.get(id);
    if (!l || l.pending > 0) return false;
    const view = l.h.views[l.h.views.length - 1];
    if (!view || !view.primary || view.members.length !== ids.length) return false;
    if (viewId !== undefined && view.id !== viewId) return false;
    viewId = view.id;
    if (maxSeq !== undefined && l.applied !== maxSeq) return false;
    maxSeq = l.applied;
  }
  return true;
}

type Normalized = Required<Omit<OrderingRunOptions, 'logger' | 'progressBoundMs'>> & {
  logger: Logger;
  progressBoundMs: number | undefined;
};

/** How often the progress watch looks (virtual ms). */
const PROGRESS_SAMPLE_MS = 25;

/**
 * Watches a run for silences: the time since the last delivery anywhere, counted only while a
 * primary component exists with a broadcast pending in it (a majority of the members alive and
 * unpartitioned, each with the same latest view). Restarted from zero whenever there is none.
 */
class ProgressWatch {
  longestGapMs = 0;
  readonly violations: Violation[] = [];
  private quietSince: number;
  private reported = false;
  private timer: { cancel(): void } | undefined;

  constructor(
    private readonly sim: Simulator,
    private readonly o: Normalized,
    private readonly ids: readonly MemberId[],
    private readonly live: Map<MemberId, Live>,
    private readonly partitioned: () => boolean,
  ) {
    this.quietSince = sim.now;
    // Only a run that checks progress samples it: others keep their exact event sequence.
    if (o.progressBoundMs !== undefined) this.tick();
  }

  delivered(): void {
    this.quietSince = this.sim.now;
    this.reported = false;
  }

  stop(): void {
    this.timer?.cancel();
  }

  private tick(): void {
    const now = this.sim.now;
    if (!this.primaryWithWork()) {
      this.quietSince = now;
      this.reported = false;
    } else {
      const gap = now - this.quietSince;
      this.longestGapMs = Math.max(this.longestGapMs, gap);
      const bound = this.o.progressBoundMs;
      if (bound !== undefined && gap > bound && !this.reported) {
        this.reported = true;
        this.violations.push({
          guarantee: 'progress',
          message:
            `no member delivered for ${Math.round(gap)} ms (from ${Math.round(this.quietSince)} ms) while a primary ` +
            `component with pending broadcasts existed: bound ${bound} ms`,
        });
      }
    }
    this.timer = this.sim.schedule(PROGRESS_SAMPLE_MS, () => this.tick());
  }

  private primaryWithWork(): boolean {
    if (this.partitioned()) return false;
    const views = new Map<number, { members: readonly MemberId[]; holders: Live[] }>();
    for (const id of this.ids) {
      const l = this.live.get(id);
      if (!l || !this.sim.node(id).up) continue;
      const v = l.h.views[l.h.views.length - 1];
      if (!v || !v.primary) continue;
      const e = views.get(v.id) ?? { members: v.members, holders: [] };
      e.holders.push(l);
      views.set(v.id, e);
    }
    for (const { members, holders } of views.values())
      if (
        members.length > this.ids.length / 2 &&
        holders.length === members.length &&
        holders.some((l) => l.pending > 0)
      )
        return true;
    return false;
  }
}

function normalize(options: OrderingRunOptions): Normalized {
  const o: Normalized = {
    plugin: options.plugin,
    seed: options.seed,
    members: options.members ?? 3,
    faults: options.faults ?? 'none',
    durationMs: options.durationMs ?? 10_000,
    tailMs: options.tailMs ?? 1000,
    quietMs: options.quietMs ?? 5000,
    broadcastEveryMs: options.broadcastEveryMs ?? 100,
    maxPending: options.maxPending ?? 4,
    partition: options.partition ?? 'primary-component',
    logger: options.logger ?? SILENT,
    stateTransferMs: options.stateTransferMs ?? { capture: 0, install: 0 },
    progressBoundMs: options.progressBoundMs,
  };
  const issues: { path: string; message: string }[] = [];
  const int = (path: keyof Normalized, min: number) => {
    const x = o[path] as number;
    if (!Number.isSafeInteger(x) || x < min) issues.push({ path, message: `must be an integer >= ${min}, got ${x}` });
  };
  if (!Number.isSafeInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff)
    issues.push({ path: 'seed', message: `must be an integer in 0..4294967295, got ${o.seed}` });
  int('members', 1);
  int('durationMs', 0);
  int('tailMs', 0);
  int('quietMs', 0);
  int('maxPending', 1);
  for (const k of ['capture', 'install'] as const)
    if (!(o.stateTransferMs[k] >= 0))
      issues.push({ path: `stateTransferMs.${k}`, message: `must be >= 0, got ${o.stateTransferMs[k]}` });
  if (o.progressBoundMs !== undefined && !(o.progressBoundMs > 0))
    issues.push({ path: 'progressBoundMs', message: `must be > 0, got ${o.progressBoundMs}` });
  if (!(o.broadcastEveryMs > 0))
    issues.push({ path: 'broadcastEveryMs', message: `must be > 0, got ${o.broadcastEveryMs}` });
  if (!FAULT_PROFILES.includes(o.faults))
    issues.push({
      path: 'faults',
      message: `unknown fault profile ${String(o.faults)}; one of ${FAULT_PROFILES.join(', ')}`,
    });
  if (o.plugin?.kind !== 'ordering')
    issues.push({ path: 'plugin', message: `must be an ordering plugin, got ${o.plugin?.kind ?? String(o.plugin)}` });
  if (issues.length) throw new ConfigError('runOrderingSeed options', issues);
  return o;
}

interface FaultActions {
  crash(id: MemberId, why: string): void;
  restart(id: MemberId): void;
  armCrashAfterDelivery(id: MemberId): void;
  partition(groups: MemberId[][]): void;
  heal(): void;
  links(f: LinkFaults): void;
}

/**
 * Draws the fault schedule from the seed as the run goes (targets such as "the view's first
 * member" depend on the run, which is itself a function of the seed).
 */
class FaultDriver {
  private readonly random: SeededRandom;
  private stopped = false;
  private partitioned = false;

  constructor(
    private readonly sim: Simulator,
    private readonly o: Normalized,
    private readonly ids: readonly MemberId[],
    private readonly live: Map<MemberId, Live>,
    private readonly act: FaultActions,
  ) {
    this.random = sim.random.fork('faults');
  }

  begin(): void {
    const p = this.o.faults;
    if (p === 'none') return;
    if (p === 'drops' || p === 'chaos') this.act.links(this.randomLinks());
    this.next();
  }

  stop(): void {
    this.stopped = true;
  }

  private next(): void {
    const r = this.random;
    const gap = 150 + r.next() * 900;
    this.sim.schedule(gap, () => {
      if (this.stopped || this.sim.now >= this.o.durationMs) return;
      this.tick();
      this.next();
    });
  }

  private tick(): void {
    const r = this.random;
    switch (this.o.faults) {
      case 'drops':
        this.act.links(this.randomLinks());
        break;
      case 'crashes':
        this.crashOrRestart();
        break;
      case 'partitions':
        this.partitionOrHeal();
        break;
      case 'chaos': {
        const x = r.next();
        if (x < 0.2) this.act.links(this.randomLinks());
        else if (x < 0.6) this.crashOrRestart();
        else this.partitionOrHeal();
        break;
      }
      default:
        break;
    }
  }

  private down(): MemberId[] {
    return this.ids.filter((id) => !this.live.has(id));
  }

  /**
   * Members that cannot vouch for the group's state: crashed, or restarted (a new incarnation
   * remembers nothing) and not yet back in a primary view with its state. Crashing more than a
   * minority of those would lose acknowledged messages for good, which no protocol can prevent.
   */
  private impaired(): MemberId[] {
    return this.ids.filter((id) => {
      const l = this.live.get(id);
      if (!l) return true;
      const view = l.h.views[l.h.views.length - 1];
      return !view || !view.primary || !view.members.includes(id) || l.applied < view.cut;
    });
  }

  /** Whether one more crash still leaves a majority that remembers the group's state. */
  mayCrash(): boolean {
    return this.impaired().length < Math.floor((this.ids.length - 1) / 2);
  }

  private crashOrRestart(): void {
    const r = this.random;
    const down = this.down();
    const minority = Math.floor((this.ids.length - 1) / 2);
    if (down.length > 0 && (down.length >= minority || r.chance(0.5))) {
      this.act.restart(r.pick(down));
      return;
    }
    if (!this.mayCrash()) return;
    const up = this.ids.filter((id) => this.live.has(id));
    const leader = this.leader();
    const target = leader !== undefined && up.includes(leader) && r.chance(0.5) ? leader : r.pick(up);
    if (r.chance(0.4)) this.act.armCrashAfterDelivery(target);
    else this.act.crash(target, target === leader ? ' (first member of the latest view)' : '');
  }

  private partitionOrHeal(): void {
    const r = this.random;
    if (this.partitioned && r.chance(0.6)) {
      this.partitioned = false;
      this.act.heal();
      return;
    }
    const shuffled = [...this.ids];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(r.next() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const leader = this.leader();
    const majority = Math.floor(this.ids.length / 2) + 1;
    let big = shuffled.slice(0, majority);
    let small = shuffled.slice(majority);
    // Half the time the view's first member ends up on the minority side.
    if (leader !== undefined && small.length > 0 && r.chance(0.5) && big.includes(leader)) {
      const swap = small[0]!;
      big = big.map((m) => (m === leader ? swap : m));
      small = [leader, ...small.slice(1)];
    }
    const groups = small.length > 1 && r.chance(0.3) ? [big, [small[0]!], small.slice(1)] : [big, small];
    this.partitioned = true;
    this.act.partition(groups.filter((g) => g.length > 0));
  }

  /** The first member of the newest view any live incarnation has installed. */
  private leader(): MemberId | undefined {
    let best: { id: number; first: MemberId } | undefined;
    for (const l of this.live.values()) {
      const view = l.h.views[l.h.views.length - 1];
      if (view && view.members[0] !== undefined && (!best || view.id > best.id))
        best = { id: view.id, first: view.members[0] };
    }
    return best?.first;
  }

  private randomLinks(): LinkFaults {
    const r = this.random;
    const maxDelayMs = 2 + r.next() * 38;
    return {
      drop: r.next() * 0.2,
      duplicate: r.next() * 0.1,
      minDelayMs: 1,
      maxDelayMs,
      fifo: r.chance(0.3),
    };
  }
}

/** Options of a sweep over many seeds. */
export interface OrderingSweepOptions extends Omit<OrderingRunOptions, 'seed'> {
  /** How many seeds to run, starting at `firstSeed`, or the exact seeds. */
  readonly seeds: number | readonly number[];
  /** The first seed when `seeds` is a count. Default 1. */
  readonly firstSeed?: number;
  /** How many failing runs to keep in full (their histories can be large). Default 3. */
  readonly keepFailures?: number;
  /** Stop at the first failing seed. Default false. */
  readonly stopOnFailure?: boolean;
  /** Called after every seed. */
  readonly onProgress?: (progress: OrderingSweepProgress) => void;
}

/** Progress of a sweep, after one seed. */
export interface OrderingSweepProgress {
  /** Seeds done so far and in total. */
  readonly done: number;
  readonly total: number;
  /** The seed just run, and its result. */
  readonly seed: number;
  readonly result: OrderingRunResult;
  /** Violations so far over all seeds, and the failing seeds so far. */
  readonly violations: number;
  readonly failingSeeds: readonly number[];
}

/** What a sweep produced. */
export interface OrderingSweepResult {
  /** Seeds run. */
  readonly seedsRun: number;
  /** Violations over all seeds. */
  readonly violations: number;
  /** Every seed with at least one violation, in run order. */
  readonly failingSeeds: readonly number[];
  /** The first `keepFailures` failing runs, in full. */
  readonly failures: readonly OrderingRunResult[];
  /** Sums over all seeds. */
  readonly totals: {
    readonly deliveries: number;
    readonly broadcasts: number;
    readonly events: number;
    readonly wallMs: number;
  };
}

/** Runs `runOrderingSeed` for many seeds, one after another. */
export async function runOrderingSweep(options: OrderingSweepOptions): Promise<OrderingSweepResult> {
  const { seeds, firstSeed = 1, keepFailures = 3, stopOnFailure = false, onProgress, ...run } = options;
  const list = typeof seeds === 'number' ? Array.from({ length: seeds }, (_, i) => firstSeed + i) : [...seeds];
  const failingSeeds: number[] = [];
  const failures: OrderingRunResult[] = [];
  let violations = 0;
  const totals = { deliveries: 0, broadcasts: 0, events: 0, wallMs: 0 };
  let done = 0;
  for (const seed of list) {
    const result = await runOrderingSeed({ ...run, seed });
    done++;
    totals.deliveries += result.stats.deliveries;
    totals.broadcasts += result.stats.broadcasts;
    totals.events += result.stats.events;
    totals.wallMs += result.stats.wallMs;
    if (result.violations.length > 0) {
      violations += result.violations.length;
      failingSeeds.push(seed);
      if (failures.length < keepFailures) failures.push(result);
    }
    onProgress?.({ done, total: list.length, seed, result, violations, failingSeeds });
    if (stopOnFailure && result.violations.length > 0) break;
  }
  return { seedsRun: done, violations, failingSeeds, failures, totals };
}
