import type { View } from '../../contracts/ordering';
import {
  chainDigest,
  INITIAL_DIGEST,
  incarnationName,
  type Guarantee,
  type IncarnationHistory,
  type OrderingHistory,
  type RecordedBroadcast,
  type RecordedDelivery,
  type RecordedStateCapture,
  type RecordedStateInstall,
  type RecordedView,
  type Violation,
} from './history';

/**
 * Checks a recorded run against the six guarantees of an ordering protocol (total order, uniform
 * agreement, virtual synchrony, primary component, integrity, join) and, when the history says
 * when faults ended and the run ended, liveness. Returns every violation found; none means the
 * run conforms.
 */
export function checkOrderingHistory(history: OrderingHistory): Violation[] {
  const ctx = new CheckContext(history);
  return [
    ...checkTotalOrder(history, ctx),
    ...checkAgreement(history, ctx),
    ...checkVirtualSynchrony(history, ctx),
    ...checkPrimaryComponent(history, ctx),
    ...checkIntegrity(history, ctx),
    ...checkJoin(history, ctx),
    ...checkLiveness(history, ctx),
  ];
}

/** Counts violations per guarantee (for summaries). */
export function countByGuarantee(violations: readonly Violation[]): Partial<Record<Guarantee, number>> {
  const out: Partial<Record<Guarantee, number>> = {};
  for (const v of violations) out[v.guarantee] = (out[v.guarantee] ?? 0) + 1;
  return out;
}

type Event =
  | { readonly kind: 'view'; readonly step: number; readonly e: RecordedView }
  | { readonly kind: 'deliver'; readonly step: number; readonly e: RecordedDelivery }
  | { readonly kind: 'install'; readonly step: number; readonly e: RecordedStateInstall }
  | { readonly kind: 'capture'; readonly step: number; readonly e: RecordedStateCapture };

/** What the walk over one incarnation's events found. */
interface Walk {
  /** Seqs this incarnation moved through by delivering (so it must have delivered their messages). */
  readonly advanced: Set<number>;
  /** Its position at the end: the highest seq delivered or installed by state transfer. */
  readonly position: number;
  /** A view whose cut is above its position, still waiting for state at the end. */
  readonly pendingState?: RecordedView;
  /**
   * Message ids delivered per view id, the view installed after it, and whether the member entered
   * that next view by state transfer (a joiner of it rather than a member moving along).
   */
  readonly perView: Map<number, { ids: Set<string>; next?: number; nextByState?: boolean }>;
  /** Violations found during the walk. */
  readonly violations: Violation[];
}

/** Shared, precomputed facts about a history. */
class CheckContext {
  /** For each seq, the first recorded delivery of it and who made it. */
  readonly bySeq = new Map<number, { d: RecordedDelivery; by: IncarnationHistory }>();
  /** For each message id, its first recorded delivery. */
  readonly orderedAt = new Map<string, { d: RecordedDelivery; by: IncarnationHistory }>();
  /** Every message id any incarnation broadcast, with its broadcaster. */
  readonly broadcasts = new Map<string, IncarnationHistory>();
  /** Every broadcast by message id, and by sender incarnation and counter (`n1#2:7`). */
  readonly broadcastRecords = new Map<string, RecordedBroadcast>();
  private digests: string[] | undefined;
  /** The walk of each incarnation. */
  readonly walks = new Map<IncarnationHistory, Walk>();
  /** The highest seq anyone delivered. */
  readonly maxSeq: number;
  /** The last incarnation of each member. */
  readonly latest = new Map<string, IncarnationHistory>();

  constructor(readonly history: OrderingHistory) {
    let max = 0;
    for (const h of history.incarnations) {
      for (const b of h.broadcasts) {
        this.broadcasts.set(b.messageId, h);
        this.broadcastRecords.set(b.messageId, b);
      }
      for (const d of h.deliveries) {
        if (!this.bySeq.has(d.seq)) this.bySeq.set(d.seq, { d, by: h });
        if (d.messageId !== undefined && !this.orderedAt.has(d.messageId))
          this.orderedAt.set(d.messageId, { d, by: h });
        max = Math.max(max, d.seq);
      }
      const prev = this.latest.get(h.member);
      if (!prev || prev.incarnation < h.incarnation) this.latest.set(h.member, h);
    }
    this.maxSeq = max;
    for (const h of history.incarnations) this.walks.set(h, walk(h));
  }

