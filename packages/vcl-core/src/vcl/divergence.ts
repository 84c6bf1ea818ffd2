import { createHash, type Hash } from 'node:crypto';
import type { Auditor } from '../contracts/aaa';
import type { Logger } from '../contracts/logger';
import { RateLimitedLog } from '../runtime/rate-limited-log';
import type { MemberId } from '../contracts/network';
import type { View } from '../contracts/ordering';
import type { SessionEvent, SessionId } from './session-events';

// Divergence detection. Active/active replication is only correct for deterministic services, so
// every member hashes its own replica's output per unit (one response of a framed substrate, one
// fixed-size block of a stream) and shares `(session, unit, hash)` in the total order. Because the
// hashes and the views arrive in the same order at every member, every member reaches the same
// verdict at the same point of the order: no extra agreement round is needed, and under
// `onDivergence: evict` the diverged member learns it is the odd one out from the same stream.

/** Bytes of a SHA-256 output kept per unit: 128 bits make an accidental collision irrelevant. */
export const OUTPUT_HASH_BYTES = 16;

/** The hash of one unit of a replica's output: SHA-256, first `OUTPUT_HASH_BYTES` bytes. */
export function outputHash(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest().subarray(0, OUTPUT_HASH_BYTES);
}

/**
 * What the compared units are: responses of a framed substrate, fixed-size blocks of a stream, or
 * the service's state digest after a number of requests of the group (`service.stateDigest`).
 */
export type DivergenceUnit = 'request' | 'block' | 'state';

/**
 * The reserved session id under which state digests travel and are compared (unit number: the
 * requests of the group applied before the digest). Client sessions may not use it.
 */
export const STATE_DIGEST_SESSION = 'vcl:state';

/** Options of divergence detection at one member (`ServiceInterceptorOptions.divergence`). */
export interface DivergenceOptions {
  /**
   * `report`: log, audit, count and show the diverged member, keep serving. `evict`: in addition,
   * the diverged member itself resolves `evicted` so its owner stops it. Default `report`.
   */
  readonly policy?: 'report' | 'evict';
  /** Stream substrates: output is compared in blocks of this many bytes (a trailing partial block is not). Default 4096. */
  readonly streamBlockBytes?: number;
  /** Comparisons held open waiting for hashes; past this the oldest is dropped unchecked. Default 65536. */
  readonly maxOpen?: number;
  /** Hashes carried by one digest event at most. Default 256. */
  readonly maxBatch?: number;
  /** Disagreements without a majority kept for `status()`. Default 16. */
  readonly keepDisagreements?: number;
}

/** A member whose output differs from the majority's. */
export interface DivergenceReport {
  /** The diverged member. */
  readonly member: MemberId;
  /** The session where its output first differed (`vcl:state` for a state digest). */
  readonly session: SessionId;
  /**
   * The unit where it first differed: the request number (`inSeq`), the stream block number (from
   * 1), or for a state digest the number of requests of the group applied before it.
   */
  readonly inSeq: number;
  /** What `inSeq` counts. */
  readonly unit: DivergenceUnit;
  /** The majority's hash (hex). */
  readonly expected: string;
  /** The member's hash (hex). */
  readonly actual: string;
  /** The members whose hashes agree. */
  readonly majority: readonly MemberId[];
  /** Position in the total order where the verdict fell (the same at every member). */
  readonly seq: number;
}

/** Hashes for one unit that differ while no value has a majority (a 2-member group, a tie). */
export interface Disagreement {
  /** The session. */
  readonly session: SessionId;
  /** The unit number. */
  readonly inSeq: number;
  /** Which members reported which hash (hex). */
  readonly groups: readonly { readonly hash: string; readonly members: readonly MemberId[] }[];
  /** Position in the total order where the comparison closed. */
  readonly seq: number;
}

/** One outcome of a comparison. */
export type Verdict =
  ({ readonly kind: 'diverged' } & Omit<DivergenceReport, 'unit'>) | ({ readonly kind: 'undecided' } & Disagreement);

