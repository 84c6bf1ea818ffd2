import { downAfterEach, faultSchedule, maxDown, neverOut } from './schedule';

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i + 1}`);

describe('faultSchedule', () => {
  it.each([3, 5])(
    'never takes more than floor((n-1)/2) of %i members down, over 300 seeds, with and without restarts',
    (n) => {
      for (let seed = 1; seed <= 300; seed++)
        for (const restarts of [false, true]) {
          const events = faultSchedule({ seed, durationMs: 60_000, members: ids(n), restarts });
          expect(events.length).toBeGreaterThan(0);
          expect(Math.max(...downAfterEach(events))).toBeLessThanOrEqual(maxDown(n));
          expect(events.every((e, i) => i === 0 || events[i - 1]!.at <= e.at)).toBe(true);
          expect(events.every((e) => e.at < 60_000)).toBe(true);
        }
    },
  );

  it('without restarts: at most floor((n-1)/2) kills, no restart, a long freeze ends in a kill, a short one in a thaw', () => {
    for (let seed = 1; seed <= 300; seed++)
      for (const n of [3, 5]) {
        const events = faultSchedule({ seed, durationMs: 60_000, members: ids(n), restarts: false });
        expect(events.filter((e) => e.kind === 'kill').length).toBeLessThanOrEqual(maxDown(n));
        expect(events.filter((e) => e.kind === 'restart')).toEqual([]);
        for (const f of events.filter((e) => e.kind === 'freeze')) {
          const end = events.find((e) => e.member === f.member && e.at >= f.at && e.kind !== 'freeze')!;
          expect(end).toBeDefined();
          expect(end.kind).toBe(end.at - f.at >= 1000 ? 'kill' : 'thaw');
          expect(end.at - f.at < 200 || end.at - f.at >= 1500).toBe(true);
        }
        // A killed member is never touched again, and never-out members form a majority.
        for (const k of events.filter((e) => e.kind === 'kill'))
          expect(events.filter((e) => e.member === k.member && e.at > k.at)).toEqual([]);
        expect(neverOut(events, ids(n)).length).toBeGreaterThan(n / 2);
      }
  });

  it('without restarts a 60 s run has at least one long fault (a kill, or a long freeze ending in a kill)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const events = faultSchedule({ seed, durationMs: 60_000, members: ids(3), restarts: false });
      expect(events.some((e) => e.kind === 'kill')).toBe(true);
      expect(events.some((e) => e.kind === 'freeze')).toBe(true);
    }
  });

  it('is a function of the seed', () => {
    const a = faultSchedule({ seed: 42, durationMs: 60_000, members: ids(5), restarts: true });
    expect(faultSchedule({ seed: 42, durationMs: 60_000, members: ids(5), restarts: true })).toEqual(a);
    expect(faultSchedule({ seed: 43, durationMs: 60_000, members: ids(5), restarts: true })).not.toEqual(a);
  });

  it('with restarts every kill is followed by a restart of that member', () => {
    const events = faultSchedule({ seed: 5, durationMs: 120_000, members: ids(3), restarts: true });
    const kills = events.filter((e) => e.kind === 'kill');
    expect(kills.length).toBeGreaterThan(0);
    for (const k of kills)
      expect(events.some((e) => e.kind === 'restart' && e.member === k.member && e.at > k.at)).toBe(true);
  });
});
