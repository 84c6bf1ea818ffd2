import type { RecoveryMode } from '../../config/stack';
import { RecoveryStateError, VclError } from '../../errors';
import { BodyReader, BodyWriter, concatBytes } from '../../link/body';
import { readId as id } from '../fields';
import type { CloseReason, SessionId } from '../session-events';
import type { SessionRecord } from '../session-table';

/** The replicated session table at one point of the total order. */
export interface TableState {
  /** Open sessions, in opening order. */
  readonly sessions: readonly SessionRecord[];
  /** Remembered closed sessions, oldest first. */
  readonly closed: readonly (readonly [SessionId, CloseReason])[];
  /**
   * Requests applied over all sessions up to this point (`SessionTable.requestsApplied`): where the
   * state digests fall. Absent means 0 when encoding; decoded from a version-1 state it is absent
   * unless the table is the initial one (base 0), i.e. unknown.
   */
  readonly requests?: number;
}

/** One numbered chunk of cached output. */
export interface CachedChunk {
  /** Position of the first unit. */
  readonly from: number;
  /** Position after the last unit. */
  readonly to: number;
  /** The output bytes. */
  readonly bytes: Uint8Array;
}

/** One session's output cache (and service conversation state) at one point of the total order. */
export interface CacheState {
  /** The session. */
  readonly session: SessionId;
  /** Units the service produced so far. */
  readonly produced: number;
  /** Highest acknowledgement applied. */
  readonly acked: number;
  /** Output position at which the service ended the conversation, if it did. */
  readonly endedAt?: number;
  /** Unacknowledged output, in order. */
  readonly chunks: readonly CachedChunk[];
}

/** One ordered session event of a replay log. */
export interface LoggedEvent {
  /** Its position in the total order. */
  readonly seq: number;
  /** The ordered payload (an encoded session event), unchanged. */
  readonly payload: Uint8Array;
}

/**
 * What a member ships to a joiner: the VCL state at `base` (session table, output caches and, in
 * `snapshot` mode, the service's own snapshot) and the ordered events `base + 1 .. cut` that the
 * joiner replays on top (`replay` mode).
 */
export interface RecoveryState {
  /** The donor's recovery mode; the joiner refuses a state of another mode. */
  readonly mode: RecoveryMode;
  /** The cut of the joiner's first view: the last delivery the state covers. */
  readonly cut: number;
  /** The delivery the table, caches and service snapshot reflect (`cut` in `snapshot` mode, 0 without a base). */
  readonly base: number;
  /** Session table at `base`. */
  readonly table: TableState;
  /** Output caches at `base`. */
  readonly caches: readonly CacheState[];
  /** The service's state at `base` (`snapshot` mode), as `service.snapshot.save` printed it. */
  readonly service?: Uint8Array;
  /** Events `base + 1 .. cut`, in order (`replay` mode). */
  readonly log: readonly LoggedEvent[];
}

const MAGIC = 0x52; // 'R'
// Version 2 adds the table's request count after the closed sessions; version 3 a flags byte per
// session (its input ended; it names a substrate, which follows). Versions 1 and 2 still decode.
const VERSION = 3;
const MODES: readonly RecoveryMode[] = ['none', 'replay', 'snapshot'];
const REASONS: readonly CloseReason[] = ['client', 'expired', 'denied', 'error', 'overflow'];
const INPUT_ENDED = 1;
const HAS_SUBSTRATE = 2;

/** Encodes one replay-log record (`seq`, payload): the unit of the on-disk log and of `log` in a state. */
export function encodeLogRecord(event: LoggedEvent): Uint8Array {
  return new BodyWriter(event.payload.length + 16).varint(event.seq).bytes(event.payload).finish();
}

/** Encodes a recovery state for state transfer. */
export function encodeRecoveryState(state: RecoveryState, rawLog?: Uint8Array): Uint8Array {
  const logBytes = rawLog ?? concatBytes(state.log.map(encodeLogRecord));
  const w = new BodyWriter(1024 + logBytes.length + (state.service?.length ?? 0));
  w.u8(MAGIC).u8(VERSION).u8(MODES.indexOf(state.mode)).varint(state.cut).varint(state.base);
  w.varint(state.table.sessions.length);
  for (const s of state.table.sessions) {
    w.string(s.id)
      .string(s.principal)
      .string(s.attached)
      .varint(s.lastInSeq)
      .varint(s.ackedOut)
      .varint(s.openedAt)
      .varint(s.lastEventAt)
      .u8((s.inputEnded ? INPUT_ENDED : 0) | (s.substrate !== undefined ? HAS_SUBSTRATE : 0));
    if (s.substrate !== undefined) w.string(s.substrate);
  }
  w.varint(state.table.closed.length);
  for (const [sid, reason] of state.table.closed) w.string(sid).u8(REASONS.indexOf(reason));
  w.varint(state.table.requests ?? 0);
  w.varint(state.caches.length);
  for (const c of state.caches) {
    w.string(c.session)
      .varint(c.produced)
      .varint(c.acked)
      .varint(c.endedAt === undefined ? 0 : c.endedAt + 1);
    w.varint(c.chunks.length);
    for (const k of c.chunks) w.varint(k.from).varint(k.to).bytes(k.bytes);
  }
  w.bool(state.service !== undefined);
  if (state.service) w.bytes(state.service);
  w.bytes(logBytes);
  return w.finish();
}

/**
 * Decodes a recovery state; throws `RecoveryStateError` naming what is wrong (bad magic, version,
 * a field out of range, events out of order or outside `base + 1 .. cut`).
 */