  /** Incarnations that lived to the end of a run whose liveness is checked. */
  finalLive(): IncarnationHistory[] {
    if (this.history.endedAt === undefined) return [];
    return [...this.latest.values()].filter((h) => h.crashedAt === undefined);
  }

  /** The digest of the application state after seq `cut`, from the recorded total order. */
  digestAt(cut: number): { digest: string } | { missing: number } {
    if (!this.digests) {
      // Prefix digests of the recorded total order, up to the first seq nobody delivered.
      const digests = [INITIAL_DIGEST];
      for (let s = 1; this.bySeq.has(s); s++) digests.push(chainDigest(digests[s - 1]!, appId(this.bySeq.get(s)!.d)));
      this.digests = digests;
    }
    const digest = this.digests[cut];
    return digest !== undefined ? { digest } : { missing: this.digests.length };
  }

  /** Broadcast `counter` of the incarnation that broadcast `id`. */
  sibling(id: string, counter: number): RecordedBroadcast | undefined {
    const origin = this.broadcasts.get(id);
    return origin && this.broadcastRecords.get(`${incarnationName(origin)}:${counter}`);
  }
}

/** The id the runner's application chains for a delivery (also for payloads it cannot decode). */
function appId(d: RecordedDelivery): string {
  return d.messageId ?? `?${d.sender}@${d.seq}`;
}

function events(h: IncarnationHistory): Event[] {
  const all: Event[] = [
    ...h.views.map((e) => ({ kind: 'view' as const, step: e.step, e })),
    ...h.deliveries.map((e) => ({ kind: 'deliver' as const, step: e.step, e })),
    ...h.stateInstalls.map((e) => ({ kind: 'install' as const, step: e.step, e })),
    ...h.stateCaptures.map((e) => ({ kind: 'capture' as const, step: e.step, e })),
  ];
  return all.sort((a, b) => a.step - b.step);
}

function v(
  guarantee: Guarantee,
  message: string,
  h?: IncarnationHistory,
  extra: { seq?: number; view?: number } = {},
): Violation {
  return { guarantee, message, ...(h ? { member: h.member, incarnation: h.incarnation } : {}), ...extra };
}

function describeView(view: View): string {
  return `view ${view.id} {${view.members.join(',')}} cut ${view.cut}${view.primary ? '' : ' non-primary'}`;
}

/**
 * Replays one incarnation's events: its position (highest seq delivered or installed) must move
 * by exactly one per delivery, a view's cut must not lie below it, and a cut above it must be
 * reached by state transfer before the next delivery.
 */