/** Counters of the comparison. */
export interface DivergenceCounters {
  /** Units whose comparison closed (every awaited member reported). */
  compared: number;
  /** Hashes found to differ from the majority. */
  divergentOutputs: number;
  /** Comparisons that closed with differing hashes and no majority. */
  undecided: number;
  /** Comparisons dropped before they closed (`maxOpen`). */
  unchecked: number;
  /** Hashes this member broadcast. */
  hashesSent: number;
  /** Digest events this member broadcast. */
  digestEvents: number;
  /** State digests this member took (`service.stateDigest`). */
  stateDigests: number;
  /** State digests that failed (the command or callback threw); nothing was sent for them. */
  stateDigestErrors: number;
  /** Milliseconds requests were held while state digests were taken (from quiet service to digest read), summed. */
  stateDigestHeldMs: number;
}

interface Comparison {
  readonly session: SessionId;
  readonly inSeq: number;
  /**
   * The view's members when the comparison opened, less those that left the view since: the only
   * members awaited. A member that left and rejoins is a new incarnation that never saw this unit.
   */
  readonly expected: Set<MemberId>;
  readonly hashes: Map<MemberId, string>;
  majority?: string;
}

/**
 * The comparison, a deterministic function of the ordered digests and views it is fed.
 *
 * A comparison for `(session, unit)` opens with the first hash and awaits the members of the view
 * installed at that moment. A value is the majority once it is held by at least a strict majority
 * of the awaited members still in the view and by more members than any other value; every member
 * that reported (or later reports) another value is diverged. A member that leaves the view before
 * reporting is no longer awaited, so a death is never mistaken for a difference. When every awaited
 * member still in the view has reported, the comparison closes; if the hashes differ and no value
 * won (two members, or a tie), it closes `undecided`: reported, nobody named.
 */
export class DivergenceDetector {
  /** Counters. */
  readonly counters = { compared: 0, divergentOutputs: 0, undecided: 0, unchecked: 0 };
  private readonly open = new Map<string, Comparison>();
  private view: ReadonlySet<MemberId>;

  constructor(
    /** The installed view's members. */
    members: readonly MemberId[],
    /** Comparisons held open at most. */
    private readonly maxOpen = 65536,
  ) {
    this.view = new Set(members);
  }

  /** Comparisons waiting for hashes. */
  get pending(): number {
    return this.open.size;
  }

  /** Comparisons of `session` waiting for hashes. */
  pendingOf(session: SessionId): number {
    let n = 0;
    for (const c of this.open.values()) if (c.session === session) n++;
    return n;
  }

  /**
   * Opens the comparison for unit `inSeq` of `session` now, awaiting the installed view's members,
   * instead of at its first hash. State digests open this way at the point of the order they are
   * taken at, so a member that joined after that point is not awaited and does not judge it.
   */
  expect(session: SessionId, inSeq: number): void {
    const key = `${session}\u0000${inSeq}`;
    if (this.open.has(key)) return;
    this.open.set(key, { session, inSeq, expected: new Set(this.view), hashes: new Map() });
    if (this.open.size > this.maxOpen) {
      this.open.delete(this.open.keys().next().value as string);
      this.counters.unchecked++;
    }
  }

  /**
   * `member`'s hash for unit `inSeq` of `session`, delivered at `seq`. Without `opens`, a hash for
   * a comparison that is not open (see `expect`) is ignored.
   */
  record(member: MemberId, session: SessionId, inSeq: number, hash: string, seq: number, opens = true): Verdict[] {
    const key = `${session}\u0000${inSeq}`;
    let c = this.open.get(key);
    if (!c) {
      if (!opens) return [];
      c = { session, inSeq, expected: new Set(this.view), hashes: new Map() };
      this.open.set(key, c);
      if (this.open.size > this.maxOpen) {
        this.open.delete(this.open.keys().next().value as string);
        this.counters.unchecked++;
      }
    }
    if (c.hashes.has(member)) return [];
    c.hashes.set(member, hash);
    const out: Verdict[] = [];
    if (c.majority !== undefined) {
      if (hash !== c.majority) out.push(this.diverged(c, member, seq));
    }
    this.evaluate(key, c, seq, out);
    return out;
  }

  /** A new view: members that left are no longer awaited, which may close comparisons. */
  installView(members: readonly MemberId[], seq: number): Verdict[] {
    this.view = new Set(members);
    const out: Verdict[] = [];
    for (const [key, c] of [...this.open]) {
      for (const m of c.expected) if (!this.view.has(m)) c.expected.delete(m);
      this.evaluate(key, c, seq, out);
    }
    return out;
  }

