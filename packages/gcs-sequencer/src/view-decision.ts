import {
  ZERO_BALLOT,
  compareBallots,
  sameBallot,
  type AcceptedProposal,
  type Ballot,
  type Entry,
  type MemberRef,
  type Proposal,
  type Report,
  type SeqEntry,
} from './wire/messages';

// How a coordinator turns the promises it collected into the next view (step 3 of the view change
// described in sequencer-protocol.ts). A pure function, so every rule can be tested on its own.

/** One promise: who made it (rank and incarnation) and what it reported. */
export interface Promised {
  readonly rank: number;
  readonly inc: number;
  readonly report: Report;
}

/** What `decideView` needs. */
export interface ViewDecisionInput {
  /** The coordinator's ballot (the tag of a new proposal). */
  readonly ballot: Ballot;
  /** The coordinator's rank (preferred state provider). */
  readonly self: number;
  /** Strict majority of the configured members. */
  readonly majority: number;
  /** `partition: fail-stop`: every view is primary. */
  readonly failStop: boolean;
  /** The promises collected (a quorum, checked by the caller). */
  readonly promises: readonly Promised[];
}

/** The decided value and, per acceptor rank, the messages it must hold before accepting. */
export interface ViewDecision {
  readonly proposal: Proposal;
  readonly prefixes: Map<number, SeqEntry[]>;
}

/**
 * Decides the next view from a quorum of promises, or says why it cannot yet (a string: the
 * attempt is abandoned and retried later). Rules:
 * - the base is an installed view whose state a member here holds, the newest that works;
 * - Paxos: a proposal for the view after the base that may have been decided, and that nobody
 *   here installed, is proposed again unchanged (the one accepted under the highest ballot);
 * - views newer than the base (known from installs or accepted proposals) may be skipped only if
 *   each one provably never took hold (`neverTookHold`) and agrees with the new cut;
 * - otherwise a new view of every promiser on the base, cut at an upper bound of what may have
 *   been delivered there (`possiblyDelivered`).
 */
export function decideView(input: ViewDecisionInput): ViewDecision | string {
  const reports = input.promises;
  const same = (a: Proposal, b: Proposal): boolean => a.viewId === b.viewId && sameBallot(a.tag, b.tag);
  const known: Proposal[] = [];
  for (const { report } of reports)
    for (const v of [report.installed, ...report.accepted.map((a) => a.proposal)])
      if (v && !known.some((k) => same(k, v))) known.push(v);
  const accepted = reports.flatMap((x) => x.report.accepted);
  const members = reports.map((x) => ({ rank: x.rank, inc: x.inc })).sort((a, b) => a.rank - b.rank);

  const candidates: Proposal[] = [];
  for (const { report } of reports) {
    const v = report.installed;
    if (v && report.hasState && !candidates.some((c) => same(c, v))) candidates.push(v);
  }
  candidates.sort((a, b) => b.viewId - a.viewId || compareBallots(b.tag, a.tag));
  if (candidates.length === 0) {
    if (reports.some((x) => x.report.installed)) return 'no member holding the state of an installed view answered';
    let again: AcceptedProposal | undefined;
    for (const a of accepted)
      if (a.proposal.baseId === 0 && (!again || compareBallots(a.ballot, again.ballot) > 0)) again = a;
    if (again) return { proposal: again.proposal, prefixes: new Map() };
    if (known.length) return 'views were decided, but no member holding the state of one answered';
    // A brand-new group (see the caller's quorum for who may form one): everybody starts empty.
    const proposal: Proposal = {
      viewId: 1,
      tag: input.ballot,
      baseId: 0,
      baseTag: ZERO_BALLOT,
      cut: 0,
      members,
      joiners: [],
      provider: -1,
      primary: true,
    };
    return { proposal, prefixes: new Map() };
  }
  let first: string | undefined;
  for (const base of candidates) {
    const d = decideOn(input, base, known, accepted, members);
    if (typeof d !== 'string') return d;
    first ??= d;
  }
  return first!;
}