function walk(h: IncarnationHistory): Walk {
  const name = incarnationName(h);
  const violations: Violation[] = [];
  const advanced = new Set<number>();
  const perView = new Map<number, { ids: Set<string>; next?: number; nextByState?: boolean }>();
  let position = 0;
  let previous: RecordedView | undefined;
  let current: RecordedView | undefined;
  let pendingState: RecordedView | undefined;
  for (const ev of events(h)) {
    switch (ev.kind) {
      case 'view': {
        const view = ev.e;
        if (current && view.id <= current.id)
          violations.push(
            v(
              'virtual-synchrony',
              `${name} installed view ${view.id} after view ${current.id}: view ids must strictly increase`,
              h,
              { view: view.id },
            ),
          );
        if (!view.members.includes(h.member))
          violations.push(
            v('virtual-synchrony', `${name} installed ${describeView(view)}, which does not contain it`, h, {
              view: view.id,
            }),
          );
        if (view.cut < position)
          violations.push(
            v(
              'virtual-synchrony',
              `${name} installed ${describeView(view)} after it had already delivered up to seq ${position}: ` +
                `the cut must be the last seq delivered before the view`,
              h,
              { view: view.id, seq: position },
            ),
          );
        if (current) {
          const rec = perView.get(current.id);
          if (rec && rec.next === undefined) rec.next = view.id;
        }
        if (!perView.has(view.id)) perView.set(view.id, { ids: new Set() });
        pendingState = view.cut > position ? view : undefined;
        previous = current;
        current = view;
        break;
      }
      case 'install': {
        const s = ev.e;
        if (s.cut < position)
          violations.push(
            v(
              'join',
              `${name} installed state at cut ${s.cut} after it had delivered up to seq ${position} (a rollback)`,
              h,
              { seq: s.cut },
            ),
          );
        if (pendingState && s.cut !== pendingState.cut)
          violations.push(
            v(
              'join',
              `${name} installed state at cut ${s.cut}, but its view ${pendingState.id} has cut ${pendingState.cut}`,
              h,
              { seq: s.cut, view: pendingState.id },
            ),
          );
        if (s.capturedCut !== s.cut)
          violations.push(
            v('join', `${name} installed at cut ${s.cut} a state the donor captured at cut ${s.capturedCut}`, h, {
              seq: s.cut,
            }),
          );
        if (previous && current && pendingState === current) perView.get(previous.id)!.nextByState = true;
        position = Math.max(position, s.cut);
        pendingState = undefined;
        break;
      }
      case 'capture': {
        const c = ev.e;
        if (c.applied !== c.cut)
          violations.push(
            v(
              'join',
              `${name} was asked to capture state at cut ${c.cut} when its application had applied up to seq ` +
                `${c.applied}: capture must happen exactly at the cut`,
              h,
              { seq: c.cut },
            ),
          );
        break;
      }
      case 'deliver': {
        const d = ev.e;
        if (!current) {
          violations.push(
            v('virtual-synchrony', `${name} delivered seq ${d.seq} before installing any view`, h, {
              seq: d.seq,
              view: d.view,
            }),
          );
        } else if (d.view !== current.id) {
          violations.push(
            v(
              'virtual-synchrony',
              `${name} delivered seq ${d.seq} reporting view ${d.view}, but its installed view is ${current.id}`,
              h,
              { seq: d.seq, view: d.view },
            ),
          );
        }
        if (pendingState) {
          violations.push(
            v(
              'join',
              `${name} delivered seq ${d.seq} in ${describeView(pendingState)} without installing state at cut ` +
                `${pendingState.cut} (it had delivered only up to seq ${position})`,
              h,
              { seq: d.seq, view: pendingState.id },
            ),
          );
          position = pendingState.cut;
          pendingState = undefined;
        }
        if (d.seq !== position + 1)
          violations.push(
            v(
              'total-order',
              d.seq <= position
                ? `${name} delivered seq ${d.seq} after seq ${position}: seqs must increase`
                : `${name} delivered seq ${d.seq} right after seq ${position}: seqs ${position + 1}..${d.seq - 1} were skipped`,
              h,
              { seq: d.seq, view: d.view },
            ),
          );
        if (d.seq > position) {
          for (let s = position + 1; s <= d.seq; s++) advanced.add(s);
          position = d.seq;
        }
        if (current) perView.get(current.id)!.ids.add(appId(d));
        break;
      }
    }
  }
  return { advanced, position, perView, violations, ...(pendingState ? { pendingState } : {}) };
}

/** Total order: one message per seq everywhere, and each member's seqs gap-free and increasing. */
export function checkTotalOrder(history: OrderingHistory, ctx = new CheckContext(history)): Violation[] {
  const out: Violation[] = [];
  for (const h of history.incarnations) {
    out.push(...ctx.walks.get(h)!.violations.filter((x) => x.guarantee === 'total-order'));
  }
  const reported = new Set<string>();
  for (const h of history.incarnations) {
    for (const d of h.deliveries) {
      const first = ctx.bySeq.get(d.seq)!;
      if (appId(first.d) === appId(d)) continue;
      const key = `${d.seq}|${appId(d)}`;
      if (reported.has(key)) continue;
      reported.add(key);
      out.push(
        v(
          'total-order',
          `seq ${d.seq} is ${appId(first.d)} at ${incarnationName(first.by)} (view ${first.d.view}) but ` +
            `${appId(d)} at ${incarnationName(h)} (view ${d.view})`,
          h,
          { seq: d.seq, view: d.view },
        ),
      );
    }
  }
  return out;
}