  private evaluate(key: string, c: Comparison, seq: number, out: Verdict[]): void {
    const awaited = [...c.expected].filter((m) => this.view.has(m));
    if (c.majority === undefined) {
      const counts = new Map<string, number>();
      for (const h of c.hashes.values()) counts.set(h, (counts.get(h) ?? 0) + 1);
      const ranked = [...counts].sort((a, b) => b[1] - a[1]);
      const [best, runnerUp] = ranked;
      const threshold = Math.floor(awaited.length / 2) + 1;
      if (best && best[1] >= threshold && (!runnerUp || best[1] > runnerUp[1])) {
        c.majority = best[0];
        for (const [m, h] of c.hashes) if (h !== c.majority) out.push(this.diverged(c, m, seq));
      }
    }
    if (!awaited.every((m) => c.hashes.has(m))) return;
    this.open.delete(key);
    this.counters.compared++;
    if (c.majority !== undefined || new Set(c.hashes.values()).size <= 1) return;
    this.counters.undecided++;
    const groups = new Map<string, MemberId[]>();
    for (const [m, h] of c.hashes) groups.set(h, [...(groups.get(h) ?? []), m]);
    out.push({
      kind: 'undecided',
      session: c.session,
      inSeq: c.inSeq,
      groups: [...groups].map(([hash, members]) => ({ hash, members })),
      seq,
    });
  }

  private diverged(c: Comparison, member: MemberId, seq: number): Verdict {
    this.counters.divergentOutputs++;
    return {
      kind: 'diverged',
      member,
      session: c.session,
      inSeq: c.inSeq,
      expected: c.majority!,
      actual: c.hashes.get(member)!,
      majority: [...c.hashes].filter(([, h]) => h === c.majority).map(([m]) => m),
      seq,
    };
  }
}

type DigestEvent = Extract<SessionEvent, { type: 'digest' }>;

interface Outgoing {
  readonly queue: { unit: number; hash: Uint8Array }[];
  inFlight: boolean;
}

/**
 * Sends this member's hashes into the total order: at most one digest event per session in flight,
 * and whatever accumulates meanwhile goes out together in the next one. At low load every hash
 * leaves at once (detection within one request); under load the events batch themselves.
 */
export class DigestOutbox {
  private readonly sessions = new Map<SessionId, Outgoing>();
  private closed = false;

  constructor(
    private readonly send: (event: DigestEvent) => Promise<unknown>,
    private readonly maxBatch: number,
    private readonly counters: Pick<DivergenceCounters, 'hashesSent' | 'digestEvents'>,
  ) {}

  /** Queues the hash of unit `unit` of `session`. */
  add(session: SessionId, unit: number, hash: Uint8Array): void {
    if (this.closed) return;
    let o = this.sessions.get(session);
    if (!o) {
      o = { queue: [], inFlight: false };
      this.sessions.set(session, o);
    }
    o.queue.push({ unit, hash });
    if (!o.inFlight) this.flush(session, o);
  }

  /** Sends nothing more. */
  close(): void {
    this.closed = true;
    this.sessions.clear();
  }

  private flush(session: SessionId, o: Outgoing): void {
    if (this.closed) return;
    const first = o.queue[0]!.unit;
    let n = 1;
    while (n < o.queue.length && n < this.maxBatch && o.queue[n]!.unit === first + n) n++;
    const hashes = o.queue.splice(0, n).map((e) => e.hash);
    o.inFlight = true;
    this.counters.digestEvents++;
    this.counters.hashesSent += hashes.length;
    // A refused broadcast (stopping, not in a primary view) loses these hashes: the members that
    // deliver without them stop awaiting this member at the next view, which excludes it.
    const done = (): void => {
      o.inFlight = false;
      if (o.queue.length) this.flush(session, o);
      else if (this.sessions.get(session) === o) this.sessions.delete(session);
    };
    this.send({ type: 'digest', session, first, hashes }).then(done, done);
  }
}