function decideOn(
  input: ViewDecisionInput,
  base: Proposal,
  known: readonly Proposal[],
  accepted: readonly AcceptedProposal[],
  members: readonly MemberRef[],
): ViewDecision | string {
  const reports = input.promises;
  const same = (a: Proposal, b: Proposal): boolean => a.viewId === b.viewId && sameBallot(a.tag, b.tag);
  const m = base.viewId;
  const isBase = (v: Proposal | undefined): boolean => v !== undefined && same(v, base);
  const onBase = (v: Proposal): boolean => v.baseId === m && sameBallot(v.baseTag, base.tag);
  const survivors = reports.filter((x) => isBase(x.report.installed));
  const holders = survivors.filter((x) => x.report.hasState).map((x) => x.rank);
  const maxSeen = Math.max(...known.map((v) => v.viewId));

  // The base view's messages this coordinator can see: the survivors' logs, and the prefixes that
  // acceptors of proposals on this base keep.
  const union = new Map<number, Entry>();
  for (const s of survivors) for (const e of s.report.entries) if (!union.has(e.seq)) union.set(e.seq, e);
  for (const a of accepted)
    if (onBase(a.proposal)) for (const e of a.prefix) if (!union.has(e.seq)) union.set(e.seq, e);

  const fresh = (viewId: number, cut: number): Proposal => {
    // Who can enter without a state transfer: the base's state holders (they deliver up to the
    // cut in the base), and anyone whose state is exactly at the cut, whatever view it is in.
    const ready = reports
      .filter((x) => holders.includes(x.rank) || (x.report.hasState && x.report.delivered === cut))
      .map((x) => x.rank);
    const joiners = members.filter((x) => !ready.includes(x.rank)).map((x) => x.rank);
    const provider = joiners.length === 0 ? -1 : holders.includes(input.self) ? input.self : Math.min(...holders);
    return {
      viewId,
      tag: input.ballot,
      baseId: m,
      baseTag: base.tag,
      cut,
      members: [...members],
      joiners,
      provider,
      primary: input.failStop || members.length >= input.majority,
    };
  };

  const installedHere = (v: Proposal): boolean =>
    reports.some((x) => x.report.installed !== undefined && same(x.report.installed, v));
  const newer = known.filter((v) => v.viewId > m);
  let proposal: Proposal;
  if (newer.every((v) => v.viewId === m + 1 && onBase(v) && !installedHere(v))) {
    // Paxos: a proposal for the next view that may have been decided is proposed again unchanged.
    let again: AcceptedProposal | undefined;
    for (const a of accepted)
      if (a.proposal.viewId === m + 1 && onBase(a.proposal) && (!again || compareBallots(a.ballot, again.ballot) > 0))
        again = a;
    proposal = again ? again.proposal : fresh(m + 1, possiblyDelivered(base, survivors, reports));
  } else {
    // Newer views were decided (or may have been), but nobody here continues from them. Each can be
    // skipped only if it provably never took hold: then its installers delivered nothing in it,
    // only the flush up to its cut in the epoch it was built on, and the new view must agree:
    // - built on the base: the new cut covers it;
    // - built on the base's predecessor: it stops at or before the base's own start;
    // - built on another skipped view: it did not move that view's cut.
    let cut = possiblyDelivered(base, survivors, reports);
    for (const w of newer) {
      if (!neverTookHold(w, reports)) return `view ${w.viewId} may have taken hold but nobody here continues it`;
      if (onBase(w)) cut = Math.max(cut, w.cut);
      else if (w.baseId === base.baseId && sameBallot(w.baseTag, base.baseTag)) {
        if (w.cut > base.cut) return `view ${w.viewId} delivered past the start of view ${m}`;
      } else {
        const u = newer.find((x) => x.viewId === w.baseId && sameBallot(x.tag, w.baseTag));
        if (!u) return `view ${w.viewId} follows view ${w.baseId}, which no member here knows`;
        if (w.cut !== u.cut) return `view ${w.viewId} moved the cut of view ${u.viewId}, which never took hold`;
      }
    }
    proposal = fresh(maxSeen + 1, cut);
  }

  // Reports are kept true by freezing, so this cannot happen; if it did, retrying with fresh
  // reports is the only safe answer.
  const ahead = reports.find((x) => x.report.hasState && x.report.delivered > proposal.cut);
  if (ahead) return `member ${ahead.rank} delivered up to ${ahead.report.delivered}, beyond the cut ${proposal.cut}`;

  // What each acceptor must hold before it accepts: a survivor everything up to the cut, anyone
  // else the part not known to be held by every base member (above the highest known stable).
  const prefixes = new Map<number, SeqEntry[]>();
  const stableFloor = Math.max(0, ...survivors.map((x) => x.report.stableKnown));
  for (const x of reports) {
    const from = isBase(x.report.installed) ? x.report.received : stableFloor;
    const list: SeqEntry[] = [];
    for (let q = from + 1; q <= proposal.cut; q++) {
      const e = union.get(q);
      if (!e) return `message ${q} of view ${m} is held by no member that answered`;
      list.push({ seq: q, ...e });
    }
    prefixes.set(x.rank, list);
  }
  return { proposal, prefixes };
}

/**
 * Whether view `w` provably never took hold (nothing became stable in it): its sequencer is here
 * and its stable point is still the cut, or one of its members is here that never installed it,
 * or installed it but lacks its state or acknowledged nothing in it.
 */
function neverTookHold(w: Proposal, reports: readonly Promised[]): boolean {
  const installedW = (x: Promised): boolean =>
    x.report.installed !== undefined &&
    x.report.installed.viewId === w.viewId &&
    sameBallot(x.report.installed.tag, w.tag);
  const seqRef = w.members[0]!;
  const sequencer = reports.find((x) => x.rank === seqRef.rank && x.inc === seqRef.inc && installedW(x));
  if (sequencer) return sequencer.report.stableKnown <= w.cut;
  return w.members.some((m) => {
    const x = reports.find((r) => r.rank === m.rank && r.inc === m.inc);
    if (!x) return false;
    const v = x.report.installed;
    if (!v || v.viewId < w.viewId) return true;
    return installedW(x) && (!x.report.hasState || x.report.acked <= w.cut);
  });
}

/**
 * An upper bound of the last sequence number anyone may have delivered in `base` (flushes never
 * deliver more, so a flush never creates a delivery only a few members could vouch for):
 * - the base sequencer's stable point, if it answered from the base (exact: a frozen sequencer
 *   stops there);
 * - the base cut, if a base member answered that never installed the base, or has not its state,
 *   or acknowledged nothing there (then nothing there became stable);
 * - else the lowest watermark of the survivors (each holds everything up to it).
 */
function possiblyDelivered(base: Proposal, survivors: readonly Promised[], reports: readonly Promised[]): number {
  const seqRef = base.members[0]!;
  const sequencer = survivors.find((x) => x.rank === seqRef.rank && x.inc === seqRef.inc);
  if (sequencer) return sequencer.report.stableKnown;
  const lacking = reports.some((x) => {
    if (!base.members.some((m) => m.rank === x.rank && m.inc === x.inc)) return false;
    const v = x.report.installed;
    if (!v || v.viewId < base.viewId) return true;
    return survivors.includes(x) && (!x.report.hasState || x.report.acked <= base.cut);
  });
  if (lacking) return base.cut;
  return Math.min(...survivors.map((x) => x.report.received));
}
