// The chaos harness's fault schedule: a pure function of the seed, so a failing run is replayed
// with `--seed`. It never takes away the majority: at any moment at most floor((n-1)/2) members
// are killed, frozen, or still settling after a thaw or restart.

/** One scheduled fault. */
export interface FaultEvent {
  /** Milliseconds after the workload started. */
  readonly at: number;
  /** `kill` SIGKILLs the member's interceptor and its service; `freeze`/`thaw` SIGSTOP/SIGCONT the interceptor; `restart` starts a killed member again. */
  readonly kind: 'kill' | 'freeze' | 'thaw' | 'restart';
  /** Member id. */
  readonly member: string;
}

/** What the schedule is made for. */
export interface ScheduleOptions {
  /** Seed of the schedule. */
  readonly seed: number;
  /** Milliseconds of workload. */
  readonly durationMs: number;
  /** Member ids. */
  readonly members: readonly string[];
  /** Whether killed members are restarted (otherwise a kill is for good). */
  readonly restarts: boolean;
  /** Milliseconds a thawed or restarted member still counts as down (rejoining). Default 2000. */
  readonly settleMs?: number;
  /** Milliseconds at the end with no new fault, for the group to settle. Default 3000. */
  readonly quietTailMs?: number;
}

/** mulberry32: a small seeded generator in [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The most members that may be down at once without losing the majority. */
export function maxDown(members: number): number {
  return Math.floor((members - 1) / 2);
}

/**
 * The faults of one run, in time order: long freezes (1.5-3.5 s, longer than failure detection, so
 * the member leaves the view), stalls (a 100-250 ms freeze, shorter than failure detection) and
 * kills. The first fault is a long freeze; without restarts long freezes come in the first half
 * and kills in the second, at least one by 3/4 of the run when the budget allows.
 *
 * Without restarts a member that was killed or left a view is out of date for good (no replica
 * state transfer yet), so the schedule keeps at least one member that never left: the one a client
 * can always fail over to. With restarts (state transfer assumed) only the majority rule holds.
 */
export function faultSchedule(o: ScheduleOptions): FaultEvent[] {
  const rand = seededRandom(o.seed);
  const settle = o.settleMs ?? 2000;
  const end = o.durationMs - (o.quietTailMs ?? 3000);
  const last = o.durationMs - 1000;
  const budget = maxDown(o.members.length);
  const busyUntil = new Map<string, number>(o.members.map((m) => [m, 0]));
  const upToDate = new Set(o.members);
  const events: FaultEvent[] = [];
  let killsLeft = o.restarts ? Number.POSITIVE_INFINITY : budget;
  let kills = 0;
  let t = 1500 + rand() * 1000;
  while (t < end && budget > 0) {
    const live = o.members.filter((m) => busyUntil.get(m)! <= t);
    if (o.members.length - live.length < budget) {
      // Taking a member out must leave an up-to-date member (without restarts).
      const leavable = live.filter((m) => o.restarts || !upToDate.has(m) || upToDate.size >= 2);
      const pick = (from: readonly string[]): string => from[Math.floor(rand() * from.length)]!;
      const killAllowed =
        leavable.length > 0 && killsLeft > 0 && events.length > 0 && (o.restarts || t >= o.durationMs / 2);
      const mustKill = killAllowed && kills === 0 && t >= (o.durationMs * 3) / 4;
      const freezeAllowed = leavable.length > 0 && (o.restarts || t < o.durationMs / 2);
      const x = rand();
      const member =
        (killAllowed && (mustKill || x < 0.4)) || (freezeAllowed && (events.length === 0 || x < 0.7))
          ? pick(leavable)
          : pick(live);
      if (killAllowed && (mustKill || x < 0.4)) {
        events.push({ at: Math.round(t), kind: 'kill', member });
        kills++;
        killsLeft--;
        if (!o.restarts) upToDate.delete(member);
        if (o.restarts) {
          const back = Math.min(t + 2000 + rand() * 3000, last);
          events.push({ at: Math.round(back), kind: 'restart', member });
          busyUntil.set(member, back + settle);
        } else busyUntil.set(member, Number.POSITIVE_INFINITY);
      } else if (freezeAllowed && (events.length === 0 || x < 0.7)) {
        const thaw = Math.min(t + 1500 + rand() * 2000, last);
        events.push({ at: Math.round(t), kind: 'freeze', member }, { at: Math.round(thaw), kind: 'thaw', member });
        if (!o.restarts) upToDate.delete(member);
        busyUntil.set(member, thaw + settle);
      } else {
        const thaw = t + 100 + rand() * 150;
        events.push({ at: Math.round(t), kind: 'freeze', member }, { at: Math.round(thaw), kind: 'thaw', member });
        busyUntil.set(member, thaw + 500);
      }
    }
    t += 1500 + rand() * 3000;
  }
  return events.sort((a, b) => a.at - b.at);
}

/** Members that were never killed nor frozen past failure detection (1 s) in `events`. */
export function neverOut(events: readonly FaultEvent[], members: readonly string[]): string[] {
  const out = new Set<string>();
  const frozenAt = new Map<string, number>();
  for (const e of events) {
    if (e.kind === 'kill') out.add(e.member);
    if (e.kind === 'freeze') frozenAt.set(e.member, e.at);
    if (e.kind === 'thaw' && e.at - frozenAt.get(e.member)! >= 1000) out.add(e.member);
  }
  return members.filter((m) => !out.has(m));
}

/** How many members are down (killed and not restarted, or frozen) right after each event. */
export function downAfterEach(events: readonly FaultEvent[]): number[] {
  const down = new Set<string>();
  return events.map((e) => {
    if (e.kind === 'kill' || e.kind === 'freeze') down.add(e.member);
    else down.delete(e.member);
    return down.size;
  });
}