/** Cuts a session's stream output into fixed-size blocks and hashes each complete block. */
class StreamBlocks {
  private block: number;
  private filled = 0;
  /** The output position the next bytes pushed are expected at. */
  next: number;
  /** Bytes still to pass over unhashed: the rest of a block that began before this member hashed. */
  private skip: number;
  private hash: Hash = createHash('sha256');

  /**
   * `offset`: the output position of the first bytes pushed. Blocks are numbered from the start of
   * the session's output, so a member that starts hashing mid-session (a joiner) numbers them as
   * the others do; it passes over a partial first block.
   */
  constructor(
    private readonly size: number,
    offset = 0,
  ) {
    this.next = offset;
    this.block = Math.floor(offset / size) + 1;
    this.skip = offset % size === 0 ? 0 : size - (offset % size);
    if (this.skip) this.block++;
  }

  /** Feeds output bytes; calls `done(block, hash)` for each block completed. */
  push(bytes: Uint8Array, done: (block: number, hash: Uint8Array) => void): void {
    this.next += bytes.length;
    let at = Math.min(this.skip, bytes.length);
    this.skip -= at;
    while (at < bytes.length) {
      const take = Math.min(this.size - this.filled, bytes.length - at);
      this.hash.update(bytes.subarray(at, at + take));
      this.filled += take;
      at += take;
      if (this.filled === this.size) {
        done(this.block++, this.hash.digest().subarray(0, OUTPUT_HASH_BYTES));
        this.hash = createHash('sha256');
        this.filled = 0;
      }
    }
  }
}

/** What `status()` reports about divergence at one member. */
export interface DivergenceStatus {
  /** The policy. */
  readonly policy: 'report' | 'evict';
  /** What is compared: responses or stream blocks. */
  readonly unit: DivergenceUnit;
  /** Every member found diverged, with where it started (its first report). */
  readonly diverged: readonly DivergenceReport[];
  /** The latest disagreements without a majority. */
  readonly disagreements: readonly Disagreement[];
  /** Comparisons waiting for hashes. */
  readonly open: number;
  /** Counters. */
  readonly counters: Readonly<DivergenceCounters>;
  /** State digests, when the service exposes one (`service.stateDigest`). */
  readonly stateDigest?: StateDigestStatus;
}

/** What `status()` reports about state digests at one member. */
export interface StateDigestStatus {
  /** Requests of the group between two digests. */
  readonly every: number;
  /** Requests of the group applied here so far (the count the digest points are taken at). */
  readonly requests: number;
  /** False when this member takes no digests (it joined from a state without the request count). */
  readonly taking: boolean;
  /** State digest comparisons waiting for hashes. */
  readonly open: number;
}

/** Options of a `DivergenceMonitor`. */
export interface DivergenceMonitorOptions extends DivergenceOptions {
  /** This member. */
  readonly self: MemberId;
  /** What the units are: `request` for framed substrates, `block` for streams. */
  readonly unit: DivergenceUnit;
  /** The unit of one session when a member serves several substrates; default `unit` for all. */
  readonly unitOf?: (session: SessionId) => DivergenceUnit;
  /** Puts a digest event into the total order. */
  readonly broadcast: (event: DigestEvent) => Promise<unknown>;
  /** The installed view's members at construction. */
  readonly members: readonly MemberId[];
  /** Where it logs. */
  readonly logger: Logger;
  /** Audit trail. */
  readonly auditor: Auditor;
  /** The highest request number applied in a session (for the report's detection lag). */
  readonly appliedIn: (session: SessionId) => number | undefined;
}

/**
 * One member's divergence detection: hashes its replica's output, shares the hashes in the total
 * order, feeds the ordered hashes of every member to a `DivergenceDetector` and reports verdicts
 * (error log, audit event, counters, status). Under `evict` a verdict against this member resolves
 * `evicted`, once.
 */
