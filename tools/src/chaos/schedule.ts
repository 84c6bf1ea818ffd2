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
  /** Milliseconds a member thawed after a long freeze, or restarted, still counts as down (rejoining). Default 2000. */
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
 * The faults of one run, in time order: *stalls* (a 50-150 ms freeze, shorter than failure
 * detection: the group waits and keeps its view), *long freezes* (1.5-3.5 s, past failure
 * detection: clients fail over, the member leaves the view) and *kills*.
 *
 * With restarts a long freeze ends in a thaw and a kill in a restart, any time. Without restarts
 * (no replica state transfer yet) a member that left the view would come back with stale state
 * and could still be picked by a client's fail-over, so a long freeze ends in a kill of the frozen
 * member instead of a thaw, and every long fault uses up one of the floor((n-1)/2) failures for
 * good: stalls come first, long faults from 40 % of the run, the first by 60 % of it.
 */
export function faultSchedule(o: ScheduleOptions): FaultEvent[] {
  const rand = seededRandom(o.seed);
  const settle = o.settleMs ?? 2000;
  const end = o.durationMs - (o.quietTailMs ?? 3000);
  const last = o.durationMs - 1000;
  const budget = maxDown(o.members.length);
  const busyUntil = new Map<string, number>(o.members.map((m) => [m, 0]));
  const events: FaultEvent[] = [];
  let longFaults = 0;
  let t = 1500 + rand() * 1000;
  while (t < end && budget > 0) {
    const live = o.members.filter((m) => busyUntil.get(m)! <= t);
    if (o.members.length - live.length < budget) {
      const member = live[Math.floor(rand() * live.length)]!;
      const longAllowed = o.restarts || t >= o.durationMs * 0.4;
      const mustLong = !o.restarts && longFaults === 0 && t >= o.durationMs * 0.6;
      const x = rand();
      if (longAllowed && (mustLong || x < 0.6)) {
        longFaults++;
        const kill = rand() < 0.5;
        if (kill) events.push({ at: Math.round(t), kind: 'kill', member });
        const back = Math.min(t + (kill ? 2000 + rand() * 3000 : 1500 + rand() * 2000), last);
        if (!kill) events.push({ at: Math.round(t), kind: 'freeze', member });
        if (o.restarts) {
          events.push({ at: Math.round(back), kind: kill ? 'restart' : 'thaw', member });
          busyUntil.set(member, back + settle);
        } else {
          if (!kill) events.push({ at: Math.round(back), kind: 'kill', member });
          busyUntil.set(member, Number.POSITIVE_INFINITY);
        }
      } else {
        const thaw = t + 50 + rand() * 100;
        events.push({ at: Math.round(t), kind: 'freeze', member }, { at: Math.round(thaw), kind: 'thaw', member });
        busyUntil.set(member, thaw + 500);
      }
    }
    t += 1500 + rand() * 3000;
  }
  return events.sort((a, b) => a.at - b.at || (a.kind === 'freeze' ? -1 : 1));
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
