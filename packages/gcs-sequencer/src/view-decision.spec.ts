import { decideView, type Promised, type ViewDecision } from './view-decision';
import type { Ballot, Entry, Proposal, Report, SeqEntry } from './wire/messages';

const ballot: Ballot = { round: 9, rank: 1 };
const tag = (round: number, rank = 0): Ballot => ({ round, rank });
const entry = (seq: number): SeqEntry => ({
  seq,
  origin: 0,
  inc: 1,
  originSeq: seq,
  payload: new Uint8Array([seq & 255]),
});
const range = (from: number, to: number): SeqEntry[] =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => entry(from + i));

function view(viewId: number, members: number[], cut: number, extra: Partial<Proposal> = {}): Proposal {
  return {
    viewId,
    tag: tag(viewId),
    baseId: viewId - 1,
    baseTag: tag(viewId - 1),
    cut,
    members: members.map((rank) => ({ rank, inc: 1 })),
    joiners: [],
    provider: -1,
    primary: true,
    ...extra,
  };
}

function member(rank: number, report: Partial<Report>): Promised {
  return {
    rank,
    inc: 1,
    report: {
      hasState: true,
      delivered: 0,
      received: 0,
      stableKnown: 0,
      acked: report.received ?? 0,
      entries: [],
      ...report,
      accepted: report.accepted ?? [],
    },
  };
}

function decide(promises: Promised[], majority = 2): ViewDecision {
  const d = decideView({ ballot, self: 1, majority, failStop: false, promises });
  if (typeof d === 'string') throw new Error(d);
  return d;
}

function why(promises: Promised[], majority = 2): string {
  const d = decideView({ ballot, self: 1, majority, failStop: false, promises });
  if (typeof d !== 'string') throw new Error(`expected a refusal, got view ${d.proposal.viewId}`);
  return d;
}

const seqs = (d: ViewDecision, rank: number) => (d.prefixes.get(rank) ?? []).map((e: Entry & { seq: number }) => e.seq);