export class DivergenceMonitor {
  /** Counters. */
  readonly counters: DivergenceCounters = {
    compared: 0,
    divergentOutputs: 0,
    undecided: 0,
    unchecked: 0,
    hashesSent: 0,
    digestEvents: 0,
    stateDigests: 0,
    stateDigestErrors: 0,
    stateDigestHeldMs: 0,
  };
  /** Resolves when this member is found diverged under the `evict` policy. */
  readonly evicted: Promise<DivergenceReport>;
  private readonly detector: DivergenceDetector;
  private readonly outbox: DigestOutbox;
  private readonly streams = new Map<SessionId, StreamBlocks>();
  /** Sessions whose earlier responses this member never hashed (see `hashedFrom`). */
  private readonly firstHashed = new Map<SessionId, number>();
  private readonly diverged = new Map<MemberId, DivergenceReport>();
  private readonly reported = new Set<string>();
  private readonly disagreements: Disagreement[] = [];
  private readonly policy: 'report' | 'evict';
  private readonly log: Logger;
  /**
   * Reports in the log: each diverged member once per session, each undecided session once, and
   * at most a burst of those per 10 s with a count of the rest (a service whose responses always
   * differ would otherwise write a line per request); the metrics and the audit count every one.
   */
  private readonly rateLog: RateLimitedLog;
  private readonly undecidedSessions = new Set<SessionId>();
  private resolveEvicted!: (report: DivergenceReport) => void;
  private leaving = false;

  constructor(private readonly options: DivergenceMonitorOptions) {
    this.policy = options.policy ?? 'report';
    this.log = options.logger.child({ component: 'divergence' });
    this.rateLog = new RateLimitedLog(this.log);
    this.detector = new DivergenceDetector(options.members, options.maxOpen);
    this.outbox = new DigestOutbox(options.broadcast, options.maxBatch ?? 256, this.counters);
    this.evicted = new Promise((resolve) => (this.resolveEvicted = resolve));
  }

  /**
   * This replica produced `bytes`: the response to request `inSeq`, or (undefined) stream output
   * at output position `offset` (bytes since the session opened; default: right after the last).
   */
  produced(session: SessionId, inSeq: number | undefined, bytes: Uint8Array, offset?: number): void {
    if (this.leaving) return;
    if (inSeq !== undefined) {
      this.outbox.add(session, inSeq, outputHash(bytes));
      return;
    }
    let s = this.streams.get(session);
    // Output not seen here in between (it came with a state transfer, or was replayed unhashed):
    // start again at this position, numbered from the session's start like everyone's.
    if (!s || (offset !== undefined && s.next !== offset)) {
      s = new StreamBlocks(this.options.streamBlockBytes ?? 4096, offset);
      this.streams.set(session, s);
    }
    s.push(bytes, (block, hash) => this.outbox.add(session, block, hash));
  }

  /**
   * This member hashes `session`'s responses from request `inSeq` on (it installed a state with
   * the earlier ones): others' hashes of earlier ones do not open comparisons here, even after the
   * session closed (hashes may be ordered after the close). Set once per session at an install.
   */
  hashedFrom(session: SessionId, inSeq: number): void {
    this.firstHashed.set(session, inSeq);
  }

  /**
   * The request that makes the group's count `requests` was delivered (a state digest point):
   * opens its comparison with the installed view. Called at the same point of the order at every
   * member that delivers it (not while replaying).
   */
  expectState(requests: number): void {
    this.detector.expect(STATE_DIGEST_SESSION, requests);
  }

  /** State digest comparisons waiting for hashes. */
  get openStateComparisons(): number {
    return this.detector.pendingOf(STATE_DIGEST_SESSION);
  }

  /** This replica's state digest after `requests` requests of the group (read in `heldMs`): hashed and shared. */
  stateDigest(requests: number, digest: Uint8Array, heldMs = 0): void {
    if (this.leaving) return;
    this.counters.stateDigests++;
    this.counters.stateDigestHeldMs += heldMs;
    this.outbox.add(STATE_DIGEST_SESSION, requests, outputHash(digest));
  }

  /** Taking the state digest after `requests` failed: nothing is shared (the others stop awaiting this member only at a view change). */
  stateDigestFailed(requests: number, error: Error): void {
    this.counters.stateDigestErrors++;
    this.log.error({ requests, err: error.message }, 'state digest failed; this member sends none for this point');
  }

  /** The session closed here: its partial stream block is never compared. */
  closed(session: SessionId): void {
    this.streams.delete(session);
    this.undecidedSessions.delete(session);
  }