export function decodeRecoveryState(bytes: Uint8Array): RecoveryState {
  try {
    return decode(bytes);
  } catch (error) {
    if (error instanceof RecoveryStateError) throw error;
    throw new RecoveryStateError(`recovery state: ${(error as Error).message}`, { cause: error });
  }
}

/** Decodes concatenated replay-log records; throws `RecoveryStateError` on a torn or bad record. */
export function decodeLogRecords(bytes: Uint8Array, what = 'replay log'): LoggedEvent[] {
  const r = new BodyReader(bytes, what);
  const out: LoggedEvent[] = [];
  try {
    while (r.remaining > 0) {
      const seq = r.varint('seq');
      const payload = r.bytes('payload');
      const prev = out[out.length - 1];
      if (prev && seq <= prev.seq) throw new RecoveryStateError(`${what}: event ${seq} after event ${prev.seq}`);
      out.push({ seq, payload });
    }
  } catch (error) {
    if (error instanceof RecoveryStateError) throw error;
    throw new RecoveryStateError(`${what}: ${(error as VclError).message}`, { cause: error });
  }
  return out;
}

function decode(bytes: Uint8Array): RecoveryState {
  const r = new BodyReader(bytes, 'recovery state');
  const magic = r.u8('magic');
  if (magic !== MAGIC) throw new RecoveryStateError(`recovery state: bad magic 0x${magic.toString(16)}`);
  const version = r.u8('version');
  if (version < 1 || version > VERSION)
    throw new RecoveryStateError(`recovery state: version ${version}, this build reads 1 to ${VERSION}`);
  const modeCode = r.u8('mode');
  const mode = MODES[modeCode];
  if (mode === undefined) throw new RecoveryStateError(`recovery state: unknown mode ${modeCode}`);
  const cut = r.varint('cut');
  const base = r.varint('base');
  if (base > cut) throw new RecoveryStateError(`recovery state: base ${base} is after the cut ${cut}`);
  const sessions: SessionRecord[] = [];
  for (let i = r.varint('sessions'); i > 0; i--) {
    let s: SessionRecord = {
      id: id(r, 'session'),
      principal: id(r, 'principal'),
      attached: id(r, 'attached'),
      lastInSeq: r.varint('lastInSeq'),
      ackedOut: r.varint('ackedOut'),
      openedAt: r.varint('openedAt'),
      lastEventAt: r.varint('lastEventAt'),
    };
    if (version >= 3) {
      const flags = r.u8('session flags');
      if (flags & HAS_SUBSTRATE) s = { ...s, substrate: id(r, 'substrate') };
      if (flags & INPUT_ENDED) s.inputEnded = true;
    }
    if (s.openedAt > base || s.lastEventAt > base || s.lastEventAt < s.openedAt)
      throw new RecoveryStateError(
        `recovery state: session ${s.id} has events at ${s.openedAt}..${s.lastEventAt}, outside 1..${base}`,
      );
    sessions.push(s);
  }
  const closed: [SessionId, CloseReason][] = [];
  for (let i = r.varint('closed'); i > 0; i--) {
    const sid = id(r, 'closed session');
    const code = r.u8('close reason');
    const reason = REASONS[code];
    if (reason === undefined) throw new RecoveryStateError(`recovery state: unknown close reason ${code}`);
    closed.push([sid, reason]);
  }
  // A version-1 table carries no request count: known only for the initial table (base 0).
  const requests = version >= 2 ? r.varint('requests') : base === 0 ? 0 : undefined;
  const open = new Set(sessions.map((s) => s.id));
  if (open.size !== sessions.length) throw new RecoveryStateError('recovery state: a session is listed twice');
  const caches: CacheState[] = [];
  for (let i = r.varint('caches'); i > 0; i--) {
    const session = id(r, 'cache session');
    if (!open.has(session))
      throw new RecoveryStateError(`recovery state: cache of session ${session}, which is not open`);
    const produced = r.varint('produced');
    const acked = r.varint('acked');
    const ended = r.varint('endedAt');
    const chunks: CachedChunk[] = [];
    let at = acked;
    for (let j = r.varint('chunks'); j > 0; j--) {
      const from = r.varint('from');
      const to = r.varint('to');
      const data = r.bytes('chunk').slice();
      if (from < at || to <= from || to > produced)
        throw new RecoveryStateError(
          `recovery state: session ${session}: chunk ${from}..${to} out of order (after ${at}, produced ${produced})`,
        );
      at = to;
      chunks.push({ from, to, bytes: data });
    }
    caches.push({ session, produced, acked, ...(ended ? { endedAt: ended - 1 } : {}), chunks });
  }
  const service = r.bool('has service state') ? r.bytes('service state').slice() : undefined;
  const log = decodeLogRecords(r.bytes('log').slice(), 'recovery state log');
  r.end();
  // In order (decodeLogRecords checks it) and within base + 1 .. cut; not necessarily gap-free, as
  // an ordering shared with dependent-service calls delivers those events elsewhere.
  const outside = log.find((e) => e.seq <= base || e.seq > cut);
  if (outside)
    throw new RecoveryStateError(`recovery state: log event ${outside.seq} outside ${base + 1}..${cut} (base ${base})`);
  return {
    mode,
    cut,
    base,
    table: { sessions, closed, ...(requests !== undefined ? { requests } : {}) },
    caches,
    ...(service ? { service } : {}),
    log,
  };
}