/**
 * Uniform agreement: a message delivered anywhere at seq s is delivered by every incarnation that
 * moved past s by delivering, and by every incarnation alive and in the primary view at the end;
 * a broadcast resolves with the seq and view it was delivered at (a sender that skipped it by
 * state transfer still learns where it went).
 */
export function checkAgreement(history: OrderingHistory, ctx = new CheckContext(history)): Violation[] {
  const out: Violation[] = [];
  for (const h of history.incarnations) {
    const w = ctx.walks.get(h)!;
    const ids = new Set(h.deliveries.map(appId));
    for (const s of [...w.advanced].sort((a, b) => a - b)) {
      const rec = ctx.bySeq.get(s);
      if (!rec || ids.has(appId(rec.d))) continue;
      out.push(
        v(
          'agreement',
          `${appId(rec.d)} was delivered at seq ${s} by ${incarnationName(rec.by)}` +
            `${rec.by.crashedAt !== undefined ? ` (which crashed at ${rec.by.crashedAt})` : ''}, but ` +
            `${incarnationName(h)} moved past seq ${s} (delivered up to seq ${w.position}) without delivering it`,
          h,
          { seq: s },
        ),
      );
    }
  }
  for (const h of ctx.finalLive()) {
    const w = ctx.walks.get(h)!;
    const last = h.views[h.views.length - 1];
    if (!last || !last.primary || w.pendingState || w.position >= ctx.maxSeq) continue;
    const rec = ctx.bySeq.get(w.position + 1);
    out.push(
      v(
        'agreement',
        `${incarnationName(h)} is alive in primary view ${last.id} at the end but delivered only up to seq ` +
          `${w.position}, while seq ${w.position + 1}` +
          (rec ? ` (${appId(rec.d)}, delivered by ${incarnationName(rec.by)})` : '') +
          ` up to seq ${ctx.maxSeq} were delivered elsewhere`,
        h,
        { seq: w.position + 1 },
      ),
    );
  }
  for (const h of history.incarnations) {
    for (const b of h.broadcasts) {
      if (!b.resolved) continue;
      const rec = ctx.bySeq.get(b.resolved.seq);
      if (rec && rec.d.messageId === b.messageId && rec.d.view === b.resolved.view) continue;
      const actual = ctx.orderedAt.get(b.messageId);
      out.push(
        v(
          'agreement',
          `broadcast ${b.messageId} resolved with seq ${b.resolved.seq} in view ${b.resolved.view}, but ` +
            (actual
              ? `it was delivered at seq ${actual.d.seq} in view ${actual.d.view} (by ${incarnationName(actual.by)})`
              : 'nobody delivered it'),
          h,
          { seq: b.resolved.seq, view: b.resolved.view },
        ),
      );
    }
  }
  return out;
}

/**
 * Virtual synchrony: the same view id means the same view everywhere, ids increase at each member,
 * deliveries happen in the view the member has installed, and members moving together from V to
 * V' delivered the same set of messages in V (a member that enters V' by state transfer is a
 * joiner of V', not one moving along, and is compared through its state instead).
 */
