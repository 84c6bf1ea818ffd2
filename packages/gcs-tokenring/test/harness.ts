// A simulated token-ring group for scripted fault scenarios: members built the way deployments
// build them (createOrderingMember), the conformance kit's toy application (a digest chain of
// delivered message ids, transferred as state), and a recorder producing the kit's
// `OrderingHistory`, so every scenario is judged by the same `checkOrderingHistory` as the sweeps.
import {
  createOrderingMember,
  type Logger,
  type MemberId,
  type Network,
  type OrderingProtocol,
  type PartitionMode,
} from '@vcl/core';
import {
  INITIAL_DIGEST,
  Simulator,
  chainDigest,
  checkOrderingHistory,
  decodeWorkloadPayload,
  encodeWorkloadPayload,
  formatViolations,
  messageId,
  type IncarnationHistory,
  type LinkFaults,
  type OrderingHistory,
  type RecordedBroadcast,
  type Violation,
} from '@vcl/core/testing';
import { tokenRing, type TokenRingOptions } from '../src';

/** Every `logger.error` line of the current test file (a protocol error is a test failure). */
export const errors: string[] = [];

/** A logger that drops everything but records errors (prints all for the member named by TOKENRING_DEBUG). */
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

/** How a `Cluster` is built. */
export interface ClusterOptions {
  readonly seed: number;
  readonly members: number;
  readonly faults?: Partial<LinkFaults>;
  readonly options?: TokenRingOptions;
  readonly partition?: PartitionMode;
  /** Bytes of filler appended to every transferred state (and checked on install): large states. */
  readonly statePadding?: number;
  /** Lets a test put a typed fake between a member and its simulated links (sniffing, filtering). */
  readonly wrapNetwork?: (id: MemberId, network: Network) => Network;
}

function filler(n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += String.fromCharCode(97 + ((i * 7) % 26));
  return out;
}

interface Live {
  readonly h: IncarnationHistory;
  readonly member: OrderingProtocol;
  digest: string;
  applied: number;
  step: number;
}

/** A simulated group of token ring members, recorded as an `OrderingHistory`. */
export class Cluster {
  readonly sim: Simulator;
  readonly ids: readonly MemberId[];
  readonly history: OrderingHistory;
  private readonly live = new Map<MemberId, Live>();

  constructor(readonly opts: ClusterOptions) {
    this.ids = Array.from({ length: opts.members }, (_, i) => `n${i + 1}`);
    this.sim = new Simulator({ seed: opts.seed, members: this.ids, faults: opts.faults });
    this.history = {
      members: this.ids,
      partition: opts.partition ?? 'primary-component',
      incarnations: [],
      faults: [],
    };
  }

  /** Starts every member. */
  async startAll(): Promise<void> {
    for (const id of this.ids) await this.spawn(id);
  }

  /** Starts the current incarnation of `id`. */
  async spawn(id: MemberId): Promise<OrderingProtocol> {
    const node = this.sim.node(id);
    const h: IncarnationHistory = {
      member: id,
      incarnation: node.incarnation,
      startedAt: this.sim.now,
      views: [],
      deliveries: [],
      broadcasts: [],
      stateInstalls: [],
      stateCaptures: [],
    };
    this.history.incarnations.push(h);
    const member = createOrderingMember(tokenRing(this.opts.options), {
      group: { self: id, members: this.ids, partition: this.history.partition },
      network: this.opts.wrapNetwork ? this.opts.wrapNetwork(id, node.network) : node.network,
      clock: node.clock,
      random: node.random,
      logger: testLogger({ member: `${id}#${node.incarnation}` }),
    });
    const l: Live = { h, member, digest: INITIAL_DIGEST, applied: 0, step: 0 };
    this.live.set(id, l);
    member.onView((view) => h.views.push({ ...view, members: [...view.members], at: this.sim.now, step: l.step++ }));
    member.onDeliver((d) => {
      const id = decodeWorkloadPayload(d.payload)?.id;
      h.deliveries.push({
        view: d.view,
        seq: d.seq,
        sender: d.sender,
        messageId: id,
        at: this.sim.now,
        step: l.step++,
      });
      l.digest = chainDigest(l.digest, id ?? `?${d.sender}@${d.seq}`);
      l.applied = d.seq;
    });
    member.setStateTransfer({
      capture: (cut) => {
        h.stateCaptures.push({ cut, digest: l.digest, applied: l.applied, at: this.sim.now, step: l.step++ });
        const pad = this.opts.statePadding ?? 0;
        return new TextEncoder().encode(JSON.stringify({ cut, digest: l.digest }) + '\n' + filler(pad));
      },
      install: (state, cut) => {
        const [json, pad] = new TextDecoder().decode(state).split('\n');
        if (pad !== filler(this.opts.statePadding ?? 0))
          throw new Error(`state filler of ${pad?.length} chars corrupted`);
        const s = JSON.parse(json!) as { cut: number; digest: string };
        h.stateInstalls.push({ cut, digest: s.digest, capturedCut: s.cut, at: this.sim.now, step: l.step++ });
        l.digest = s.digest;
        l.applied = cut;
      },
    });
    await node.network.start();
    await member.start();
    return member;
  }

