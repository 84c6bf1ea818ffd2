import { BodyReader, BodyWriter, MalformedFrameError } from '@vcl/core';

// The token ring's wire messages and their binary layouts. Members are named by their index in the
// configured member list, so a message is a handful of varints plus payload bytes.

/** Wire format version; the first byte of every message. */
export const WIRE_VERSION = 1;

/** Ballots are `ringSeq * BALLOT_SPAN + representative index`: unique per (ring seq, representative). */
export const BALLOT_SPAN = 1024;

/** Most members a group may have (ballots reserve 10 bits for the representative's index). */
export const MAX_MEMBERS = BALLOT_SPAN;

/** Message kinds (second byte). */
export enum Kind {
  Join = 1,
  Commit = 2,
  Token = 3,
  Ack = 4,
  Data = 5,
  Want = 6,
  Probe = 7,
  State = 8,
  StateAck = 9,
}

/** Names a ring: its ballot and its representative's incarnation. */
export interface RingKey {
  /** `ringSeq * BALLOT_SPAN + repIndex`; totally orders membership rounds. */
  readonly ballot: number;
  /** Incarnation of the representative that created it. */
  readonly repInc: number;
}

/** A member as a ring lists it: configured index and incarnation. */
export interface MemberRef {
  /** Index in the configured member list. */
  readonly index: number;
  /** The member's `network.incarnation` when it joined the round. */
  readonly inc: number;
}

/** An installed (primary) view as the lineage records it. */
export interface ViewRecord {
  /** View id. */
  readonly id: number;
  /** Ballot of the ring that installed it: the tag of every message stamped in that view. */
  readonly ballot: number;
  /** The view's cut. */
  readonly cut: number;
}

/** A membership decision a member has accepted (the Paxos "accepted value" of its ballot). */
export interface AcceptedPlan {
  /** Ballot of the round that proposed it. */
  readonly ballot: number;
  /** The view whose ring it finishes. */
  readonly base: ViewRecord;
  /** The base ring's messages up to `end` are delivered; later ones are dropped. */
  readonly end: number;
  /** Id of the view it installs. */
  readonly nextId: number;
}

/** What one member reports in the first rotation of a commit token. */
export interface MemberInfo {
  /** Configured index. */
  readonly index: number;
  /** Incarnation. */
  readonly inc: number;
  /** Its installed view; undefined for a member that never installed one in this incarnation. */
  readonly view?: ViewRecord;
  /** Highest seq delivered (0 when fresh). */
  readonly delivered: number;
  /** Its accepted, not yet installed plan, if any. */
  readonly accepted?: AcceptedPlan;
  /** Messages it holds, per ring (its own view's ring, and the ring its accepted plan finishes). */
  readonly holdings: readonly Holding[];
}

/** Messages of one ring a member holds. */
export interface Holding {
  /** Ballot of the ring that stamped them. */
  readonly tag: number;
  /** Seq ranges `[from, to]`, ascending, the lowest first. */
  readonly ranges: readonly (readonly [number, number])[];
}

/** A round's decision, computed by its representative from every member's info. */
export interface Plan {
  /** Whether the new ring is a primary component (installs a view and delivers). */
  readonly primary: boolean;
  /** The view whose ring is finished (genesis: id 0, ballot 0, cut 0). */
  readonly base: ViewRecord;
  /** Lowest seq any transitional member has delivered: recovery covers `(lo, end]`. */
  readonly lo: number;
  /** Last base-ring message delivered; the new view's cut. */
  readonly end: number;
  /** Id of the view the ring installs. */
  readonly nextId: number;
}

/** Membership message of the gather state. */
export interface JoinMsg {
  readonly kind: Kind.Join;
  /** Sender's incarnation. */
  readonly inc: number;
  /** Highest ballot the sender has promised. */
  readonly promised: number;
  /** The sender's gather counter (per incarnation): older gathers' JOINs are ignored. */
  readonly gather: number;
  /** Members the sender wants in the ring, with the incarnations it knows. */
  readonly proc: readonly MemberRef[];
  /** Members the sender has given up on (indexes). */
  readonly fail: readonly number[];
}