export function checkVirtualSynchrony(history: OrderingHistory, ctx = new CheckContext(history)): Violation[] {
  const out: Violation[] = [];
  for (const h of history.incarnations) {
    out.push(...ctx.walks.get(h)!.violations.filter((x) => x.guarantee === 'virtual-synchrony'));
  }
  const firstSeen = new Map<number, { view: RecordedView; by: IncarnationHistory }>();
  const reported = new Set<string>();
  for (const h of history.incarnations) {
    for (const view of h.views) {
      const first = firstSeen.get(view.id);
      if (!first) {
        firstSeen.set(view.id, { view, by: h });
        continue;
      }
      const same =
        first.view.cut === view.cut &&
        first.view.primary === view.primary &&
        first.view.members.length === view.members.length &&
        first.view.members.every((m, i) => view.members[i] === m);
      const key = `${view.id}|${describeView(view)}`;
      if (same || reported.has(key)) continue;
      reported.add(key);
      out.push(
        v(
          'virtual-synchrony',
          `view ${view.id} differs between members: ${incarnationName(first.by)} installed ${describeView(first.view)}, ` +
            `${incarnationName(h)} installed ${describeView(view)}`,
          h,
          { view: view.id },
        ),
      );
    }
  }
  const incs = history.incarnations;
  for (let i = 0; i < incs.length; i++) {
    for (let j = i + 1; j < incs.length; j++) {
      const a = ctx.walks.get(incs[i]!)!;
      const b = ctx.walks.get(incs[j]!)!;
      for (const [id, ra] of a.perView) {
        const rb = b.perView.get(id);
        if (!rb || ra.next === undefined || ra.next !== rb.next || ra.nextByState || rb.nextByState) continue;
        const onlyA = [...ra.ids].filter((x) => !rb.ids.has(x));
        const onlyB = [...rb.ids].filter((x) => !ra.ids.has(x));
        if (onlyA.length === 0 && onlyB.length === 0) continue;
        const list = (xs: string[]) => (xs.length ? xs.slice(0, 5).join(', ') + (xs.length > 5 ? ', ...' : '') : '-');
        out.push(
          v(
            'virtual-synchrony',
            `${incarnationName(incs[i]!)} and ${incarnationName(incs[j]!)} both moved from view ${id} to view ` +
              `${ra.next} but delivered different sets in view ${id}: only at ${incarnationName(incs[i]!)}: ` +
              `${list(onlyA)} (${onlyA.length}); only at ${incarnationName(incs[j]!)}: ${list(onlyB)} (${onlyB.length})`,
            incs[j]!,
            { view: id },
          ),
        );
      }
    }
  }
  return out;
}

/** Primary component: no delivery in a view without a strict majority of the configured members. */
export function checkPrimaryComponent(history: OrderingHistory, _ctx?: CheckContext): Violation[] {
  if (history.partition === 'fail-stop') return [];
  const out: Violation[] = [];
  const n = history.members.length;
  const majority = (view: View) => view.members.filter((m) => history.members.includes(m)).length * 2 > n;
  const flagged = new Set<number>();
  for (const h of history.incarnations) {
    for (const view of h.views) {
      if (view.primary && !majority(view) && !flagged.has(view.id)) {
        flagged.add(view.id);
        out.push(
          v(
            'primary-component',
            `${describeView(view)} is marked primary but holds ${view.members.length} of ${n} configured members`,
            h,
            { view: view.id },
          ),
        );
      }
    }
    const minorityDeliveries = new Map<number, RecordedDelivery[]>();
    const views = new Map(h.views.map((x) => [x.id, x]));
    for (const d of h.deliveries) {
      const view = views.get(d.view);
      if (!view || majority(view)) continue;
      const list = minorityDeliveries.get(view.id) ?? [];
      list.push(d);
      minorityDeliveries.set(view.id, list);
    }
    for (const [id, ds] of minorityDeliveries) {
      const view = views.get(id)!;
      out.push(
        v(
          'primary-component',
          `${incarnationName(h)} delivered ${ds.length} message(s) (seq ${ds[0]!.seq}..${ds[ds.length - 1]!.seq}) in ` +
            `${describeView(view)}, which holds only ${view.members.length} of ${n} configured members`,
          h,
          { view: id, seq: ds[0]!.seq },
        ),
      );
    }
  }
  return out;
}