  /** The current incarnation's protocol member. */
  member(id: MemberId): OrderingProtocol {
    return this.live.get(id)!.member;
  }

  /** Whether `id` is up. */
  up(id: MemberId): boolean {
    return this.sim.node(id).up;
  }

  /** Crashes `id` (its incarnation is gone, with everything it knew). */
  crash(id: MemberId): void {
    this.sim.crash(id);
    this.live.get(id)!.h.crashedAt = this.sim.now;
    this.note(`crash ${id}`);
  }

  /** Restarts crashed `id` as a new incarnation. */
  async restart(id: MemberId): Promise<OrderingProtocol> {
    this.sim.restart(id);
    this.note(`restart ${id}`);
    return this.spawn(id);
  }

  /** Splits the group (see `Simulator.partition`). */
  partition(groups: MemberId[][]): void {
    this.sim.partition(groups);
    this.note(`partition ${groups.map((g) => g.join(',')).join('|')}`);
  }

  /** Removes every partition. */
  heal(): void {
    this.sim.heal();
    this.note('heal');
  }

  /** Broadcasts a fresh workload message from `id`; the record fills in when its promise settles. */
  broadcast(id: MemberId): RecordedBroadcast {
    const l = this.live.get(id)!;
    const counter = l.h.broadcasts.length + 1;
    const rec: RecordedBroadcast = { messageId: messageId(id, l.h.incarnation, counter), counter, at: this.sim.now };
    l.h.broadcasts.push(rec);
    l.member.broadcast(encodeWorkloadPayload(id, l.h.incarnation, counter)).then(
      (o) => (rec.resolved = { at: this.sim.now, seq: o.seq, view: o.view }),
      (e: unknown) => (rec.rejected = { at: this.sim.now, error: String(e) }),
    );
    return rec;
  }

  /** Runs the simulation for `ms` virtual ms. */
  run(ms: number): Promise<void> {
    return this.sim.runFor(ms);
  }

  /** Every member up, in one primary view of all members, everything delivered and resolved. */
  settled(): boolean {
    let view: number | undefined;
    let applied: number | undefined;
    for (const id of this.ids) {
      const l = this.live.get(id)!;
      if (!this.up(id)) return false;
      const v = l.member.view();
      if (!v || v.members.length !== this.ids.length || (view !== undefined && v.id !== view)) return false;
      if (l.member.status().pending > 0 || (applied !== undefined && l.applied !== applied)) return false;
      view = v.id;
      applied = l.applied;
    }
    return true;
  }

  /** Runs until `settled()` or `timeoutMs` virtual ms pass; returns whether it settled. */
  async settle(timeoutMs = 30000): Promise<boolean> {
    return this.sim.runUntil(() => this.settled(), timeoutMs);
  }

  /** What incarnation `id` delivered so far (message ids). */
  deliveredIds(id: MemberId): string[] {
    return this.live.get(id)!.h.deliveries.map((d) => d.messageId ?? '?');
  }

  /** The application position (highest seq applied, by delivery or state) of `id`. */
  applied(id: MemberId): number {
    return this.live.get(id)!.applied;
  }

  /**
   * The kit's verdict on everything recorded. With `liveness`, the run counts as ended now and
   * faults as ended at `faultsEndedAt`: everything broadcast by a live member must be delivered.
   */
  violations(liveness?: { faultsEndedAt: number }): Violation[] {
    if (liveness) {
      this.history.faultsEndedAt = liveness.faultsEndedAt;
      this.history.endedAt = this.sim.now;
    }
    return checkOrderingHistory(this.history);
  }

  /** `violations` formatted for an assertion message ('' when none). */
  report(liveness?: { faultsEndedAt: number }): string {
    const v = this.violations(liveness);
    return v.length ? formatViolations(v) : '';
  }

  private note(action: string): void {
    this.history.faults.push({ at: this.sim.now, action });
  }
}