/** The commit token: rotation 1 gathers infos, rotation 2 carries the plan. */
export interface CommitMsg {
  readonly kind: Kind.Commit;
  readonly ring: RingKey;
  readonly members: readonly MemberRef[];
  /** 1 or 2. */
  readonly rotation: number;
  /** Hop counter, increasing over both rotations (duplicate detection). */
  readonly hop: number;
  readonly infos: readonly MemberInfo[];
  readonly plan?: Plan;
}

/** The regular token. */
export interface TokenMsg {
  readonly kind: Kind.Token;
  readonly ring: RingKey;
  /** Hop counter (duplicate detection). */
  readonly tokenSeq: number;
  /** 0: recovery, 1: operational. */
  readonly phase: number;
  /** Highest seq stamped in this ring (starts at the view's cut). */
  readonly seq: number;
  /** Per ring member: all-received-up-to (recovery: recovered-up-to), as of its last visit. */
  readonly arus: readonly number[];
  /** Per ring member: delivered-up-to as of its last visit. */
  readonly dlv: readonly number[];
  /** Per ring member: installed and (joiners) state received. */
  readonly ready: readonly boolean[];
  /** Retransmission requests (seqs). */
  readonly rtr: readonly number[];
  /** Per ring member: messages stamped on its last visit (flow control). */
  readonly sent: readonly number[];
  /** Per ring member: its backlog after its last visit (flow control). */
  readonly backlog: readonly number[];
  /** Hops left during which nobody holds the token. */
  readonly hurry: number;
}

/** Hop acknowledgement for a token or commit token. */
export interface AckMsg {
  readonly kind: Kind.Ack;
  readonly ring: RingKey;
  /** 0: regular token, 1: commit token. */
  readonly commit: boolean;
  /** The acknowledged `tokenSeq` or commit `hop`. */
  readonly seq: number;
}

/** One ordered message (original or retransmission). */
export interface DataMsg {
  readonly kind: Kind.Data;
  /** Ballot of the ring that stamped it. */
  readonly tag: number;
  readonly seq: number;
  readonly sender: number;
  readonly senderInc: number;
  /** Sender's per-incarnation broadcast counter (FIFO identity). */
  readonly fifo: number;
  readonly payload: Uint8Array;
}

/** "I have something to send": the holder stops holding the token. */
export interface WantMsg {
  readonly kind: Kind.Want;
  readonly ring: RingKey;
}

/** Merge detection: sent by a ring's representative to configured members outside the ring. */
export interface ProbeMsg {
  readonly kind: Kind.Probe;
  readonly ring: RingKey;
}

/** A chunk of a state-transfer bundle. */
export interface StateMsg {
  readonly kind: Kind.State;
  readonly ring: RingKey;
  readonly chunk: number;
  readonly total: number;
  readonly bytes: Uint8Array;
}

/** Cumulative acknowledgement of state chunks. */
export interface StateAckMsg {
  readonly kind: Kind.StateAck;
  readonly ring: RingKey;
  /** Chunks `0..got-1` received. */
  readonly got: number;
}

/** Every wire message. */
export type WireMsg = JoinMsg | CommitMsg | TokenMsg | AckMsg | DataMsg | WantMsg | ProbeMsg | StateMsg | StateAckMsg;

