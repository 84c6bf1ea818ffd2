import { MalformedFrameError, UnsupportedVersionError } from '@vcl/core';
import { Reader, Writer } from './codec';

// The sequencer's wire format. A frame is `version | sender incarnation | record*`, each record
// `type | body length | body`, so one network message carries many piggybacked records (an ORDER
// batch, the acknowledgement watermarks, a heartbeat). Members are named by their rank in the
// configured member list.

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
  /** The new view's id (= base id + 1). */
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

/** What a member tells a coordinator when it promises a ballot. */
export interface Report {
  /** Installed view id (0: none) and its tag. */
  readonly viewId: number;
  readonly viewTag: Ballot;
  /** Whether it holds the application state of its installed view. */
  readonly hasState: boolean;
  readonly delivered: number;
  /** Highest contiguous sequence number held in its installed view. */
  readonly received: number;
  /** Highest sequence number it knows to be held by every member. */
  readonly stableKnown: number;
  /** Held messages above `stableKnown`. */
  readonly entries: readonly SeqEntry[];
  /** The last proposal it accepted, if any, with the ballot it accepted it under. */
  readonly accepted?: { readonly ballot: Ballot; readonly proposal: Proposal };
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
  | { kind: 'commit'; proposal: Proposal }
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

/** Encodes one record body (without its type and length). */
export function encodeRecordBody(r: WireRecord, w: Writer): void {
  switch (r.kind) {
    case 'hb':
      w.uint(r.viewId)
        .u8(r.status)
        .u8(r.probe ? 1 : 0)
        .uint(r.round);
      return;
    case 'submit':
      w.uint(r.viewId).uint(r.firstOriginSeq).uint(r.payloads.length);
      for (const p of r.payloads) w.bytes(p);
      return;
    case 'submitAck':
      w.uint(r.viewId).uint(r.inc).uint(r.accepted);
      return;
    case 'order':
      w.uint(r.viewId).uint(r.firstSeq).uint(r.stable).uint(r.gc).uint(r.entries.length);
      for (const e of r.entries) writeEntry(w, e);
      return;
    case 'ack':
      w.uint(r.viewId).uint(r.received).uint(r.delivered);
      return;
    case 'stable':
      w.uint(r.viewId).uint(r.high).uint(r.stable).uint(r.gc);
      return;
    case 'nak':
      w.uint(r.viewId).uint(r.from).uint(r.to);
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
      w.uint(r.toInc);
      writeProposal(w, r.proposal);
      writeSeqEntries(w, r.prefix);
      return;
    case 'accepted':
      writeBallot(w, r.ballot);
      return;
    case 'commit':
      writeProposal(w, r.proposal);
      return;
    case 'change':
      w.uint(r.viewId);
      return;
    case 'stateReq':
      w.uint(r.viewId).uint(r.offset);
      return;
    case 'stateChunk':
      w.uint(r.viewId).uint(r.total).uint(r.offset).bytes(r.data);
      return;
  }
}

/** Encodes a whole record (type, length, body). */
export function encodeRecord(r: WireRecord): Uint8Array {
  const body = new Writer(r.kind === 'order' || r.kind === 'submit' ? 1024 : 64);
  encodeRecordBody(r, body);
  const bytes = body.finish();
  const w = new Writer(bytes.length + 10);
  w.u8(TYPE[r.kind]).uint(bytes.length).raw(bytes);
  return w.finish();
}

/** Builds a frame from encoded records. */
export function encodeFrame(inc: number, records: readonly Uint8Array[]): Uint8Array {
  let size = 12;
  for (const r of records) size += r.length;
  const w = new Writer(size);
  w.u8(WIRE_VERSION).uint(inc);
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
  const r = new Reader(bytes);
  const version = r.u8();
  if (version !== WIRE_VERSION)
    throw new UnsupportedVersionError(`sequencer frame version ${version}, expected ${WIRE_VERSION}`);
  const inc = r.uint();
  const records: WireRecord[] = [];
  while (!r.done) {
    const type = r.u8();
    const len = r.uint();
    const body = r.sub(len);
    records.push(decodeRecord(type, body, memberCount));
    if (!body.done) throw new MalformedFrameError(`record type ${type} has ${body.remaining} trailing bytes`);
  }
  return { inc, records };
}

function decodeRecord(type: number, r: Reader, n: number): WireRecord {
  switch (type) {
    case TYPE.hb: {
      const viewId = r.uint();
      const status = r.uintMax(3, 'status') as StatusCode;
      const probe = r.u8() === 1;
      return { kind: 'hb', viewId, status, probe, round: r.uint() };
    }
    case TYPE.submit: {
      const viewId = r.uint();
      const firstOriginSeq = r.uint();
      const count = r.uintMax(r.remaining, 'submit count');
      const payloads: Uint8Array[] = [];
      for (let i = 0; i < count; i++) payloads.push(r.bytes());
      return { kind: 'submit', viewId, firstOriginSeq, payloads };
    }
    case TYPE.submitAck:
      return { kind: 'submitAck', viewId: r.uint(), inc: r.uint(), accepted: r.uint() };
    case TYPE.order: {
      const viewId = r.uint();
      const firstSeq = r.uint();
      const stable = r.uint();
      const gc = r.uint();
      const count = r.uintMax(r.remaining, 'order count');
      const entries: Entry[] = [];
      for (let i = 0; i < count; i++) entries.push(readEntry(r, n));
      return { kind: 'order', viewId, firstSeq, stable, gc, entries };
    }
    case TYPE.ack:
      return { kind: 'ack', viewId: r.uint(), received: r.uint(), delivered: r.uint() };
    case TYPE.stable:
      return { kind: 'stable', viewId: r.uint(), high: r.uint(), stable: r.uint(), gc: r.uint() };
    case TYPE.nak:
      return { kind: 'nak', viewId: r.uint(), from: r.uint(), to: r.uint() };
    case TYPE.prepare:
      return { kind: 'prepare', ballot: readBallot(r, n) };
    case TYPE.promise:
      return { kind: 'promise', ballot: readBallot(r, n), report: readReport(r, n) };
    case TYPE.reject:
      return { kind: 'reject', ballot: readBallot(r, n), promised: readBallot(r, n) };
    case TYPE.accept: {
      const ballot = readBallot(r, n);
      const toInc = r.uint();
      const proposal = readProposal(r, n);
      return { kind: 'accept', ballot, toInc, proposal, prefix: readSeqEntries(r, n) };
    }
    case TYPE.accepted:
      return { kind: 'accepted', ballot: readBallot(r, n) };
    case TYPE.commit:
      return { kind: 'commit', proposal: readProposal(r, n) };
    case TYPE.change:
      return { kind: 'change', viewId: r.uint() };
    case TYPE.stateReq:
      return { kind: 'stateReq', viewId: r.uint(), offset: r.uint() };
    case TYPE.stateChunk:
      return { kind: 'stateChunk', viewId: r.uint(), total: r.uint(), offset: r.uint(), data: r.bytes() };
    default:
      throw new MalformedFrameError(`unknown sequencer record type ${type}`);
  }
}

function writeBallot(w: Writer, b: Ballot): void {
  w.uint(b.round).uint(b.rank);
}

function readBallot(r: Reader, n: number): Ballot {
  return { round: r.uint(), rank: r.uintMax(Math.max(0, n - 1), 'ballot rank') };
}

function writeEntry(w: Writer, e: Entry): void {
  w.uint(e.origin).uint(e.inc).uint(e.originSeq).bytes(e.payload);
}

function readEntry(r: Reader, n: number): Entry {
  return { origin: r.uintMax(n - 1, 'origin rank'), inc: r.uint(), originSeq: r.uint(), payload: r.bytes() };
}

function writeSeqEntries(w: Writer, entries: readonly SeqEntry[]): void {
  w.uint(entries.length);
  for (const e of entries) {
    w.uint(e.seq);
    writeEntry(w, e);
  }
}

function readSeqEntries(r: Reader, n: number): SeqEntry[] {
  const count = r.uintMax(r.remaining, 'entry count');
  const out: SeqEntry[] = [];
  for (let i = 0; i < count; i++) {
    const seq = r.uint();
    out.push({ seq, ...readEntry(r, n) });
  }
  return out;
}

function writeProposal(w: Writer, p: Proposal): void {
  w.uint(p.viewId);
  writeBallot(w, p.tag);
  w.uint(p.baseId);
  writeBallot(w, p.baseTag);
  w.uint(p.cut).uint(p.members.length);
  for (const m of p.members) w.uint(m.rank).uint(m.inc);
  w.uint(p.joiners.length);
  for (const j of p.joiners) w.uint(j);
  w.uint(p.provider + 1).u8(p.primary ? 1 : 0);
}

function readProposal(r: Reader, n: number): Proposal {
  const viewId = r.uint();
  const tag = readBallot(r, n);
  const baseId = r.uint();
  const baseTag = readBallot(r, n);
  const cut = r.uint();
  const count = r.uintMax(n, 'member count');
  const members: MemberRef[] = [];
  for (let i = 0; i < count; i++) {
    const rank = r.uintMax(n - 1, 'member rank');
    if (members.length && members[members.length - 1]!.rank >= rank)
      throw new MalformedFrameError('proposal members out of rank order');
    members.push({ rank, inc: r.uint() });
  }
  const jc = r.uintMax(n, 'joiner count');
  const joiners: number[] = [];
  for (let i = 0; i < jc; i++) joiners.push(r.uintMax(n - 1, 'joiner rank'));
  const provider = r.uintMax(n, 'provider') - 1;
  const primary = r.u8() === 1;
  if (viewId !== baseId + 1) throw new MalformedFrameError(`proposal for view ${viewId} follows view ${baseId}`);
  return { viewId, tag, baseId, baseTag, cut, members, joiners, provider, primary };
}

function writeReport(w: Writer, rep: Report): void {
  w.uint(rep.viewId);
  writeBallot(w, rep.viewTag);
  w.u8(rep.hasState ? 1 : 0)
    .uint(rep.delivered)
    .uint(rep.received)
    .uint(rep.stableKnown);
  writeSeqEntries(w, rep.entries);
  if (rep.accepted) {
    w.u8(1);
    writeBallot(w, rep.accepted.ballot);
    writeProposal(w, rep.accepted.proposal);
  } else w.u8(0);
}

function readReport(r: Reader, n: number): Report {
  const viewId = r.uint();
  const viewTag = readBallot(r, n);
  const hasState = r.u8() === 1;
  const delivered = r.uint();
  const received = r.uint();
  const stableKnown = r.uint();
  const entries = readSeqEntries(r, n);
  const accepted = r.u8() === 1 ? { ballot: readBallot(r, n), proposal: readProposal(r, n) } : undefined;
  return { viewId, viewTag, hasState, delivered, received, stableKnown, entries, accepted };
}

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
  const w = new Writer(64 + app.length);
  w.uint(table.size);
  for (const [rank, rec] of table) {
    w.uint(rank).uint(rec.inc).uint(rec.originSeq).uint(rec.recent.length);
    for (const [i, o, v, s] of rec.recent) w.uint(i).uint(o).uint(v).uint(s);
  }
  w.bytes(app);
  return w.finish();
}

/** Decodes a state-transfer snapshot. */
export function decodeSnapshot(
  bytes: Uint8Array,
  memberCount: number,
): { table: Map<number, OriginRecord>; app: Uint8Array } {
  const r = new Reader(bytes);
  const count = r.uintMax(memberCount, 'origin count');
  const table = new Map<number, OriginRecord>();
  for (let i = 0; i < count; i++) {
    const rank = r.uintMax(memberCount - 1, 'origin rank');
    const inc = r.uint();
    const originSeq = r.uint();
    const rc = r.uintMax(r.remaining, 'recent count');
    const recent: [number, number, number, number][] = [];
    for (let j = 0; j < rc; j++) recent.push([r.uint(), r.uint(), r.uint(), r.uint()]);
    table.set(rank, { inc, originSeq, recent });
  }
  const app = r.bytes();
  if (!r.done) throw new MalformedFrameError('state snapshot has trailing bytes');
  return { table, app };
}
