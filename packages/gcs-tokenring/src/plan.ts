import type { MemberInfo, Plan, ViewRecord } from './wire';

// The decision a membership round takes, as a pure function of what every member reported in the
// commit token's first rotation. The representative computes it; every member then derives its
// recovery duties from the same plan and infos, so all agree without further messages.

/** The view before the first one: nothing delivered, no ring. */
export const GENESIS: ViewRecord = Object.freeze({ id: 0, ballot: 0, cut: 0 });

/** Orders views by id, then by the ballot of the ring that installed them (fail-stop splits). */
export function compareViews(a: ViewRecord, b: ViewRecord): number {
  return a.id - b.id || a.ballot - b.ballot;
}

/** Whether two records name the same view. */
export function sameView(a: ViewRecord | undefined, b: ViewRecord | undefined): boolean {
  return a !== undefined && b !== undefined && a.id === b.id && a.ballot === b.ballot;
}

/**
 * Decides a round.
 *
 * Primary: under `primary-component`, a strict majority of the configured members must be present,
 * and enough of them must be non-fresh (have installed a view in their current incarnation) to
 * meet every majority: a restarted member has forgotten what it accepted, so only members that
 * remember carry the intersection that makes the decision safe. The exception is a round holding
 * every configured member (cold start, or too many members restarted), which can only continue
 * from what is left. Under `fail-stop` every round is primary.
 *
 * Base: the latest installed view among the members. Its ring's messages are recovered up to
 * `end`: if some member accepted a plan for the same base, the highest-ballot one's `end` is kept
 * (it may already be installed somewhere: Paxos phase 1), provided the members still hold those
 * messages, which they must if it was installed anywhere; otherwise `end` is the longest prefix the
 * members hold between them, which covers everything any member of the base view delivered. A plan
 * accepted for a later base (a view installed only by absent members, which therefore never
 * operated) fixes `end` at that view's cut; if that cannot be honoured the round waits for those
 * members, unless the round stands only because every configured member is present (then it goes
 * on from what the members hold: a majority lost its memory, and waiting would be for ever).
 */
export function decidePlan(infos: readonly MemberInfo[], configured: number, failStop: boolean): Plan {
  const nonFresh = infos.filter((i) => i.view !== undefined).length;
  const quorum = 2 * infos.length > configured && rememberEnough(nonFresh, configured);
  const primary = failStop ? infos.length > 0 : quorum || infos.length === configured;
  const blocked: Plan = { primary: false, base: GENESIS, lo: 0, end: 0, nextId: 0 };
  if (!primary) return blocked;

  let base = GENESIS;
  for (const i of infos) if (i.view && compareViews(i.view, base) > 0) base = i.view;

  const transitional = infos.filter((i) => sameView(i.view, base));
  const lo = transitional.length ? Math.min(...transitional.map((i) => i.delivered)) : base.cut;
  const maxDelivered = transitional.length ? Math.max(...transitional.map((i) => i.delivered)) : base.cut;
  const cover = coverEnd(infos, base, lo);

  // The accepted plan to honour: one finishing a later view than `base` proves that view was
  // installed somewhere (with `base`'s ring finished at its cut); otherwise the highest ballot.
  let adopted: MemberInfo['accepted'];
  for (const i of infos) {
    const a = i.accepted;
    if (!a || compareViews(a.base, base) < 0) continue;
    const order = adopted ? compareViews(a.base, adopted.base) || a.ballot - adopted.ballot : 1;
    if (order > 0) adopted = a;
  }
  let end = cover;
  if (adopted && sameView(adopted.base, base)) {
    if (cover >= adopted.end && adopted.end >= maxDelivered) end = adopted.end;
  } else if (adopted) {
    // `adopted.base` was installed by members all absent now. A present non-fresh member of it
    // never installed it, so it never operated: its cut is where `base`'s ring ended, and its own
    // ring holds nothing (the plan finishing it ends at its cut). Anything else: wait for them.
    const target = adopted.base.cut;
    if (adopted.end === target && cover >= target && target >= maxDelivered) end = target;
    // Without a remembering majority (every member present, most restarted) nobody left can
    // finish that view: go on from what is left rather than block for ever; messages only the
    // restarted members delivered are lost (the amnesia no protocol without storage survives).
    else if (failStop || quorum) return blocked;
  }

  let top = base.id;
  for (const i of infos) {
    if (i.view) top = Math.max(top, i.view.id);
    if (i.accepted) top = Math.max(top, i.accepted.nextId, i.accepted.base.id);
  }
  return { primary: true, base, lo, end, nextId: top + 1 };
}