describe('decideView', () => {
  it('forms a brand-new group from fresh members', () => {
    const d = decide([member(0, { hasState: false }), member(1, { hasState: false }), member(2, { hasState: false })]);
    expect(d.proposal).toMatchObject({ viewId: 1, baseId: 0, cut: 0, joiners: [], provider: -1, tag: ballot });
    expect(d.proposal.members.map((m) => m.rank)).toEqual([0, 1, 2]);
  });

  it("cuts at the base sequencer's stable point when it answered (nothing unstable is delivered)", () => {
    const base = view(2, [0, 1, 2], 5);
    const d = decide([
      member(0, { installed: base, received: 14, stableKnown: 10, delivered: 10, entries: range(11, 14) }),
      member(1, { installed: base, received: 12, stableKnown: 8, delivered: 8, entries: range(9, 12) }),
    ]);
    expect(d.proposal).toMatchObject({ viewId: 3, baseId: 2, cut: 10, joiners: [] });
    expect(seqs(d, 0)).toEqual([]);
    expect(seqs(d, 1)).toEqual([]);
  });

  it('cuts at the base cut when a base member answered without having installed it', () => {
    const base = view(4, [0, 1, 2], 40);
    const d = decide([
      member(1, { installed: base, received: 47, stableKnown: 40, delivered: 40, entries: range(41, 47) }),
      member(2, { installed: view(3, [0, 1, 2], 30), received: 33, stableKnown: 33, delivered: 33 }),
    ]);
    expect(d.proposal).toMatchObject({ viewId: 5, baseId: 4, cut: 40, joiners: [2], provider: 1 });
  });

  it("without the sequencer, cuts at the survivors' lowest watermark and has every acceptor keep the unstable part", () => {
    const base = view(2, [0, 1, 2], 5);
    const d = decide(
      [
        member(1, { installed: base, received: 15, stableKnown: 10, delivered: 10, entries: range(11, 15) }),
        member(2, { installed: base, received: 13, stableKnown: 9, delivered: 9, entries: range(10, 13) }),
        member(3, { installed: view(1, [0, 3, 4], 0), received: 2, stableKnown: 2, delivered: 2 }),
      ],
      3,
    );
    expect(d.proposal).toMatchObject({ viewId: 3, cut: 13, joiners: [3], provider: 1 });
    expect(seqs(d, 1)).toEqual([]);
    expect(seqs(d, 2)).toEqual([]);
    expect(seqs(d, 3)).toEqual([11, 12, 13]);
  });

  it('proposes again, unchanged, the proposal accepted under the highest ballot for the next view', () => {
    const base = view(2, [0, 1, 2], 5);
    const low = { ...view(3, [0, 1], 7), tag: tag(4, 0) };
    const high = { ...view(3, [1, 2], 9), tag: tag(6, 2) };
    const d = decide([
      member(1, {
        installed: base,
        received: 9,
        stableKnown: 6,
        entries: range(7, 9),
        accepted: [{ ballot: tag(4), proposal: low, prefix: [] }],
      }),
      member(2, {
        installed: base,
        received: 8,
        stableKnown: 6,
        entries: range(7, 8),
        accepted: [{ ballot: tag(6, 2), proposal: high, prefix: [] }],
      }),
    ]);
    expect(d.proposal).toBe(high);
    expect(seqs(d, 2)).toEqual([9]);
  });

  it('refuses to propose again a value whose messages nobody here holds', () => {
    const base = view(2, [0, 1, 2], 5);
    const lost = { ...view(3, [0, 1, 2], 12), tag: tag(6, 0) };
    expect(
      why([
        member(1, {
          installed: base,
          received: 9,
          stableKnown: 6,
          entries: range(7, 9),
          accepted: [{ ballot: tag(6), proposal: lost, prefix: [] }],
        }),
        member(2, { installed: base, received: 8, stableKnown: 6, entries: range(7, 8) }),
      ]),
    ).toBe('message 10 of view 2 is held by no member that answered');
  });

  // The shape of conformance seed 32 (5 members, chaos): view 3 was installed by n1 alone, view 4
  // (on view 3) was accepted by n2 and n5 but installed by n1 alone, and n1 is gone.
  const v2 = view(2, [0, 1, 2, 3, 4], 35);
  const v3 = { ...view(3, [0, 2, 3], 109), tag: tag(3, 0) };
  const v4 = { ...view(4, [0, 1, 4], 109), baseTag: tag(3, 0), tag: tag(5, 0) };
  const stale = (rank: number, accepted: Proposal) =>
    member(rank, {
      installed: v2,
      received: 112,
      stableKnown: 96,
      delivered: 96,
      entries: range(97, 112),
      accepted: [{ ballot: accepted.tag, proposal: accepted, prefix: [] }],
    });

  it('skips views that provably never took hold and continues on the installed base, covering their cut', () => {
    const d = decide([stale(1, v4), stale(2, v3), stale(3, v3), stale(4, v4)], 3);
    // Without view 2's sequencer, the survivors' watermark (112) bounds what was delivered there;
    // it covers view 3's cut (109), up to which n1 may have delivered before moving on.
    expect(d.proposal).toMatchObject({ viewId: 5, baseId: 2, baseTag: v2.tag, cut: 112, joiners: [], tag: ballot });
    expect(seqs(d, 1)).toEqual([]);
  });

  it('does not skip a view none of whose members answered (it may have been established)', () => {
    expect(why([stale(1, v4), stale(4, v4), member(2, { installed: v2, received: 112, stableKnown: 96 })], 3)).toBe(
      'view 4 follows view 3, which no member here knows',
    );
    // View 3 known here only through an acceptor that is not one of its members.
    const v3hidden = { ...v3, members: [0, 3].map((rank) => ({ rank, inc: 1 })) };
    expect(why([stale(1, v4), stale(4, v4), stale(2, v3hidden)], 3)).toBe(
      'view 3 may have taken hold but nobody here continues it',
    );
  });

  it('does not skip views that moved the cut (something may have been delivered in them)', () => {
    const moved = { ...v4, cut: 111 };
    expect(why([stale(1, moved), stale(2, v3), stale(3, v3), stale(4, moved)], 3)).toBe(
      'view 4 moved the cut of view 3, which never took hold',
    );
  });

  it('waits when no member holding the base state answered', () => {
    const base = view(2, [0, 1, 2], 5);
    expect(
      why([
        member(1, { installed: base, hasState: false, received: 6 }),
        member(2, { installed: base, hasState: false, received: 6 }),
        member(3, { hasState: false }),
      ]),
    ).toBe('no member holding the state of an installed view answered');
  });

  // The shape of conformance seed 126 (3 members, chaos): n2 (holding view 4's state) formed view 5
  // with n1 as a joiner, n1 installed it but n2 crashed before n1 got the state; n3 holds view 4.
  it('continues from an older view when the newest one was installed only by members still without its state', () => {
    const v4s = view(4, [1, 2], 82);
    const v5s = view(5, [0, 1], 87, { joiners: [0], provider: 1 });
    const d = decide([
      member(0, { installed: v5s, hasState: false, received: 87, stableKnown: 87, delivered: 60 }),
      member(1, { hasState: false }),
      member(2, { installed: v4s, received: 90, stableKnown: 85, delivered: 85, entries: range(86, 90) }),
    ]);
    expect(d.proposal).toMatchObject({ viewId: 6, baseId: 4, cut: 87, joiners: [0, 1], provider: 2 });
    expect(seqs(d, 2)).toEqual([]);
    expect(seqs(d, 0)).toEqual([86, 87]);
  });

  it('does not continue from an older view when the newest one may have delivered beyond its cut', () => {
    const v4s = view(4, [1, 2], 82);
    const v5s = view(5, [0, 1], 87, { joiners: [0], provider: 1 });
    const v6s = view(6, [0, 1], 95);
    expect(
      why([
        member(0, {
          installed: v5s,
          hasState: false,
          received: 87,
          accepted: [{ ballot: v6s.tag, proposal: v6s, prefix: [] }],
        }),
        member(2, { installed: v4s, received: 90, stableKnown: 85, delivered: 85, entries: range(86, 90) }),
      ]),
    ).toBe('view 6 moved the cut of view 5, which never took hold');
  });

  // The shape of conformance seed 2166 (3 members, chaos): view 5, built on view 3 and skipping
  // view 4 while n2 still waited for view 4's state, was accepted by n2 and n3; then n2 got the
  // state (but stayed frozen), so view 4 has holders and view 5 follows view 4's predecessor.
  const v3b = view(3, [0, 2], 34);
  const v4b = view(4, [0, 1], 55, { joiners: [1], provider: 0 });
  const v5b = { ...view(5, [1, 2], 55), baseId: 3, baseTag: v3b.tag, tag: tag(4, 2) };
  const promises2166 = (v5: Proposal) => [
    member(0, { installed: v4b, received: 55, stableKnown: 55, delivered: 55 }),
    member(1, {
      installed: v4b,
      received: 55,
      stableKnown: 55,
      delivered: 55,
      accepted: [{ ballot: v5.tag, proposal: v5, prefix: [] }],
    }),
    member(2, {
      installed: v3b,
      received: 55,
      stableKnown: 50,
      delivered: 50,
      entries: range(51, 55),
      accepted: [{ ballot: v5.tag, proposal: v5, prefix: [] }],
    }),
  ];

  it("skips a view built on the base's predecessor that stops at the base's start", () => {
    const d = decide(promises2166(v5b));
    expect(d.proposal).toMatchObject({ viewId: 6, baseId: 4, cut: 55, joiners: [2], provider: 1 });
  });

  it("refuses to skip a view built on the base's predecessor that delivered past the base's start", () => {
    expect(why(promises2166({ ...v5b, cut: 57 }))).toBe('view 5 delivered past the start of view 4');
  });

  it('lets a member whose state is exactly at the cut in without a state transfer, whatever its view', () => {
    const d = decide([
      ...promises2166(v5b).slice(0, 2),
      member(2, {
        installed: v3b,
        received: 55,
        stableKnown: 55,
        delivered: 55,
        accepted: [{ ballot: v5b.tag, proposal: v5b, prefix: [] }],
      }),
    ]);
    expect(d.proposal).toMatchObject({ viewId: 6, baseId: 4, cut: 55, joiners: [], provider: -1 });
  });

  // The shape of conformance seed 2166 as it later played out: view 4 (built on 3, cut 55) is
  // installed with its state by n1 and n2 but never took hold (its sequencer n1 is frozen at the
  // cut); view 5, also built on 3, skipped it and reaches 56. Only n3 holds view 3.
  it('falls back to an older base when the newest one never took hold and a skipped sibling went further', () => {
    const v5far = { ...v5b, cut: 56 };
    const d = decide([
      member(0, { installed: v4b, received: 55, stableKnown: 55, delivered: 55 }),
      member(1, {
        installed: v4b,
        received: 55,
        stableKnown: 55,
        delivered: 55,
        acked: 55,
        accepted: [{ ballot: v5far.tag, proposal: v5far, prefix: [] }],
      }),
      member(2, {
        installed: v3b,
        received: 56,
        stableKnown: 50,
        delivered: 50,
        entries: range(51, 56),
        accepted: [{ ballot: v5far.tag, proposal: v5far, prefix: [] }],
      }),
    ]);
    expect(d.proposal).toMatchObject({ viewId: 6, baseId: 3, cut: 56, joiners: [0, 1], provider: 2 });
  });

  it("does not treat a view as never taken hold when its sequencer's stable point moved past the cut", () => {
    const v5far = { ...v5b, cut: 56 };
    expect(
      why([
        member(0, { installed: v4b, received: 58, stableKnown: 57, delivered: 57 }),
        member(2, {
          installed: v3b,
          received: 56,
          stableKnown: 50,
          delivered: 50,
          entries: range(51, 56),
          accepted: [{ ballot: v5far.tag, proposal: v5far, prefix: [] }],
        }),
      ]),
    ).toBe('view 5 delivered past the start of view 4');
  });

  // The shape of conformance seed 3602 (3 members, chaos): view 7 = {n1, n2} on view 6 was
  // installed only by n1 (now gone); n2 accepted it, then accepted view 8 built on it. A member
  // keeps every proposal it accepted since its install, so view 7 is still known here.
  it('knows every proposal a member accepted since its install, not only the last', () => {
    const v6 = view(6, [0, 1, 2], 43);
    const v7 = { ...view(7, [0, 1], 61), tag: tag(8, 0) };
    const v8 = { ...view(8, [1, 2], 61), baseTag: v7.tag, tag: tag(9, 2) };
    const both = [
      { ballot: v7.tag, proposal: v7, prefix: [] },
      { ballot: v8.tag, proposal: v8, prefix: [] },
    ];
    const d = decide([
      { ...member(0, { hasState: false }), inc: 3 },
      member(1, {
        installed: v6,
        received: 62,
        stableKnown: 61,
        delivered: 61,
        entries: range(62, 62),
        accepted: both,
      }),
      member(2, {
        installed: v6,
        received: 61,
        stableKnown: 60,
        delivered: 60,
        entries: range(61, 61),
        accepted: [both[1]!],
      }),
    ]);
    expect(d.proposal).toMatchObject({ viewId: 9, baseId: 6, cut: 61, joiners: [0], provider: 1 });
    expect(
      why([
        { ...member(0, { hasState: false }), inc: 3 },
        member(2, { installed: v6, received: 61, stableKnown: 60, delivered: 60, accepted: [both[1]!] }),
      ]),
    ).toBe('view 8 follows view 7, which no member here knows');
  });
});
