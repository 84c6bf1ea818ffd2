import { GENESIS, coverEnd, decidePlan, recoveryDuties, recoveryStart, stateProvider, toRanges } from './plan';
import type { MemberInfo, ViewRecord } from './wire';

const V3: ViewRecord = { id: 3, ballot: 5 * 1024, cut: 10 };

function info(index: number, over: Partial<MemberInfo> = {}): MemberInfo {
  return { index, inc: 1, delivered: 0, holdings: [], ...over };
}

/** A transitional member of V3 that delivered `delivered` and holds `held` of V3's ring. */
function inV3(index: number, delivered: number, held: [number, number][] = []): MemberInfo {
  return info(index, { view: V3, delivered, holdings: [{ tag: V3.ballot, ranges: held }] });
}

describe('decidePlan', () => {
  it('starts the group when every configured member is present and fresh', () => {
    expect(decidePlan([info(0), info(1), info(2)], 3, false)).toEqual({
      primary: true,
      base: GENESIS,
      lo: 0,
      end: 0,
      nextId: 1,
    });
  });

  it('refuses a primary to a fresh majority that lacks a configured member (amnesia)', () => {
    expect(decidePlan([info(0), info(1)], 3, false).primary).toBe(false);
    expect(decidePlan([inV3(0, 10), info(1)], 3, false).primary).toBe(false);
    expect(decidePlan([inV3(0, 10), inV3(1, 10)], 3, false).primary).toBe(true);
    expect(decidePlan([inV3(0, 10), inV3(1, 10)], 4, false).primary).toBe(false);
    // Two remembering members of four meet every majority of four.
    expect(decidePlan([inV3(0, 10), inV3(1, 10), info(2)], 4, false).primary).toBe(true);
    expect(decidePlan([inV3(0, 10), info(1), info(2)], 4, false).primary).toBe(false);
  });

  it('makes every round primary under fail-stop', () => {
    expect(decidePlan([info(1)], 2, true)).toMatchObject({ primary: true, base: GENESIS, nextId: 1 });
    expect(decidePlan([inV3(0, 12, [[11, 12]])], 2, true)).toMatchObject({ primary: true, base: V3, end: 12 });
  });

  it('finishes the latest installed view up to the longest prefix the members hold between them', () => {
    const plan = decidePlan(
      [
        inV3(0, 12, [[11, 14]]),
        inV3(1, 11, [
          [11, 12],
          [15, 16],
        ]),
        info(2, { view: { id: 2, ballot: 1024, cut: 0 }, delivered: 9 }),
      ],
      3,
      false,
    );
    expect(plan).toEqual({ primary: true, base: V3, lo: 11, end: 16, nextId: 4 });
  });

  it('stops at the first seq nobody holds, even if later ones are held', () => {
    const plan = decidePlan([inV3(0, 11, [[11, 12]]), inV3(1, 11, [[14, 20]])], 3, false);
    expect(plan.end).toBe(12);
  });

  it('keeps the end of the highest-ballot accepted plan for the same base (it may be installed)', () => {
    const accepted = { ballot: 9 * 1024, base: V3, end: 13, nextId: 6 };
    const older = { ballot: 8 * 1024, base: V3, end: 15, nextId: 5 };
    const plan = decidePlan(
      [
        inV3(0, 11, [[11, 16]]),
        info(1, { view: V3, delivered: 11, accepted, holdings: [{ tag: V3.ballot, ranges: [[11, 13]] }] }),
        info(2, { view: V3, delivered: 11, accepted: older, holdings: [{ tag: V3.ballot, ranges: [[11, 15]] }] }),
      ],
      3,
      false,
    );
    expect(plan).toEqual({ primary: true, base: V3, lo: 11, end: 13, nextId: 7 });
  });

  it('recomputes the end when the accepted plan is no longer held (it cannot have been installed)', () => {
    const accepted = { ballot: 9 * 1024, base: V3, end: 18, nextId: 6 };
    const plan = decidePlan(
      [
        inV3(0, 11, [[11, 14]]),
        info(1, { view: V3, delivered: 11, accepted, holdings: [{ tag: V3.ballot, ranges: [[11, 14]] }] }),
      ],
      3,
      false,
    );
    expect(plan.end).toBe(14);
    expect(plan.nextId).toBe(7);
  });

  it('ignores accepted plans of older bases', () => {
    const stale = { ballot: 2 * 1024, base: { id: 2, ballot: 1024, cut: 0 }, end: 99, nextId: 3 };
    expect(decidePlan([inV3(0, 12, [[11, 12]]), info(1, { accepted: stale }), inV3(2, 12)], 3, false)).toMatchObject({
      primary: true,
      end: 12,
    });
  });

  it('finishes the base at the cut of a later view only absent members installed', () => {
    // V4 (cut 14) was installed by members now gone; a round based on it was accepted here.
    const v4 = { id: 4, ballot: 7 * 1024 + 1, cut: 14 };
    const onV4 = { ballot: 9 * 1024, base: v4, end: 14, nextId: 5 };
    const sameBase = { ballot: 10 * 1024, base: V3, end: 16, nextId: 6 };
    const infos = [
      info(0, { view: V3, delivered: 11, accepted: onV4, holdings: [{ tag: V3.ballot, ranges: [[11, 16]] }] }),
      info(1, { view: V3, delivered: 12, accepted: sameBase, holdings: [{ tag: V3.ballot, ranges: [[11, 16]] }] }),
      inV3(2, 12, [[11, 12]]),
    ];
    expect(decidePlan(infos, 3, false)).toEqual({ primary: true, base: V3, lo: 11, end: 14, nextId: 7 });
    // Not held any more, or the later view's own ring moved on: this side cannot finish it.
    expect(
      decidePlan(
        [
          info(0, { ...infos[0]!, holdings: [{ tag: V3.ballot, ranges: [[11, 12]] }] }),
          inV3(1, 11, [[11, 12]]),
          inV3(2, 11),
        ],
        3,
        false,
      ).primary,
    ).toBe(false);
    expect(decidePlan([info(0, { ...infos[0]!, accepted: { ...onV4, end: 15 } }), infos[2]!], 3, false).primary).toBe(
      false,
    );
    // A transitional member already past that cut contradicts it: wait.
    expect(decidePlan([infos[0]!, inV3(1, 15, [[11, 16]]), inV3(2, 12)], 3, false).primary).toBe(false);
  });

  it('goes on from what is left when the round stands only because every member is present', () => {
    // V4 operated (its plan ends past its cut) and everyone who knew it restarted: nobody can finish it.
    const v4 = { id: 4, ballot: 7 * 1024 + 1, cut: 14 };
    const onV4 = { ballot: 9 * 1024, base: v4, end: 17, nextId: 5 };
    const remembering = info(0, {
      view: V3,
      delivered: 11,
      accepted: onV4,
      holdings: [{ tag: V3.ballot, ranges: [[11, 13]] }],
    });
    expect(decidePlan([remembering, info(1), info(2)], 3, false)).toEqual({
      primary: true,
      base: V3,
      lo: 11,
      end: 13,
      nextId: 6,
    });
    expect(decidePlan([remembering, inV3(1, 11), info(2)], 3, false).primary).toBe(false);
  });

  it('numbers the next view above every view and plan it hears of', () => {
    const accepted = { ballot: 9 * 1024, base: { id: 1, ballot: 1, cut: 0 }, end: 0, nextId: 8 };
    expect(decidePlan([inV3(0, 10), inV3(1, 10), info(2, { accepted })], 3, false).nextId).toBe(9);
  });
});

