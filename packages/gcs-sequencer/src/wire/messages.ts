import { BodyReader, BodyWriter, MalformedFrameError, UnsupportedVersionError } from '@vcl/core';

// The sequencer's wire format, written with the link codec's BodyWriter/BodyReader. A frame is
// `version | sender incarnation | record*`, each record `type | fields` (self-delimiting: a reader
// knows every field), so one network message carries many piggybacked records (an ORDER batch,
// the acknowledgement watermarks, a heartbeat). Members are named by their rank in the configured
// member list. A frame with anything wrong in it is rejected whole.

/** Wire format version. */
export const WIRE_VERSION = 1;

/** A Paxos ballot: `round` first, `rank` of the proposer breaks ties. */
export interface Ballot {
  readonly round: number;
  readonly rank: number;
}

/** One broadcast message: who sent it (rank and incarnation) and its number in the sender's FIFO. */
export interface Entry {
  readonly origin: number;
  readonly inc: number;
  readonly originSeq: number;
  readonly payload: Uint8Array;
}

/** An entry with its global sequence number. */
export interface SeqEntry extends Entry {
  readonly seq: number;
}

/** A member of a proposed view, by rank and incarnation. */
export interface MemberRef {
  readonly rank: number;
  readonly inc: number;
}

/** The value a view change decides: the next view and where the previous one ends. */
export interface Proposal {
  /** The new view's id (above the base's; above base + 1 when views that never took hold are skipped). */
  readonly viewId: number;
  /** The ballot that first proposed this value; with `viewId` it names the view uniquely. */
  readonly tag: Ballot;
  /** The view it follows (0: none, the group is new). */
  readonly baseId: number;
  /** The tag of the view it follows. */
  readonly baseTag: Ballot;
  /** Last sequence number of the base view; the new view's first is `cut + 1`. */
  readonly cut: number;
  /** Members, in rank order; the first is the sequencer. */
  readonly members: readonly MemberRef[];
  /** Ranks that get the state at `cut` from `provider` instead of delivering up to it. */
  readonly joiners: readonly number[];
  /** Rank of the member that captures the state for the joiners (-1: nobody needs it). */
  readonly provider: number;
  /** Whether the view may deliver. */
  readonly primary: boolean;
}

/** A decided proposal and the ballot that decided it. */
export interface Decided {
  readonly proposal: Proposal;
  readonly ballot: Ballot;
}

/** A proposal a member accepted, with the ballot it accepted it under. */
export interface AcceptedProposal {
  readonly ballot: Ballot;
  readonly proposal: Proposal;
  /**
   * Messages of the proposal's base view up to its cut that the coordinator asked every acceptor
   * to keep (those not known to be held by every base member), so that they outlive the survivors.
   */
  readonly prefix: readonly SeqEntry[];
}

/** What a member tells a coordinator when it promises a ballot. */
export interface Report {
  /** The proposal of its installed view, if any. */
  readonly installed?: Proposal;
  /** Whether it holds the application state of its installed view. */
  readonly hasState: boolean;
  readonly delivered: number;
  /** Highest contiguous sequence number held in its installed view. */
  readonly received: number;
  /** Highest sequence number it knows to be held by every member (exact at the sequencer). */
  readonly stableKnown: number;
  /** Highest sequence number it acknowledged in its installed view (its cut if none). */
  readonly acked: number;
  /** Held messages of its installed view above `stableKnown`. */
  readonly entries: readonly SeqEntry[];
  /** The proposals it accepted since it installed its view, one per view id (the last ballot's). */
  readonly accepted: readonly AcceptedProposal[];
}

/** Member status carried in heartbeats. */
export const Status = {
  /** In a view, working. */
  normal: 0,
  /** Promised a view change; blocked until the next view is installed. */
  frozen: 1,
  /** In a view, waiting for the state transfer. */
  joining: 2,
  /** In no usable view: wants to be added by a view change. */
  outside: 3,
} as const;
/** A `Status` value. */
export type StatusCode = (typeof Status)[keyof typeof Status];