/** Encodes a message (fields through @vcl/core's link body codec). */
export function encode(msg: WireMsg): Uint8Array {
  const w = new BodyWriter(msg.kind === Kind.Data ? msg.payload.length + 32 : 64);
  w.u8(WIRE_VERSION).u8(msg.kind);
  switch (msg.kind) {
    case Kind.Join:
      w.varint(msg.inc).varint(msg.promised).varint(msg.gather);
      writeRefs(w, msg.proc);
      writeUints(w, msg.fail);
      break;
    case Kind.Commit:
      writeRing(w, msg.ring);
      writeRefs(w, msg.members);
      w.varint(msg.rotation).varint(msg.hop).varint(msg.infos.length);
      for (const info of msg.infos) writeInfo(w, info);
      w.bool(msg.plan !== undefined);
      if (msg.plan) {
        const p = msg.plan;
        w.bool(p.primary);
        writeView(w, p.base);
        w.varint(p.lo).varint(p.end).varint(p.nextId);
      }
      break;
    case Kind.Token:
      writeRing(w, msg.ring);
      w.varint(msg.tokenSeq).varint(msg.phase).varint(msg.seq);
      writeUints(w, msg.arus);
      writeUints(w, msg.dlv);
      w.varint(msg.ready.length);
      for (const r of msg.ready) w.bool(r);
      writeUints(w, msg.rtr);
      writeUints(w, msg.sent);
      writeUints(w, msg.backlog);
      w.varint(msg.hurry);
      break;
    case Kind.Ack:
      writeRing(w, msg.ring);
      w.bool(msg.commit).varint(msg.seq);
      break;
    case Kind.Data:
      w.varint(msg.tag).varint(msg.seq).varint(msg.sender).varint(msg.senderInc).varint(msg.fifo).bytes(msg.payload);
      break;
    case Kind.Want:
    case Kind.Probe:
      writeRing(w, msg.ring);
      break;
    case Kind.State:
      writeRing(w, msg.ring);
      w.varint(msg.chunk).varint(msg.total).bytes(msg.bytes);
      break;
    case Kind.StateAck:
      writeRing(w, msg.ring);
      w.varint(msg.got);
      break;
  }
  return w.finish();
}

/**
 * Decodes a message from a group of `members` configured members; throws `MalformedFrameError`
 * naming what was wrong (truncation, unknown kind or version, member index out of range).
 */
export function decode(bytes: Uint8Array, members: number): WireMsg {
  const r = new BodyReader(bytes, 'token ring message');
  const version = r.u8('version');
  if (version !== WIRE_VERSION) throw new MalformedFrameError(`token ring message: unknown version ${version}`);
  const kind = r.u8('kind');
  let msg: WireMsg;
  switch (kind) {
    case Kind.Join: {
      const inc = r.varint('inc');
      const promised = r.varint('promised');
      const gather = r.varint('gather');
      const proc = readRefs(r, members);
      const fail = readUints(r, members, 'fail');
      for (const f of fail) checkIndex(f, members);
      msg = { kind, inc, promised, gather, proc, fail };
      break;
    }
    case Kind.Commit: {
      const ring = readRing(r);
      const refs = readRefs(r, members);
      const rotation = r.varint('rotation');
      if (rotation !== 1 && rotation !== 2) throw new MalformedFrameError(`token ring message: rotation ${rotation}`);
      const hop = r.varint('hop');
      const n = bounded(r, members, 'info count');
      const infos: MemberInfo[] = [];
      for (let i = 0; i < n; i++) infos.push(readInfo(r, members));
      let plan: Plan | undefined;
      if (r.bool('has plan')) {
        const primary = r.bool('primary');
        const base = readView(r);
        plan = { primary, base, lo: r.varint('lo'), end: r.varint('end'), nextId: r.varint('nextId') };
      }
      msg = { kind, ring, members: refs, rotation, hop, infos, plan };
      break;
    }
    case Kind.Token: {
      const ring = readRing(r);
      const tokenSeq = r.varint('tokenSeq');
      const phase = bounded(r, 1, 'phase');
      const seq = r.varint('seq');
      const arus = readUints(r, members, 'arus');
      const dlv = readUints(r, members, 'dlv');
      const nReady = bounded(r, members, 'ready count');
      const ready: boolean[] = [];
      for (let i = 0; i < nReady; i++) ready.push(r.bool('ready'));
      const rtr = readUints(r, 1 << 16, 'rtr');
      const sent = readUints(r, members, 'sent');
      const backlog = readUints(r, members, 'backlog');
      msg = { kind, ring, tokenSeq, phase, seq, arus, dlv, ready, rtr, sent, backlog, hurry: r.varint('hurry') };
      break;
    }
    case Kind.Ack:
      msg = { kind, ring: readRing(r), commit: r.bool('commit'), seq: r.varint('seq') };
      break;
    case Kind.Data: {
      const tag = r.varint('tag');
      const seq = r.varint('seq');
      const sender = r.varint('sender');
      checkIndex(sender, members);
      const senderInc = r.varint('senderInc');
      const fifo = r.varint('fifo');
      msg = { kind, tag, seq, sender, senderInc, fifo, payload: r.bytes('payload').slice() };
      break;
    }
    case Kind.Want:
    case Kind.Probe:
      msg = { kind, ring: readRing(r) };
      break;
    case Kind.State: {
      const ring = readRing(r);
      msg = { kind, ring, chunk: r.varint('chunk'), total: r.varint('total'), bytes: r.bytes('state').slice() };
      break;
    }
    case Kind.StateAck:
      msg = { kind, ring: readRing(r), got: r.varint('got') };
      break;
    default:
      throw new MalformedFrameError(`token ring message: unknown kind ${kind}`);
  }
  r.end();
  return msg;
}