/** Integrity: no duplicate, no message nobody broadcast, sender FIFO per sender incarnation. */
export function checkIntegrity(history: OrderingHistory, ctx = new CheckContext(history)): Violation[] {
  const out: Violation[] = [];
  for (const h of history.incarnations) {
    const name = incarnationName(h);
    const seen = new Map<string, number>();
    const lastCounter = new Map<string, { counter: number; id: string }>();
    for (const d of h.deliveries) {
      if (d.messageId === undefined) {
        out.push(
          v(
            'integrity',
            `${name} delivered seq ${d.seq} from ${d.sender} with a payload that is no workload message`,
            h,
            {
              seq: d.seq,
              view: d.view,
            },
          ),
        );
        continue;
      }
      const earlier = seen.get(d.messageId);
      if (earlier !== undefined)
        out.push(
          v('integrity', `${name} delivered ${d.messageId} twice: at seq ${earlier} and at seq ${d.seq}`, h, {
            seq: d.seq,
            view: d.view,
          }),
        );
      else seen.set(d.messageId, d.seq);
      const origin = ctx.broadcasts.get(d.messageId);
      if (!origin) {
        out.push(
          v('integrity', `${name} delivered ${d.messageId} at seq ${d.seq}, which nobody broadcast`, h, {
            seq: d.seq,
            view: d.view,
          }),
        );
        continue;
      }
      if (origin.member !== d.sender)
        out.push(
          v(
            'integrity',
            `${name} delivered ${d.messageId} at seq ${d.seq} as sent by ${d.sender}, but ${incarnationName(origin)} broadcast it`,
            h,
            { seq: d.seq, view: d.view },
          ),
        );
      const b = ctx.broadcastRecords.get(d.messageId)!;
      const key = incarnationName(origin);
      const last = lastCounter.get(key);
      if (last && b.counter <= last.counter && earlier === undefined)
        out.push(
          v(
            'integrity',
            `${name} delivered ${d.messageId} (seq ${d.seq}) after ${last.id}, but ${key} broadcast it first ` +
              `(sender FIFO)`,
            h,
            { seq: d.seq, view: d.view },
          ),
        );
      if (!last || b.counter > last.counter) lastCounter.set(key, { counter: b.counter, id: d.messageId });
    }
  }
  const firstSeq = new Map<string, { seq: number; h: IncarnationHistory }>();
  const seqsOf = new Map<string, Map<number, IncarnationHistory>>();
  for (const h of history.incarnations)
    for (const d of h.deliveries) {
      if (d.messageId === undefined) continue;
      const first = firstSeq.get(d.messageId);
      if (!first) firstSeq.set(d.messageId, { seq: d.seq, h });
      else if (first.seq !== d.seq) {
        const m = seqsOf.get(d.messageId) ?? new Map([[first.seq, first.h]]);
        if (!m.has(d.seq)) m.set(d.seq, h);
        seqsOf.set(d.messageId, m);
      }
    }
  for (const [id, m] of seqsOf) {
    const where = [...m].map(([s, h]) => `seq ${s} at ${incarnationName(h)}`).join(', ');
    out.push(v('integrity', `${id} was ordered more than once: ${where}`, undefined, { seq: [...m.keys()][1]! }));
  }
  // Sender FIFO without gaps: in the total order, message k of a sender incarnation follows k-1.
  const orderedAt = new Map<string, number>();
  for (const [seq, rec] of ctx.bySeq) if (rec.d.messageId !== undefined) orderedAt.set(rec.d.messageId, seq);
  for (const [seq, rec] of [...ctx.bySeq].sort((a, b) => a[0] - b[0])) {
    const id = rec.d.messageId;
    const origin = id === undefined ? undefined : ctx.broadcasts.get(id);
    if (!origin || id === undefined) continue;
    const b = ctx.broadcastRecords.get(id)!;
    const prev = ctx.sibling(id, b.counter - 1);
    if (!prev) continue;
    const prevSeq = orderedAt.get(prev.messageId);
    if (prevSeq !== undefined && prevSeq < seq) continue;
    out.push(
      v(
        'integrity',
        `${id} was ordered at seq ${seq} but ${prev.messageId}, broadcast before it by ${incarnationName(origin)}, ` +
          (prevSeq === undefined ? 'was never ordered' : `was ordered later, at seq ${prevSeq}`) +
          ' (sender FIFO)',
        rec.by,
        { seq },
      ),
    );
  }
  return out;
}

/**
 * Join: state installed (and captured) at a cut equals the application state after that cut in
 * the total order, a joiner that installs a view above its position gets state for it, and a
 * restarted incarnation alive at the end installed a view containing it.
 */
