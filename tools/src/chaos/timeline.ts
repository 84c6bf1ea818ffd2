// What a chaos run's timeline says beyond the per-request checks: when a majority of the members
// was up (running and in the group), the longest stretch with a majority up and no delivery, how
// many views each kind of fault cost, and whether a client that gave up did so while no majority
// existed (its unanswered requests were refused, not lost). Pure functions of times in ms since
// the workload started, so they are tested on hand-made timelines.
import type { FaultEvent } from './schedule';

/** A member went down (killed, frozen, restarted and not yet caught up) or came back up. */
export interface UpChange {
  /** Ms since the workload started. */
  readonly at: number;
  /** Member id. */
  readonly member: string;
  /** Whether the member is up from `at` on. */
  readonly up: boolean;
}

/** A half-open interval `[from, to)` of ms. */
export type Interval = readonly [number, number];

/** The intervals within `[from, to)` during which more than half of `members` were up (all are up at `from`). */
export function majorityUp(
  changes: readonly UpChange[],
  members: readonly string[],
  from: number,
  to: number,
): Interval[] {
  const up = new Map(members.map((m) => [m, true]));
  const count = (): number => [...up.values()].filter(Boolean).length;
  const out: Interval[] = [];
  let since: number | undefined = count() > members.length / 2 ? from : undefined;
  for (const c of [...changes].sort((a, b) => a.at - b.at)) {
    if (c.at >= to) break;
    up.set(c.member, c.up);
    const has = count() > members.length / 2;
    const at = Math.max(c.at, from);
    if (has && since === undefined) since = at;
    else if (!has && since !== undefined) {
      if (at > since) out.push([since, at]);
      since = undefined;
    }
  }
  if (since !== undefined && to > since) out.push([since, to]);
  return out;
}

/** Total ms of `[a, b)` covered by `intervals`, and the longest single covered stretch. */
function covered(intervals: readonly Interval[], a: number, b: number): { longest: number; start: number } {
  let longest = 0;
  let start = a;
  for (const [s, e] of intervals) {
    const lo = Math.max(s, a);
    const hi = Math.min(e, b);
    if (hi - lo > longest) {
      longest = hi - lo;
      start = lo;
    }
  }
  return { longest, start };
}

/** The longest stretch of a delivery gap. */
export interface Gap {
  /** Its length in ms. */
  readonly ms: number;
  /** When it began (ms since the workload started). */
  readonly at: number;
}

/**
 * The longest time within `[from, to)` with a majority up and no delivery: `deliveries` are the
 * times answers arrived; a gap's part during which no majority existed does not count.
 */
export function longestDeliveryGap(
  deliveries: readonly number[],
  up: readonly Interval[],
  from: number,
  to: number,
): Gap {
  const times = [from, ...deliveries.filter((t) => t > from && t < to).sort((a, b) => a - b), to];
  let best: Gap = { ms: 0, at: from };
  for (let i = 1; i < times.length; i++) {
    const { longest, start } = covered(up, times[i - 1]!, times[i]!);
    if (longest > best.ms) best = { ms: longest, at: start };
  }
  return best;
}

/** The kinds of fault episode a run is made of. */
export type EpisodeKind = 'kill' | 'long-freeze' | 'stall';

/** One fault episode: a kill (with its restart), a freeze past failure detection, or a short stall. */
export interface Episode {
  /** When it began. */
  readonly at: number;
  /** Its kind. */
  readonly kind: EpisodeKind;
  /** The member it hit. */
  readonly member: string;
}

/** Faults grouped into episodes: a freeze thawed within `stallMs` is a stall, any other freeze a long freeze; restarts and thaws belong to their episode. */
export function episodes(faults: readonly FaultEvent[], stallMs = 1000): Episode[] {
  const out: Episode[] = [];
  for (const [i, f] of faults.entries()) {
    if (f.kind === 'kill') out.push({ at: f.at, kind: 'kill', member: f.member });
    if (f.kind !== 'freeze') continue;
    const end = faults.slice(i + 1).find((g) => g.member === f.member && (g.kind === 'thaw' || g.kind === 'kill'));
    const stall = end?.kind === 'thaw' && end.at - f.at < stallMs;
    out.push({ at: f.at, kind: stall ? 'stall' : 'long-freeze', member: f.member });
  }
  return out;
}

/** Views installed per kind of fault episode. */
export interface ViewsPerFault {
  /** Episodes of this kind. */
  readonly faults: number;
  /** Primary views first installed after an episode of this kind began and before the next episode. */
  readonly views: number;
}

/** Each primary view (by id, at its first install anywhere) charged to the episode that most recently began. */
export function viewsPerFault(
  eps: readonly Episode[],
  views: readonly { readonly at: number; readonly view: number }[],
): Record<EpisodeKind, ViewsPerFault> {
  const out: Record<EpisodeKind, { faults: number; views: number }> = {
    kill: { faults: 0, views: 0 },
    'long-freeze': { faults: 0, views: 0 },
    stall: { faults: 0, views: 0 },
  };
  for (const e of eps) out[e.kind].faults++;
  const first = new Map<number, number>();
  for (const v of views) if (!first.has(v.view) || first.get(v.view)! > v.at) first.set(v.view, v.at);
  const sorted = [...eps].sort((a, b) => a.at - b.at);
  for (const at of first.values()) {
    const ep = sorted.filter((e) => e.at <= at).pop();
    if (ep) out[ep.kind].views++;
  }
  return out;
}

/**
 * Whether a client whose interceptor gave up at `gaveUpAt`, after trying members for `windowMs`,
 * was refused for want of a majority: no stretch of that window with a majority up was as long as
 * `boundMs` (the longest a group with a majority may go without delivering). Otherwise its
 * unanswered requests are lost.
 */
export function refusedWithoutMajority(
  up: readonly Interval[],
  gaveUpAt: number,
  windowMs: number,
  boundMs: number,
): boolean {
  return covered(up, gaveUpAt - windowMs, gaveUpAt).longest < boundMs;
}