/** Every record type. */
export type WireRecord =
  | { kind: 'hb'; viewId: number; status: StatusCode; probe: boolean; round: number }
  | { kind: 'submit'; viewId: number; firstOriginSeq: number; payloads: Uint8Array[] }
  | { kind: 'submitAck'; viewId: number; inc: number; accepted: number }
  | { kind: 'order'; viewId: number; firstSeq: number; stable: number; gc: number; entries: Entry[] }
  | { kind: 'ack'; viewId: number; received: number; delivered: number }
  | { kind: 'stable'; viewId: number; high: number; stable: number; gc: number }
  | { kind: 'nak'; viewId: number; from: number; to: number }
  | { kind: 'prepare'; ballot: Ballot }
  | { kind: 'promise'; ballot: Ballot; report: Report }
  | { kind: 'reject'; ballot: Ballot; promised: Ballot }
  | { kind: 'accept'; ballot: Ballot; toInc: number; proposal: Proposal; prefix: SeqEntry[] }
  | { kind: 'accepted'; ballot: Ballot }
  | { kind: 'commit'; proposal: Proposal; ballot: Ballot }
  | { kind: 'change'; viewId: number }
  | { kind: 'stateReq'; viewId: number; offset: number }
  | { kind: 'stateChunk'; viewId: number; total: number; offset: number; data: Uint8Array };

const TYPE: Record<WireRecord['kind'], number> = {
  hb: 1,
  submit: 2,
  submitAck: 3,
  order: 4,
  ack: 5,
  stable: 6,
  nak: 7,
  prepare: 8,
  promise: 9,
  reject: 10,
  accept: 11,
  accepted: 12,
  commit: 13,
  change: 14,
  stateReq: 15,
  stateChunk: 16,
};

/** Encodes one record's fields (after its type byte). */
export function encodeRecordBody(r: WireRecord, w: BodyWriter): void {
  switch (r.kind) {
    case 'hb':
      w.varint(r.viewId).u8(r.status).bool(r.probe).varint(r.round);
      return;
    case 'submit':
      w.varint(r.viewId).varint(r.firstOriginSeq).varint(r.payloads.length);
      for (const p of r.payloads) w.bytes(p);
      return;
    case 'submitAck':
      w.varint(r.viewId).varint(r.inc).varint(r.accepted);
      return;
    case 'order':
      w.varint(r.viewId).varint(r.firstSeq).varint(r.stable).varint(r.gc).varint(r.entries.length);
      for (const e of r.entries) writeEntry(w, e);
      return;
    case 'ack':
      w.varint(r.viewId).varint(r.received).varint(r.delivered);
      return;
    case 'stable':
      w.varint(r.viewId).varint(r.high).varint(r.stable).varint(r.gc);
      return;
    case 'nak':
      w.varint(r.viewId).varint(r.from).varint(r.to);
      return;
    case 'prepare':
      writeBallot(w, r.ballot);
      return;
    case 'promise':
      writeBallot(w, r.ballot);
      writeReport(w, r.report);
      return;
    case 'reject':
      writeBallot(w, r.ballot);
      writeBallot(w, r.promised);
      return;
    case 'accept':
      writeBallot(w, r.ballot);
      w.varint(r.toInc);
      writeProposal(w, r.proposal);
      writeSeqEntries(w, r.prefix);
      return;
    case 'accepted':
      writeBallot(w, r.ballot);
      return;
    case 'commit':
      writeProposal(w, r.proposal);
      writeBallot(w, r.ballot);
      return;
    case 'change':
      w.varint(r.viewId);
      return;
    case 'stateReq':
      w.varint(r.viewId).varint(r.offset);
      return;
    case 'stateChunk':
      w.varint(r.viewId).varint(r.total).varint(r.offset).bytes(r.data);
      return;
  }
}

/** Encodes a whole record (type and fields). */
export function encodeRecord(r: WireRecord): Uint8Array {
  const w = new BodyWriter(r.kind === 'order' || r.kind === 'submit' ? 1024 : 32).u8(TYPE[r.kind]);
  encodeRecordBody(r, w);
  return w.finish();
}