export function checkJoin(history: OrderingHistory, ctx = new CheckContext(history)): Violation[] {
  const out: Violation[] = [];
  for (const h of history.incarnations) {
    const name = incarnationName(h);
    const w = ctx.walks.get(h)!;
    out.push(...w.violations.filter((x) => x.guarantee === 'join'));
    const states: { kind: string; cut: number; digest: string }[] = [
      ...h.stateInstalls.map((s) => ({ kind: 'installed', cut: s.cut, digest: s.digest })),
      ...h.stateCaptures.map((s) => ({ kind: 'captured', cut: s.cut, digest: s.digest })),
    ];
    for (const s of states) {
      const expected = ctx.digestAt(s.cut);
      if ('missing' in expected)
        out.push(
          v('join', `${name} ${s.kind} state at cut ${s.cut}, but seq ${expected.missing} was delivered by nobody`, h, {
            seq: s.cut,
          }),
        );
      else if (expected.digest !== s.digest)
        out.push(
          v(
            'join',
            `${name} ${s.kind} state at cut ${s.cut} with digest ${s.digest}, but the state after seq ${s.cut} ` +
              `in the total order is ${expected.digest}`,
            h,
            { seq: s.cut },
          ),
        );
    }
    if (w.pendingState && h.crashedAt === undefined && history.endedAt !== undefined)
      out.push(
        v(
          'join',
          `${name} installed ${describeView(w.pendingState)} with only seq ${w.position} delivered and never ` +
            `received state at cut ${w.pendingState.cut}`,
          h,
          { view: w.pendingState.id, seq: w.pendingState.cut },
        ),
      );
  }
  for (const h of ctx.finalLive()) {
    if (h.incarnation > 1 && !h.views.some((x) => x.members.includes(h.member)))
      out.push(
        v(
          'join',
          `${incarnationName(h)} restarted at ${h.startedAt} and lived to the end, but never installed a view containing it`,
          h,
        ),
      );
  }
  return out;
}

/**
 * Liveness (only for histories with `endedAt`): at the end every member is up, all are in one
 * primary view holding every configured member, and every broadcast of a live incarnation was
 * delivered (by someone: its sender may have skipped it by state transfer) and its promise settled. The runner heals everything and runs a quiet period first, so a correct protocol
 * always gets there.
 */
export function checkLiveness(history: OrderingHistory, ctx = new CheckContext(history)): Violation[] {
  if (history.endedAt === undefined) return [];
  const out: Violation[] = [];
  const live = ctx.finalLive();
  for (const m of history.members) {
    const h = ctx.latest.get(m);
    if (!h) out.push(v('liveness', `member ${m} never ran`));
    else if (h.crashedAt !== undefined)
      out.push(v('liveness', `${incarnationName(h)} is down at the end (crashed at ${h.crashedAt})`, h));
  }
  for (const h of history.incarnations)
    if (h.startError !== undefined)
      out.push(v('liveness', `${incarnationName(h)} failed to start: ${h.startError}`, h));
  const lastViews = live.map((h) => ({ h, view: h.views[h.views.length - 1] }));
  const ids = new Set(lastViews.map((x) => x.view?.id));
  const ref = lastViews[0]?.view;
  const together =
    ids.size === 1 &&
    ref !== undefined &&
    ref.primary &&
    history.members.every((m) => ref.members.includes(m)) &&
    lastViews.every((x) => x.view!.members.length === ref.members.length);
  if (!together && live.length > 0)
    out.push(
      v(
        'liveness',
        `at the end (t=${history.endedAt}, faults ended at ${history.faultsEndedAt ?? '?'}) the live members are not ` +
          `in one primary view of all members: ` +
          lastViews.map((x) => `${incarnationName(x.h)} in ${x.view ? describeView(x.view) : 'no view'}`).join('; '),
      ),
    );
  const faultsEnded = history.faultsEndedAt ?? 0;
  for (const h of live) {
    for (const b of h.broadcasts) {
      const when = `broadcast at t=${b.at} (${b.at >= faultsEnded ? 'after' : 'before'} the last fault at t=${faultsEnded}) by ${incarnationName(h)}, which lived to the end,`;
      if (!ctx.orderedAt.has(b.messageId))
        out.push(
          v(
            'liveness',
            `${b.messageId}, ${when} was never delivered by anyone` +
              (b.rejected ? ` (its promise rejected: ${b.rejected.error})` : ''),
            h,
          ),
        );
      else if (!b.resolved && !b.rejected)
        out.push(
          v(
            'liveness',
            `${b.messageId}, ${when} was delivered at seq ${ctx.orderedAt.get(b.messageId)!.d.seq} but its promise never settled`,
            h,
          ),
        );
    }
  }
  return out;
}

export { CheckContext };