function bounded(r: BodyReader, max: number, field: string): number {
  const v = r.varint(field);
  if (v > max) throw new MalformedFrameError(`token ring message: ${field} ${v} exceeds ${max}`);
  return v;
}

function checkIndex(index: number, members: number): void {
  if (index >= members)
    throw new MalformedFrameError(`token ring message: member index ${index} of a group of ${members}`);
}

function writeUints(w: BodyWriter, vs: readonly number[]): void {
  w.varint(vs.length);
  for (const v of vs) w.varint(v);
}

function readUints(r: BodyReader, maxCount: number, field: string): number[] {
  const n = bounded(r, Math.min(maxCount, r.remaining), `${field} count`);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = r.varint(field);
  return out;
}

function writeRing(w: BodyWriter, ring: RingKey): void {
  w.varint(ring.ballot).varint(ring.repInc);
}

function readRing(r: BodyReader): RingKey {
  return { ballot: r.varint('ballot'), repInc: r.varint('repInc') };
}

function writeRefs(w: BodyWriter, refs: readonly MemberRef[]): void {
  w.varint(refs.length);
  for (const ref of refs) w.varint(ref.index).varint(ref.inc);
}

function readRefs(r: BodyReader, members: number): MemberRef[] {
  const n = bounded(r, members, 'member count');
  const out: MemberRef[] = [];
  for (let i = 0; i < n; i++) {
    const index = r.varint('member index');
    checkIndex(index, members);
    out.push({ index, inc: r.varint('member inc') });
  }
  return out;
}

function writeView(w: BodyWriter, v: ViewRecord): void {
  w.varint(v.id).varint(v.ballot).varint(v.cut);
}

function readView(r: BodyReader): ViewRecord {
  return { id: r.varint('view id'), ballot: r.varint('view ballot'), cut: r.varint('view cut') };
}

function writeInfo(w: BodyWriter, info: MemberInfo): void {
  w.varint(info.index)
    .varint(info.inc)
    .bool(info.view !== undefined);
  if (info.view) writeView(w, info.view);
  w.varint(info.delivered).bool(info.accepted !== undefined);
  if (info.accepted) {
    const a = info.accepted;
    w.varint(a.ballot);
    writeView(w, a.base);
    w.varint(a.end).varint(a.nextId);
  }
  w.varint(info.holdings.length);
  for (const h of info.holdings) {
    w.varint(h.tag).varint(h.ranges.length);
    for (const [from, to] of h.ranges) w.varint(from).varint(to);
  }
}

function readInfo(r: BodyReader, members: number): MemberInfo {
  const index = r.varint('info index');
  checkIndex(index, members);
  const inc = r.varint('info inc');
  const view = r.bool('has view') ? readView(r) : undefined;
  const delivered = r.varint('delivered');
  let accepted: AcceptedPlan | undefined;
  if (r.bool('has accepted')) {
    const ballot = r.varint('accepted ballot');
    const base = readView(r);
    accepted = { ballot, base, end: r.varint('accepted end'), nextId: r.varint('accepted nextId') };
  }
  const holdings: Holding[] = [];
  const nh = bounded(r, 2, 'holding count');
  for (let h = 0; h < nh; h++) {
    const tag = r.varint('holding tag');
    const n = bounded(r, Math.min(1 << 16, r.remaining), 'range count');
    const ranges: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      const from = r.varint('range from');
      const to = r.varint('range to');
      if (to < from) throw new MalformedFrameError(`token ring message: range [${from}, ${to}]`);
      ranges.push([from, to]);
    }
    holdings.push({ tag, ranges });
  }
  return { index, inc, view, delivered, accepted, holdings };
}