/** Builds a frame from encoded records. */
export function encodeFrame(inc: number, records: readonly Uint8Array[]): Uint8Array {
  let size = 12;
  for (const r of records) size += r.length;
  const w = new BodyWriter(size);
  w.u8(WIRE_VERSION).varint(inc);
  for (const r of records) w.raw(r);
  return w.finish();
}

/** A decoded frame. */
export interface Frame {
  /** The sender's incarnation. */
  readonly inc: number;
  /** Its records, in order. */
  readonly records: WireRecord[];
}

/**
 * Decodes a frame from a group of `memberCount` members. Throws `MalformedFrameError` (or
 * `UnsupportedVersionError`) naming what was wrong; nothing of a bad frame is used.
 */
export function decodeFrame(bytes: Uint8Array, memberCount: number): Frame {
  const r = new BodyReader(bytes, 'sequencer frame');
  const version = r.u8('version');
  if (version !== WIRE_VERSION)
    throw new UnsupportedVersionError(`sequencer frame version ${version}, expected ${WIRE_VERSION}`);
  const inc = r.varint('incarnation');
  const records: WireRecord[] = [];
  while (r.remaining > 0) records.push(decodeRecord(r.u8('record type'), r, memberCount));
  return { inc, records };
}

/** A varint that must not exceed `max`. */
function bounded(r: BodyReader, max: number, field: string): number {
  const v = r.varint(field);
  if (v > max) throw new MalformedFrameError(`sequencer frame: ${field} ${v} out of range (max ${max})`);
  return v;
}

/** A length-prefixed payload, copied so the frame can be released. */
function payload(r: BodyReader, field = 'payload'): Uint8Array {
  return r.bytes(field).slice();
}

function decodeRecord(type: number, r: BodyReader, n: number): WireRecord {
  switch (type) {
    case TYPE.hb: {
      const viewId = r.varint('view');
      const status = bounded(r, 3, 'status') as StatusCode;
      const probe = r.bool('probe');
      return { kind: 'hb', viewId, status, probe, round: r.varint('round') };
    }
    case TYPE.submit: {
      const viewId = r.varint('view');
      const firstOriginSeq = r.varint('first origin seq');
      const count = bounded(r, r.remaining, 'submit count');
      const payloads: Uint8Array[] = [];
      for (let i = 0; i < count; i++) payloads.push(payload(r));
      return { kind: 'submit', viewId, firstOriginSeq, payloads };
    }
    case TYPE.submitAck:
      return { kind: 'submitAck', viewId: r.varint('view'), inc: r.varint('inc'), accepted: r.varint('accepted') };
    case TYPE.order: {
      const viewId = r.varint('view');
      const firstSeq = r.varint('first seq');
      const stable = r.varint('stable');
      const gc = r.varint('gc');
      const count = bounded(r, r.remaining, 'order count');
      const entries: Entry[] = [];
      for (let i = 0; i < count; i++) entries.push(readEntry(r, n));
      return { kind: 'order', viewId, firstSeq, stable, gc, entries };
    }
    case TYPE.ack:
      return {
        kind: 'ack',
        viewId: r.varint('view'),
        received: r.varint('received'),
        delivered: r.varint('delivered'),
      };
    case TYPE.stable:
      return {
        kind: 'stable',
        viewId: r.varint('view'),
        high: r.varint('high'),
        stable: r.varint('stable'),
        gc: r.varint('gc'),
      };
    case TYPE.nak:
      return { kind: 'nak', viewId: r.varint('view'), from: r.varint('from'), to: r.varint('to') };
    case TYPE.prepare:
      return { kind: 'prepare', ballot: readBallot(r, n) };
    case TYPE.promise:
      return { kind: 'promise', ballot: readBallot(r, n), report: readReport(r, n) };
    case TYPE.reject:
      return { kind: 'reject', ballot: readBallot(r, n), promised: readBallot(r, n) };
    case TYPE.accept: {
      const ballot = readBallot(r, n);
      const toInc = r.varint('to incarnation');
      const proposal = readProposal(r, n);
      return { kind: 'accept', ballot, toInc, proposal, prefix: readSeqEntries(r, n) };
    }
    case TYPE.accepted:
      return { kind: 'accepted', ballot: readBallot(r, n) };
    case TYPE.commit:
      return { kind: 'commit', proposal: readProposal(r, n), ballot: readBallot(r, n) };
    case TYPE.change:
      return { kind: 'change', viewId: r.varint('view') };
    case TYPE.stateReq:
      return { kind: 'stateReq', viewId: r.varint('view'), offset: r.varint('offset') };
    case TYPE.stateChunk:
      return {
        kind: 'stateChunk',
        viewId: r.varint('view'),
        total: r.varint('total'),
        offset: r.varint('offset'),
        data: payload(r, 'data'),
      };
    default:
      throw new MalformedFrameError(`unknown sequencer record type ${type}`);
  }
}

