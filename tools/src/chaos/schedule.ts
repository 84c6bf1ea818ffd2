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
 * The faults of one run, in time order. The first fault is a freeze; without restarts kills come
 * only in the second half (a kill is for good and uses up the failure budget), and at least one
 * kill happens by 3/4 of the run when the run is long enough to hold one.
 */
export function faultSchedule(o: ScheduleOptions): FaultEvent[] {
  const rand = seededRandom(o.seed);
  const settle = o.settleMs ?? 2000;
  const end = o.durationMs - (o.quietTailMs ?? 3000);
  const budget = maxDown(o.members.length);
  const busyUntil = new Map<string, number>(o.members.map((m) => [m, 0]));
  const events: FaultEvent[] = [];
  let killsLeft = o.restarts ? Number.POSITIVE_INFINITY : budget;
  let kills = 0;
  let t = 1500 + rand() * 1000;
  while (t < end && budget > 0) {
    const live = o.members.filter((m) => busyUntil.get(m)! <= t);
    if (o.members.length - live.length < budget) {
      const member = live[Math.floor(rand() * live.length)]!;
      const killAllowed = killsLeft > 0 && events.length > 0 && (o.restarts || t >= o.durationMs / 2);
      const mustKill = killAllowed && kills === 0 && t >= (o.durationMs * 3) / 4;
      if (killAllowed && (mustKill || rand() < 0.5)) {
        events.push({ at: Math.round(t), kind: 'kill', member });
        kills++;
        killsLeft--;
        if (o.restarts) {
          const back = Math.min(t + 2000 + rand() * 3000, o.durationMs - 1000);
          events.push({ at: Math.round(back), kind: 'restart', member });
          busyUntil.set(member, back + settle);
        } else busyUntil.set(member, Number.POSITIVE_INFINITY);
      } else {
        const thaw = Math.min(t + 1500 + rand() * 2000, o.durationMs - 1000);
        events.push({ at: Math.round(t), kind: 'freeze', member }, { at: Math.round(thaw), kind: 'thaw', member });
        busyUntil.set(member, thaw + settle);
      }
    }
    t += 1500 + rand() * 3000;
  }
  return events.sort((a, b) => a.at - b.at);
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