  /** An ordered digest event from `sender`, delivered at `seq`. */
  deliver(sender: MemberId, event: DigestEvent, seq: number): void {
    for (let i = 0; i < event.hashes.length; i++) {
      const hex = Buffer.from(event.hashes[i]!).toString('hex');
      const unit = event.first + i;
      const opens = event.session !== STATE_DIGEST_SESSION && unit >= (this.firstHashed.get(event.session) ?? 0);
      this.verdicts(this.detector.record(sender, event.session, unit, hex, seq, opens));
    }
  }

  /** A view was installed. */
  installView(view: View): void {
    this.verdicts(this.detector.installView(view.members, view.cut));
  }

  /** Stops hashing and sending. */
  stop(): void {
    this.leaving = true;
    this.outbox.close();
    this.rateLog.flush();
  }

  /** A snapshot for `vcl status`. */
  status(): DivergenceStatus {
    Object.assign(this.counters, this.detector.counters);
    return {
      policy: this.policy,
      unit: this.options.unit,
      diverged: [...this.diverged.values()],
      disagreements: [...this.disagreements],
      open: this.detector.pending,
      counters: { ...this.counters },
    };
  }

  private verdicts(verdicts: Verdict[]): void {
    Object.assign(this.counters, this.detector.counters);
    for (const v of verdicts) {
      if (v.kind === 'undecided') this.undecided(v);
      else this.report({ ...v, unit: this.unitOf(v.session) });
    }
  }

  private unitOf(session: SessionId): DivergenceUnit {
    return session === STATE_DIGEST_SESSION ? 'state' : (this.options.unitOf?.(session) ?? this.options.unit);
  }

  private report(v: DivergenceReport & { kind?: string }): void {
    const { kind: _kind, ...report } = v;
    const applied = this.options.appliedIn(report.session);
    const first = `${report.member}\u0000${report.session}`;
    if (this.reported.has(first)) {
      this.log.debug(
        { diverged: report.member, session: report.session, inSeq: report.inSeq },
        'further diverged output',
      );
      return;
    }
    this.reported.add(first);
    if (!this.diverged.has(report.member)) this.diverged.set(report.member, report);
    const { member: diverged, ...where } = report;
    // `member` is the reporting member in every log line of this logger; the culprit is `diverged`.
    this.rateLog.error(
      { diverged, ...where, appliedInSession: applied, policy: this.policy },
      `replica ${report.member} diverged from the majority at ${divergencePoint(report)}`,
      'replica diverged from the majority',
    );
    this.options.auditor.audit({
      type: 'divergence',
      member: this.options.self,
      reason: `member ${report.member} diverged at ${divergencePoint(report)}`,
      details: { ...report, majority: [...report.majority] },
    });
    if (report.member === this.options.self && this.policy === 'evict' && !this.leaving) {
      this.log.error(
        { session: report.session, inSeq: report.inSeq, majority: report.majority },
        'this replica diverged from the majority: leaving the group (onDivergence: evict)',
      );
      this.stop();
      this.resolveEvicted(report);
    }
  }

  private undecided(d: Disagreement): void {
    this.disagreements.push(d);
    if (this.disagreements.length > (this.options.keepDisagreements ?? 16)) this.disagreements.shift();
    const fields = { session: d.session, inSeq: d.inSeq, unit: this.unitOf(d.session), groups: d.groups, seq: d.seq };
    if (this.undecidedSessions.has(d.session)) this.log.debug(fields, 'further undecided output');
    else {
      this.undecidedSessions.add(d.session);
      this.rateLog.error(fields, 'replicas disagree and no majority decides which is right; nobody is evicted');
    }
    this.options.auditor.audit({
      type: 'divergence',
      member: this.options.self,
      reason: `replicas disagree at ${divergencePoint({ ...d, unit: this.unitOf(d.session) })} without a majority`,
      details: { session: d.session, inSeq: d.inSeq, groups: d.groups.map((g) => ({ ...g, members: [...g.members] })) },
    });
  }
}

/**
 * Where a divergence started, in words: `session <id> request 32`, `session <id> block 5`, or
 * `state digest after request 3000` (of the group, for `unit: 'state'`).
 */
export function divergencePoint(at: Pick<DivergenceReport, 'session' | 'unit' | 'inSeq'>): string {
  return at.unit === 'state'
    ? `state digest after request ${at.inSeq}`
    : `session ${at.session} ${at.unit} ${at.inSeq}`;
}