function writeBallot(w: BodyWriter, b: Ballot): void {
  w.varint(b.round).varint(b.rank);
}

function readBallot(r: BodyReader, n: number): Ballot {
  return { round: r.varint('ballot round'), rank: bounded(r, Math.max(0, n - 1), 'ballot rank') };
}

function writeEntry(w: BodyWriter, e: Entry): void {
  w.varint(e.origin).varint(e.inc).varint(e.originSeq).bytes(e.payload);
}

function readEntry(r: BodyReader, n: number): Entry {
  return {
    origin: bounded(r, n - 1, 'origin rank'),
    inc: r.varint('origin incarnation'),
    originSeq: r.varint('origin seq'),
    payload: payload(r),
  };
}

function writeSeqEntries(w: BodyWriter, entries: readonly SeqEntry[]): void {
  w.varint(entries.length);
  for (const e of entries) {
    w.varint(e.seq);
    writeEntry(w, e);
  }
}

function readSeqEntries(r: BodyReader, n: number): SeqEntry[] {
  const count = bounded(r, r.remaining, 'entry count');
  const out: SeqEntry[] = [];
  for (let i = 0; i < count; i++) {
    const seq = r.varint('seq');
    out.push({ seq, ...readEntry(r, n) });
  }
  return out;
}

function writeProposal(w: BodyWriter, p: Proposal): void {
  w.varint(p.viewId);
  writeBallot(w, p.tag);
  w.varint(p.baseId);
  writeBallot(w, p.baseTag);
  w.varint(p.cut).varint(p.members.length);
  for (const m of p.members) w.varint(m.rank).varint(m.inc);
  w.varint(p.joiners.length);
  for (const j of p.joiners) w.varint(j);
  w.varint(p.provider + 1).bool(p.primary);
}

function readProposal(r: BodyReader, n: number): Proposal {
  const viewId = r.varint('proposal view');
  const tag = readBallot(r, n);
  const baseId = r.varint('proposal base view');
  const baseTag = readBallot(r, n);
  const cut = r.varint('proposal cut');
  const count = bounded(r, n, 'member count');
  const members: MemberRef[] = [];
  for (let i = 0; i < count; i++) {
    const rank = bounded(r, n - 1, 'member rank');
    if (members.length && members[members.length - 1]!.rank >= rank)
      throw new MalformedFrameError('sequencer frame: proposal members out of rank order');
    members.push({ rank, inc: r.varint('member incarnation') });
  }
  const jc = bounded(r, n, 'joiner count');
  const joiners: number[] = [];
  for (let i = 0; i < jc; i++) joiners.push(bounded(r, n - 1, 'joiner rank'));
  const provider = bounded(r, n, 'provider') - 1;
  const primary = r.bool('primary');
  if (viewId <= baseId)
    throw new MalformedFrameError(`sequencer frame: proposal for view ${viewId} follows view ${baseId}`);
  return { viewId, tag, baseId, baseTag, cut, members, joiners, provider, primary };
}

