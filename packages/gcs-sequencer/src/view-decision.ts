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
 * attempt is abandoned and retried later). Rules, in order:
 * - Paxos: a proposal for the view after the newest installed one that may have been decided is
 *   proposed again unchanged (the one accepted under the highest ballot);
 * - views newer than every installed one are skipped only if provably never established and
 *   without deliveries (see below);
 * - otherwise a new view of every promiser on the newest installed view, cut at an upper bound of
 *   what may have been delivered in it (`possiblyDelivered`).
 */
export function decideView(input: ViewDecisionInput): ViewDecision | string {
  const reports = input.promises;
  const present = (m: MemberRef): boolean => reports.some((x) => x.rank === m.rank && x.inc === m.inc);
  const same = (a: Proposal, b: Proposal): boolean => a.viewId === b.viewId && sameBallot(a.tag, b.tag);
  const known: Proposal[] = [];
  for (const { report } of reports)
    for (const v of [report.installed, report.accepted?.proposal])
      if (v && !known.some((k) => same(k, v))) known.push(v);
  const maxSeen = Math.max(0, ...known.map((v) => v.viewId));

  // The base: the newest installed view whose state some member here holds. (A newer view
  // installed only by members still waiting for their state has nobody to continue it from.)
  let base: Proposal | undefined;
  let anyInstalled = false;
  for (const { report } of reports) {
    const v = report.installed;
    if (!v) continue;
    anyInstalled = true;
    if (!report.hasState) continue;
    if (!base || v.viewId > base.viewId || (v.viewId === base.viewId && compareBallots(v.tag, base.tag) > 0)) base = v;
  }
  if (anyInstalled && !base) return 'no member holding the state of an installed view answered';
  const m = base?.viewId ?? 0;
  const baseTag = base?.tag ?? ZERO_BALLOT;
  const isBase = (v: Proposal | undefined): boolean => v !== undefined && base !== undefined && same(v, base);
  const onBase = (v: Proposal): boolean => v.baseId === m && sameBallot(v.baseTag, baseTag);
  const survivors = reports.filter((x) => isBase(x.report.installed));
  const holders = survivors.filter((x) => x.report.hasState).map((x) => x.rank);
  const accepted = reports.map((x) => x.report.accepted).filter((a): a is AcceptedProposal => a !== undefined);

  // The base view's messages this coordinator can see: the survivors' logs, and the prefixes that
  // acceptors of proposals on this base keep.
  const union = new Map<number, Entry>();
  for (const s of survivors) for (const e of s.report.entries) if (!union.has(e.seq)) union.set(e.seq, e);
  for (const a of accepted)
    if (onBase(a.proposal)) for (const e of a.prefix) if (!union.has(e.seq)) union.set(e.seq, e);

  const members = reports.map((x) => ({ rank: x.rank, inc: x.inc })).sort((a, b) => a.rank - b.rank);
  const fresh = (viewId: number, cut: number): Proposal | string => {
    const joiners = members.filter((x) => !holders.includes(x.rank)).map((x) => x.rank);
    const provider = joiners.length === 0 ? -1 : holders.includes(input.self) ? input.self : Math.min(...holders);
    return {
      viewId,
      tag: input.ballot,
      baseId: m,
      baseTag,
      cut,
      members,
      joiners,
      provider,
      primary: input.failStop || members.length >= input.majority,
    };
  };

  // Views newer than the base (installed without their state here, or only accepted), except a
  // plain proposal for the next view on this base (the ordinary Paxos case).
  const newer = known.filter(
    (v) =>
      v.viewId > m &&
      (reports.some((x) => x.report.installed && same(x.report.installed, v)) || v.viewId > m + 1 || !onBase(v)),
  );
  let built: Proposal | string;
  if (newer.length === 0) {
    // Paxos: a proposal for the next view that may have been decided is proposed again unchanged.
    let again: AcceptedProposal | undefined;
    for (const a of accepted)
      if (a.proposal.viewId === m + 1 && onBase(a.proposal) && (!again || compareBallots(a.ballot, again.ballot) > 0))
        again = a;
    if (again) built = again.proposal;
    else if (!base)
      // A brand-new group (see the caller's quorum for who may form one): everybody starts empty.
      built = {
        viewId: 1,
        tag: input.ballot,
        baseId: 0,
        baseTag,
        cut: 0,
        members,
        joiners: [],
        provider: -1,
        primary: true,
      };
    else built = fresh(m + 1, possiblyDelivered(base, survivors, reports));
  } else {
    // Newer views were decided, but nobody here holds their state. They can be skipped if each one
    // provably never took hold (one of its members is here without its state, so it acknowledged
    // nothing there and nothing became stable) and none of them moved the cut: then nothing was
    // delivered after the cut of the one that follows the base, and a new view continues there.
    const chain = known.filter((v) => v.viewId > m);
    for (const w of chain) {
      if (!w.members.some(present)) return `view ${w.viewId} may be established but none of its members answered`;
      if (!onBase(w) && !chain.some((u) => u.viewId === w.baseId && sameBallot(u.tag, w.baseTag)))
        return `view ${w.viewId} follows view ${w.baseId}, which no member here knows`;
    }
    const anchor = chain.find(onBase);
    if (!anchor) return `no view known here follows view ${m}`;
    if (chain.some((w) => w.cut !== anchor.cut)) return `views after ${m} moved the cut`;
    built = fresh(maxSeen + 1, anchor.cut);
  }
  if (typeof built === 'string') return built;
  const proposal = built;
  // Reports are kept true by freezing, so this cannot happen; if it did, retrying with fresh
  // reports is the only safe answer.
  const ahead = survivors.find((x) => x.report.hasState && x.report.delivered > proposal.cut);
  if (proposal.baseId === m && ahead)
    return `member ${ahead.rank} delivered up to ${ahead.report.delivered}, beyond the cut ${proposal.cut}`;

  // What each acceptor must hold before it accepts: a survivor everything up to the cut, anyone
  // else the part not known to be held by every base member (above the highest known stable).
  const prefixes = new Map<number, SeqEntry[]>();
  if (proposal.baseId > 0) {
    const stableFloor = Math.max(0, ...survivors.map((x) => x.report.stableKnown));
    for (const x of reports) {
      const from = isBase(x.report.installed) ? x.report.received : stableFloor;
      const list: SeqEntry[] = [];
      for (let q = from + 1; q <= proposal.cut; q++) {
        const e = union.get(q);
        if (!e) return `message ${q} of view ${proposal.baseId} is held by no member that answered`;
        list.push({ seq: q, ...e });
      }
      prefixes.set(x.rank, list);
    }
  }
  return { proposal, prefixes };
}

/**
 * An upper bound of the last sequence number anyone may have delivered in `base` (flushes never
 * deliver more, so a flush never creates a delivery only a few members could vouch for):
 * - the base sequencer's stable point, if it answered (exact: a frozen sequencer stops there);
 * - the base cut, if a member of the base answered without having installed it with its state
 *   (it acknowledged nothing there, so nothing there became stable);
 * - else the lowest watermark of the survivors (each holds everything up to it).
 */
function possiblyDelivered(base: Proposal, survivors: readonly Promised[], reports: readonly Promised[]): number {
  const seqRef = base.members[0]!;
  const sequencer = survivors.find((x) => x.rank === seqRef.rank && x.inc === seqRef.inc);
  if (sequencer) return sequencer.report.stableKnown;
  const lacking = reports.some(
    (x) =>
      base.members.some((m) => m.rank === x.rank && m.inc === x.inc) && !(survivors.includes(x) && x.report.hasState),
  );
  if (lacking) return base.cut;
  return Math.min(...survivors.map((x) => x.report.received));
}