/**
 * Whether `remembering` members meet every strict majority of `configured` members, so that any
 * decision a majority accepted is known to one of them: `remembering >= ceil(configured / 2)`.
 */
export function rememberEnough(remembering: number, configured: number): boolean {
  return 2 * remembering >= configured;
}

/** The highest `e >= lo` such that every seq in `(lo, e]` of `base`'s ring is held by some member. */
export function coverEnd(infos: readonly MemberInfo[], base: ViewRecord, lo: number): number {
  const ranges: (readonly [number, number])[] = [];
  for (const i of infos) {
    if (sameView(i.view, base)) ranges.push([0, i.delivered]);
    if (base.ballot !== 0) for (const h of i.holdings) if (h.tag === base.ballot) ranges.push(...h.ranges);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  let e = lo;
  for (const [from, to] of ranges) {
    if (from > e + 1) break;
    if (to > e) e = to;
  }
  return e;
}

/** Whether `info` is a transitional member of `plan` (it installed the base view). */
export function isTransitional(plan: Plan, info: MemberInfo): boolean {
  return plan.base.id > 0 && sameView(info.view, plan.base);
}

/** First seq of the base ring that `info` must hold before the new view installs: it needs `(start, end]`. */
export function recoveryStart(plan: Plan, info: MemberInfo): number {
  return isTransitional(plan, info) ? Math.max(plan.lo, info.delivered) : plan.lo;
}

/** Whether `info` reported holding seq `s` of the base ring. */
export function holds(plan: Plan, info: MemberInfo, s: number): boolean {
  if (plan.base.ballot === 0) return false;
  for (const h of info.holdings)
    if (h.tag === plan.base.ballot) for (const [from, to] of h.ranges) if (from <= s && s <= to) return true;
  return false;
}

/**
 * Recovery duties: for each base-ring seq a member needs and did not report holding, the first
 * member (in ring order) that holds it sends it. Returns, for member `self`, the seqs it must send
 * and to whom.
 */
export function recoveryDuties(plan: Plan, infos: readonly MemberInfo[], self: number): Map<number, number[]> {
  const duties = new Map<number, number[]>();
  for (let s = plan.lo + 1; s <= plan.end; s++) {
    const needers = infos.filter((i) => s > recoveryStart(plan, i) && !holds(plan, i, s));
    if (needers.length === 0) continue;
    const sender = infos.find((i) => holds(plan, i, s));
    if (sender?.index === self)
      duties.set(
        s,
        needers.map((n) => n.index),
      );
  }
  return duties;
}

/**
 * The member that captures and sends the state: the first transitional member in ring order, when
 * the new view has joiners and is not the group's first view.
 */
export function stateProvider(plan: Plan, infos: readonly MemberInfo[]): number | undefined {
  if (!plan.primary || plan.base.id === 0) return undefined;
  if (!infos.some((i) => !isTransitional(plan, i))) return undefined;
  return infos.find((i) => isTransitional(plan, i))?.index;
}

/** Compresses ascending seqs into at most `max` ranges, the lowest first. */
export function toRanges(sorted: Iterable<number>, max = 32): [number, number][] {
  const out: [number, number][] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s === last[1] + 1) last[1] = s;
    else if (last && s <= last[1]) continue;
    else {
      if (out.length === max) break;
      out.push([s, s]);
    }
  }
  return out;
}