function writeReport(w: BodyWriter, rep: Report): void {
  w.bool(rep.installed !== undefined);
  if (rep.installed) writeProposal(w, rep.installed);
  w.bool(rep.hasState).varint(rep.delivered).varint(rep.received).varint(rep.stableKnown).varint(rep.acked);
  writeSeqEntries(w, rep.entries);
  w.varint(rep.accepted.length);
  for (const a of rep.accepted) {
    writeBallot(w, a.ballot);
    writeProposal(w, a.proposal);
    writeSeqEntries(w, a.prefix);
  }
}

function readReport(r: BodyReader, n: number): Report {
  const installed = r.bool('installed') ? readProposal(r, n) : undefined;
  const hasState = r.bool('has state');
  const delivered = r.varint('delivered');
  const received = r.varint('received');
  const stableKnown = r.varint('stable');
  const acked = r.varint('acked');
  const entries = readSeqEntries(r, n);
  const count = bounded(r, r.remaining, 'accepted count');
  const accepted: AcceptedProposal[] = [];
  for (let i = 0; i < count; i++)
    accepted.push({ ballot: readBallot(r, n), proposal: readProposal(r, n), prefix: readSeqEntries(r, n) });
  return { installed, hasState, delivered, received, stableKnown, acked, entries, accepted };
}

/** The ballot below every real one (no promise yet; the tag of no view). */
export const ZERO_BALLOT: Ballot = Object.freeze({ round: 0, rank: 0 });

/** Compares ballots: negative if `a` is lower. */
export function compareBallots(a: Ballot, b: Ballot): number {
  return a.round - b.round || a.rank - b.rank;
}

/** Whether two ballots are the same. */
export function sameBallot(a: Ballot, b: Ballot): boolean {
  return a.round === b.round && a.rank === b.rank;
}

// The state a provider sends a joiner: the de-duplication table at the cut, then the application's
// snapshot. The table travels with the state so the joiner can become sequencer and can tell which
// of its own pending broadcasts the group already delivered.

/** Per-origin delivery record, part of the replicated state. */
export interface OriginRecord {
  /** Incarnation of the last delivered message from this origin. */
  readonly inc: number;
  /** Its `originSeq`. */
  readonly originSeq: number;
  /** The most recent deliveries from this origin: `[inc, originSeq, view, seq]`, oldest first. */
  readonly recent: readonly (readonly [number, number, number, number])[];
}

/** Encodes a state-transfer snapshot. */
export function encodeSnapshot(table: ReadonlyMap<number, OriginRecord>, app: Uint8Array): Uint8Array {
  const w = new BodyWriter(64 + app.length);
  w.varint(table.size);
  for (const [rank, rec] of table) {
    w.varint(rank).varint(rec.inc).varint(rec.originSeq).varint(rec.recent.length);
    for (const [i, o, v, s] of rec.recent) w.varint(i).varint(o).varint(v).varint(s);
  }
  w.bytes(app);
  return w.finish();
}

/** Decodes a state-transfer snapshot. */
export function decodeSnapshot(
  bytes: Uint8Array,
  memberCount: number,
): { table: Map<number, OriginRecord>; app: Uint8Array } {
  const r = new BodyReader(bytes, 'state snapshot');
  const count = bounded(r, memberCount, 'origin count');
  const table = new Map<number, OriginRecord>();
  for (let i = 0; i < count; i++) {
    const rank = bounded(r, memberCount - 1, 'origin rank');
    const inc = r.varint('origin incarnation');
    const originSeq = r.varint('origin seq');
    const rc = bounded(r, r.remaining, 'recent count');
    const recent: [number, number, number, number][] = [];
    for (let j = 0; j < rc; j++)
      recent.push([
        r.varint('recent inc'),
        r.varint('recent origin seq'),
        r.varint('recent view'),
        r.varint('recent seq'),
      ]);
    table.set(rank, { inc, originSeq, recent });
  }
  const app = payload(r, 'application state');
  r.end();
  return { table, app };
}