describe('recovery helpers', () => {
  const infos = [inV3(0, 12, [[11, 15]]), inV3(1, 11, [[11, 12]]), info(2, { view: { id: 1, ballot: 1, cut: 0 } })];
  const plan = decidePlan(infos, 3, false);

  it('covers from what the transitional members delivered', () => {
    expect(plan).toMatchObject({ lo: 11, end: 15 });
    expect(coverEnd(infos, V3, 11)).toBe(15);
    expect(recoveryStart(plan, infos[0]!)).toBe(12);
    expect(recoveryStart(plan, infos[1]!)).toBe(11);
    expect(recoveryStart(plan, infos[2]!)).toBe(11);
  });

  it('gives each missing message to its first holder, sent to every member that needs it', () => {
    expect([...recoveryDuties(plan, infos, 0)]).toEqual([
      [12, [2]],
      [13, [1, 2]],
      [14, [1, 2]],
      [15, [1, 2]],
    ]);
    expect([...recoveryDuties(plan, infos, 1)]).toEqual([]);
    expect([...recoveryDuties(plan, infos, 2)]).toEqual([]);
  });

  it('picks the first transitional member as state provider when there are joiners', () => {
    expect(stateProvider(plan, infos)).toBe(0);
    expect(stateProvider(plan, infos.slice(0, 2))).toBeUndefined();
    expect(stateProvider(decidePlan([info(0), info(1)], 2, false), [info(0), info(1)])).toBeUndefined();
  });

  it('compresses seqs into ranges, lowest first, capped', () => {
    expect(toRanges([1, 2, 3, 5, 7, 8])).toEqual([
      [1, 3],
      [5, 5],
      [7, 8],
    ]);
    expect(toRanges([1, 3, 5, 7], 2)).toEqual([
      [1, 1],
      [3, 3],
    ]);
    expect(toRanges([])).toEqual([]);
  });
});
