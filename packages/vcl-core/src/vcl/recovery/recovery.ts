import type { Clock, Timer } from '../../contracts/clock';
import type { Logger } from '../../contracts/logger';
import type { MemberId } from '../../contracts/network';
import type { StateTransfer } from '../../contracts/ordering';
import type { RecoveryMode } from '../../config/stack';
import { RecoveryRefusedError, RecoveryStateError, VclError } from '../../errors';
import { concatBytes } from '../../link/body';
import type { EventLog } from './event-log';
import {
  decodeRecoveryState,
  encodeLogRecord,
  encodeRecoveryState,
  type CacheState,
  type LoggedEvent,
  type RecoveryState,
  type TableState,
} from './recovery-state';
import type { ServiceStateAccess } from './service-state';

/**
 * What the recovery needs from the service-side interceptor: its replicated state, and control of
 * the order in which ordered requests reach the service.
 */
export interface RecoveryHost {
  /**
   * Called exactly at the cut: copies the session table now, and returns a function that reads
   * the output caches of those sessions (call it once the service is quiescent).
   */
  captureTable(): { readonly table: TableState; readonly caches: () => CacheState[] };
  /**
   * Holds every request delivered from now on and resolves once every earlier one has been
   * applied by the service (its response is in the cache). Returns the function that releases them.
   */
  quiesce(): Promise<() => void>;
  /** Replaces the session table and output caches (at a joiner, before any delivery after the cut). */
  restore(table: TableState, caches: readonly CacheState[]): void;
  /**
   * Applies logged events through the normal delivery path (client output and divergence hashes
   * suppressed) and resolves once the service has answered them.
   */
  replay(events: readonly LoggedEvent[]): Promise<void>;
}

/** Where a member stands in its recovery. */
export type RecoveryPhase =
  /** No view yet. */
  | 'starting'
  /** Receiving and installing the group's state; takes no client sessions. */
  | 'catching-up'
  /** Serving. */
  | 'live'
  /** Refused to join (see `error`); the member stops. */
  | 'refused';

/** What `vcl status` shows of the recovery. */
export interface RecoveryStatus {
  /** `service.recovery`. */
  readonly mode: RecoveryMode;
  /** Where the member stands. */
  readonly phase: RecoveryPhase;
  /** The cut of the state this member installed when it joined a running group. */
  readonly joinedAtCut?: number;
  /** Bytes of that state. */
  readonly stateBytes?: number;
  /** Events replayed from it. */
  readonly replayed?: number;
  /** Milliseconds from receiving the state to going live. */
  readonly installMs?: number;
  /** Milliseconds from this member's start to going live after a join. */
  readonly rejoinMs?: number;
  /** States this member captured for joiners. */
  readonly captures: number;
  /** Bytes of the replay log (`replay` mode). */
  readonly logBytes?: number;
  /** The delivery the replay log starts after (its base state's position; 0 before any compaction). */
  readonly logBase?: number;
  /** Compactions of the replay log at this member. */
  readonly compactions?: number;
  /** The last compaction: its base, the log's bytes before and after, and how long deliveries were held. */
  readonly lastCompaction?: CompactionFigures;
  /** Why the last compaction failed (the log was kept whole; it is tried again later). */
  readonly compactionError?: string;
  /** Why the member refused to join. */
  readonly error?: string;
  /** Milliseconds the state install under way has taken so far (while `catching-up`). */
  readonly catchingUpMs?: number;
  /** State transfers this member installed (a rejoin, or a re-admission behind the group). */
  readonly installs: number;
  /** Times this member reported that it cannot catch up (an install past the bound, or re-admitted again and again). */
  readonly catchUpStalls: number;
  /** The last such report, while it holds (cleared once the member stays live). */
  readonly catchUpProblem?: string;
}

/** Figures of one compaction of the replay log. */
export interface CompactionFigures {
  /** The delivery the new base state reflects. */
  readonly base: number;
  /** Log bytes before. */
  readonly bytesBefore: number;
  /** Log bytes after (the events delivered while the snapshot was taken). */
  readonly bytesAfter: number;
  /** Bytes of the base state (session table, caches and the service's snapshot). */
  readonly stateBytes: number;
  /** Milliseconds the service's requests were held (quiescing plus the snapshot). */
  readonly holdMs: number;
}

/** Options of a `Recovery`. */
export interface RecoveryOptions {
  /** This member. */
  readonly self: MemberId;
  /** `service.recovery`. */
  readonly mode: RecoveryMode;
  /** The ordered event log (`replay` mode; required there). */
  readonly log?: EventLog;
  /**
   * `replay` mode: once the log reaches this many bytes, the member takes a snapshot of the service
   * at its latest delivery (`service.save`) and keeps only the events after it. Needs `service.save`
   * and `service.load` and a request-response substrate. Default: never (the log grows).
   */
  readonly compactAtBytes?: number;
  /**
   * Why this member cannot take a state transfer although the mode allows one (e.g. dependent
   * services, whose outbound state is not transferred): an install that would change its state
   * refuses with this message instead of serving a state it cannot keep consistent.
   */
  readonly joinRefusal?: string;
  /** The service's own state: snapshot save/load, reset. */
  readonly service: ServiceStateAccess;
  /** Time (for the figures only). */
  readonly clock: Clock;
  /** Where it logs. */
  readonly logger: Logger;
  /** Called once when the member cannot join (it must stop): `none` mode meeting a running group, a bad state. */
  readonly onFatal?: (error: VclError) => void;
  /**
   * An install running this long is reported (log `cannot catch up with the group`, `/status`
   * `catchUpProblem`, metric), and again every such period while it runs; the install goes on.
   * Default 10 000 ms.
   */
  readonly catchUpReportMs?: number;
}

/**
 * A state transfer begun this soon after the previous one went live means the member was excluded
 * again right after catching up (a member simply faulted again later is not stuck).
 */
const READMIT_SOON_MS = 3000;
/** Such transfers in a row past which the member reports it cannot catch up. */
const READMIT_REPORT = 3;

/**
 * Replica recovery: the state-transfer hook of a service-side interceptor's ordering member.
 *
 * At a member of the previous view, `capture(cut)` runs exactly at the cut: the session table is
 * copied synchronously, and in `snapshot` mode the service is quiesced (requests up to the cut
 * answered, later ones held) before its snapshot and the output caches are taken. In `replay`
 * mode the donor ships its event log up to the cut instead. At the joiner, `install` restores the
 * state (or resets the service and replays the log) before the plugin delivers anything after the
 * cut, so from the cut on the joiner applies the same events as everyone else.
 */
export class Recovery {
  private host: RecoveryHost | undefined;
  private phase: RecoveryPhase = 'starting';
  private readonly startedAt: number;
  private captures = 0;
  private joined: Omit<RecoveryStatus, 'mode' | 'phase' | 'captures' | 'installs' | 'catchUpStalls'> | undefined;
  private error: string | undefined;
  private readonly log: Logger;
  private compacting = false;
  private compactions = 0;
  private lastCompaction: CompactionFigures | undefined;
  private compactionError: string | undefined;
  /** A failed compaction is tried again once the log has grown by a quarter of the bound. */
  private compactRetryAt = 0;
  /** Bumped whenever a state transfer replaces the log, so a compaction begun before it is dropped. */
  private generation = 0;
  private stopped = false;
  private installs = 0;
  /** When the last install went live, and how many installs in a row began soon after the one before. */
  private lastLiveAt: number | undefined;
  private chain = 0;
  private catchingUpSince: number | undefined;
  private catchUpTimer: Timer | undefined;
  private catchUpStalls = 0;
  private catchUpProblem: string | undefined;

  constructor(private readonly options: RecoveryOptions) {
    this.log = options.logger.child({ component: 'recovery' });
    this.startedAt = options.clock.now();
    if (options.mode === 'replay' && !options.log)
      throw new RecoveryStateError('recovery replay needs an event log (service.dataDir)');
    if (options.compactAtBytes !== undefined && !(options.service.save && options.service.load))
      throw new RecoveryStateError('replay log compaction needs the service snapshot save and load');
    options.log?.open();
  }

  /** The state-transfer hook to give the ordering member. */
  readonly transfer: StateTransfer = {
    capture: (cut) => this.capture(cut),
    install: (state, cut) => this.install(state, cut),
  };

  /** Connects the interceptor whose state this recovery transfers. */
  bind(host: RecoveryHost): void {
    this.host = host;
  }

  /** Whether the member may take client sessions. */
  get accepting(): boolean {
    return this.phase === 'live';
  }

  /** Whether the member refused to join: it must apply nothing more. */
  get refused(): boolean {
    return this.phase === 'refused';
  }

  /** A view was installed: a member that started with the group is live at once. */
  viewInstalled(): void {
    if (this.phase === 'starting') this.phase = 'live';
  }

  /** Records a delivery (before it is applied), so the log holds exactly the events up to any cut. */
  delivered(seq: number, payload: Uint8Array): void {
    this.options.log?.append({ seq, payload });
    this.lastDelivered = seq;
  }

  /** The last delivery this member applied (or installed with a state). */
  private lastDelivered = 0;

  /**
   * Delivery `seq` has been applied to the session table (its request may still be queued for the
   * service): the moment to start a compaction at `seq` when the log is over its bound.
   */
  applied(seq: number): void {
    const log = this.options.log;
    const bound = this.options.compactAtBytes;
    if (!log || bound === undefined || this.compacting || this.stopped || this.phase !== 'live') return;
    if (log.bytes < Math.max(bound, this.compactRetryAt) || log.lastSeq !== seq) return;
    void this.compact(seq, log, bound);
  }

  /**
   * Takes the replicated state at `base` exactly as a snapshot capture does (table copied now,
   * service quiesced at `base`, later requests held), makes it the log's base and drops the events
   * up to it. Deliveries after `base` keep being appended meanwhile; they stay in the log.
   */
  private async compact(base: number, log: EventLog, bound: number): Promise<void> {
    const host = this.requireHost();
    const clock = this.options.clock;
    const generation = this.generation;
    const offset = log.bytes;
    const t0 = clock.now();
    this.compacting = true;
    try {
      const at = host.captureTable();
      let service: Uint8Array;
      let caches: CacheState[];
      const release = await host.quiesce();
      try {
        service = await this.options.service.save!();
        caches = at.caches();
      } finally {
        release();
      }
      const holdMs = Math.round(clock.now() - t0);
      if (this.stopped || generation !== this.generation) return;
      const state = encodeRecoveryState({ mode: 'replay', cut: base, base, table: at.table, caches, service, log: [] });
      const bytesBefore = log.bytes;
      log.compact(base, offset, state);
      this.compactions++;
      this.compactionError = undefined;
      this.compactRetryAt = 0;
      this.lastCompaction = { base, bytesBefore, bytesAfter: log.bytes, stateBytes: state.length, holdMs };
      this.log.info({ ...this.lastCompaction, compactMs: Math.round(clock.now() - t0) }, 'replay log compacted');
    } catch (error) {
      if (this.stopped) return;
      // The log is left whole (nothing is lost); it is tried again after some more growth.
      this.compactionError = (error as Error).message;
      this.compactRetryAt = log.bytes + Math.ceil(bound / 4);
      this.log.error(
        { base, err: this.compactionError, retryAtBytes: this.compactRetryAt },
        'replay log compaction failed',
      );
    } finally {
      this.compacting = false;
    }
  }

  /** What `vcl status` shows. */
  status(): RecoveryStatus {
    return {
      mode: this.options.mode,
      phase: this.phase,
      captures: this.captures,
      ...this.joined,
      ...(this.options.log ? { logBytes: this.options.log.bytes, logBase: this.options.log.base } : {}),
      ...(this.options.compactAtBytes !== undefined ? { compactions: this.compactions } : {}),
      ...(this.lastCompaction ? { lastCompaction: this.lastCompaction } : {}),
      ...(this.compactionError ? { compactionError: this.compactionError } : {}),
      ...(this.error ? { error: this.error } : {}),
      ...(this.catchingUpSince !== undefined
        ? { catchingUpMs: Math.round(this.options.clock.now() - this.catchingUpSince) }
        : {}),
      installs: this.installs,
      catchUpStalls: this.catchUpStalls,
      ...(this.catchUpProblem ? { catchUpProblem: this.catchUpProblem } : {}),
    };
  }

  /** Closes the log. */
  stop(): void {
    this.stopped = true;
    this.catchUpTimer?.cancel();
    this.options.log?.close();
  }

  private async capture(cut: number): Promise<Uint8Array> {
    const host = this.requireHost();
    const t0 = this.options.clock.now();
    const mode = this.options.mode;
    let bytes: Uint8Array;
    if (mode === 'none') {
      bytes = encodeRecoveryState({ mode, cut, base: cut, table: { sessions: [], closed: [] }, caches: [], log: [] });
    } else if (mode === 'replay') {
      // Deliveries are logged synchronously before they are applied, and the plugin calls
      // capture at the cut, so the log holds exactly this member's events up to the cut right now
      // (an ordering shared with dependent-service calls delivers those elsewhere: gaps).
      // After a compaction the log starts at a base state: ship it with the events after it (read
      // together, synchronously, so a compaction cannot fall in between).
      const log = this.options.log!;
      if (log.lastSeq > cut) throw new RecoveryStateError(`replay log ends at ${log.lastSeq}, past the cut ${cut}`);
      const base = log.readBase();
      bytes = encodeRecoveryState(
        base
          ? { ...decodeRecoveryState(base), mode, cut, log: [] }
          : { mode, cut, base: 0, table: { sessions: [], closed: [] }, caches: [], log: [] },
        log.read(),
      );
    } else {
      const at = host.captureTable();
      const release = await host.quiesce();
      try {
        const save = this.options.service.save;
        if (!save) throw new RecoveryStateError('recovery snapshot: no snapshot save command or callback');
        const service = await save();
        bytes = encodeRecoveryState({ mode, cut, base: cut, table: at.table, caches: at.caches(), service, log: [] });
      } finally {
        release();
      }
    }
    this.captures++;
    this.log.info(
      { mode, cut, stateBytes: bytes.length, captureMs: Math.round(this.options.clock.now() - t0) },
      'state captured for a joining member',
    );
    return bytes;
  }

  private async install(bytes: Uint8Array, cut: number): Promise<void> {
    this.phase = 'catching-up';
    this.generation++;
    const t0 = this.options.clock.now();
    this.watchCatchUp(cut, bytes.length, t0);
    let outcome: 'joined' | 'kept' | 'caught-up';
    try {
      outcome = await this.apply(bytes, cut);
      this.lastDelivered = cut;
    } catch (error) {
      this.endCatchUp();
      const e =
        error instanceof VclError ? error : new RecoveryStateError(`state install: ${(error as Error).message}`);
      this.phase = 'refused';
      this.error = e.message;
      this.log.error({ cut, code: e.code, err: e.message }, 'cannot join the group');
      this.options.onFatal?.(e);
      throw e;
    }
    const now = this.options.clock.now();
    this.phase = 'live';
    this.endCatchUp();
    if (outcome !== 'kept') this.countInstall(t0, now, cut);
    if (outcome !== 'joined') {
      this.log.info(
        { mode: this.options.mode, cut, stateBytes: bytes.length, installMs: Math.round(now - t0) },
        outcome === 'kept'
          ? 'state transfer at a cut this member already holds: kept its own state'
          : 'caught up with the group by state transfer',
      );
      return;
    }
    // A member that starts with a group that has ordered nothing yet is not a rejoin.
    if (cut === 0) return;
    this.joined = {
      joinedAtCut: cut,
      stateBytes: bytes.length,
      installMs: Math.round(now - t0),
      rejoinMs: Math.round(now - this.startedAt),
      ...(this.replayedCount !== undefined ? { replayed: this.replayedCount } : {}),
    };
    this.log.info({ mode: this.options.mode, ...this.joined }, 'rejoined the group: live');
  }

  private replayedCount: number | undefined;

  /**
   * While a state install runs, reports every `catchUpReportMs` that the member cannot catch up
   * (it takes no sessions meanwhile, and the group waits for it): an operator sees it in the log,
   * `/status` and `/metrics` instead of a member silently behind. The install itself goes on.
   */
  private watchCatchUp(cut: number, stateBytes: number, t0: number): void {
    const every = this.options.catchUpReportMs ?? 10_000;
    this.catchingUpSince = t0;
    this.catchUpTimer?.cancel();
    const tick = (): void => {
      if (this.stopped || this.catchingUpSince !== t0) return;
      const elapsedMs = Math.round(this.options.clock.now() - t0);
      this.catchUpStalls++;
      this.catchUpProblem = `installing the state at cut ${cut} (${stateBytes} bytes) for ${elapsedMs} ms`;
      this.log.warn({ cut, stateBytes, elapsedMs, reason: this.catchUpProblem }, 'cannot catch up with the group');
      this.catchUpTimer = this.options.clock.setTimer(every, tick);
    };
    this.catchUpTimer = this.options.clock.setTimer(every, tick);
  }

  private endCatchUp(): void {
    this.catchUpTimer?.cancel();
    this.catchUpTimer = undefined;
    this.catchingUpSince = undefined;
  }

  /** A member re-admitted again and again (excluded right after each state transfer) says so. */
  private countInstall(began: number, now: number, cut: number): void {
    this.installs++;
    const soon = this.lastLiveAt !== undefined && began - this.lastLiveAt < READMIT_SOON_MS;
    this.chain = soon ? this.chain + 1 : 1;
    this.lastLiveAt = now;
    if (this.chain >= READMIT_REPORT) {
      this.catchUpStalls++;
      this.catchUpProblem =
        `${this.chain} state transfers in a row, each begun within ${READMIT_SOON_MS} ms of going live: ` +
        'excluded again right after each';
      this.log.warn({ cut, installs: this.chain, reason: this.catchUpProblem }, 'cannot catch up with the group');
    } else this.catchUpProblem = undefined;
  }

  /**
   * Installs the state. A plugin may also hand a state to a member that has applied deliveries
   * already (e.g. the token ring, to a member that missed the views in between): by total order
   * its history is a prefix of the donor's, so it keeps its state if it is at the cut, and
   * otherwise applies only what it lacks.
   */
  private async apply(bytes: Uint8Array, cut: number): Promise<'joined' | 'kept' | 'caught-up'> {
    const host = this.requireHost();
    const mode = this.options.mode;
    const had = this.lastDelivered;
    if (had > cut)
      throw new RecoveryStateError(`member ${this.options.self} has applied ${had} events, past the cut ${cut}`);
    if (bytes.length === 0) {
      // A donor without a recovery hook sends nothing: only a group that has ordered nothing yet
      // can be joined that way.
      if (cut === had) return had ? 'kept' : 'joined';
      throw new RecoveryRefusedError(
        `member ${this.options.self}: the group is at ${cut} and sent no state; check that every member runs with the same service.recovery`,
      );
    }
    const state: RecoveryState = decodeRecoveryState(bytes);
    if (state.cut !== cut) throw new RecoveryStateError(`recovery state is at ${state.cut}, the view's cut is ${cut}`);
    if (state.mode !== mode)
      throw new RecoveryRefusedError(
        `member ${this.options.self}: service.recovery is ${mode} here and ${state.mode} at the donor; every member needs the same mode`,
      );
    if (had > 0 && had === cut) return 'kept';
    if (this.options.joinRefusal && cut > 0) throw new RecoveryRefusedError(this.options.joinRefusal);
    if (mode === 'none') {
      if (cut === 0) return 'joined';
      throw new RecoveryRefusedError(
        `member ${this.options.self} cannot join a running group (it has ordered ${cut} events): ` +
          'service.recovery is none, so replicas must start fresh together; set service.recovery to replay or snapshot',
      );
    }
    if (mode === 'snapshot') {
      const load = this.options.service.load;
      if (!load) throw new RecoveryStateError('recovery snapshot: no snapshot load command or callback');
      if (!state.service) throw new RecoveryStateError('recovery state: snapshot mode without a service snapshot');
      await this.loadQuiet(host, load, state.service, had > 0);
      host.restore(state.table, state.caches);
      return had ? 'caught-up' : 'joined';
    }
    const log = this.options.log!;
    if (had > 0 && state.base <= had) {
      const missing = state.log.filter((e) => e.seq > had);
      if (missing.length === 0) return 'kept';
      appendAll(log, missing);
      await host.replay(missing);
      this.replayedCount = missing.length;
      return 'caught-up';
    }
    if (state.base > 0) {
      // The donor's log was compacted: start from its base state (the service's snapshot replaces
      // whatever this member's service holds), then replay the events after the base.
      const load = this.options.service.load;
      if (!load) throw new RecoveryStateError('recovery state has a service snapshot and there is no load command');
      if (!state.service) throw new RecoveryStateError(`recovery state: base ${state.base} without a service snapshot`);
      await this.loadQuiet(host, load, state.service, had > 0);
    } else {
      // replay: from the service's initial state, through the normal delivery path.
      if (this.options.service.reset) await this.options.service.reset();
      else if (cut > 0)
        this.log.info({}, 'no service.resetCommand: the service is taken to be in its initial state (freshly started)');
    }
    host.restore(state.table, state.caches);
    // This member's log now starts where the donor's did, so it can be the next donor.
    log.rebase(state.base, state.base > 0 ? encodeRecoveryState({ ...state, cut: state.base, log: [] }) : undefined);
    appendAll(log, state.log);
    // Live only once the service has applied what was replayed, so a client attaching here sees
    // a service in the group's state.
    await host.replay(state.log);
    this.replayedCount = state.log.length;
    return had ? 'caught-up' : 'joined';
  }

  /**
   * Loads a service snapshot once the service has answered what this member had queued (a member
   * re-admitted behind the cut may have requests in flight): an old request answered after the
   * load would land on top of the installed state.
   */
  private async loadQuiet(
    host: RecoveryHost,
    load: (state: Uint8Array) => Promise<void>,
    bytes: Uint8Array,
    queued: boolean,
  ): Promise<void> {
    if (!queued) return load(bytes);
    const release = await host.quiesce();
    try {
      await load(bytes);
    } finally {
      release();
    }
  }

  private requireHost(): RecoveryHost {
    if (!this.host) throw new RecoveryStateError('recovery is not bound to a service interceptor');
    return this.host;
  }
}

/**
 * Appends events to the log in one write: a joiner receives up to a whole log's worth at once,
 * and a write per event would hold the event loop (heartbeats, tokens) for as many system calls.
 */
function appendAll(log: EventLog, events: readonly LoggedEvent[]): void {
  const last = events[events.length - 1];
  if (!last) return;
  if (events[0]!.seq <= log.lastSeq)
    throw new RecoveryStateError(`replay log: event ${events[0]!.seq} after event ${log.lastSeq}`);
  log.appendRaw(concatBytes(events.map(encodeLogRecord)), last.seq);
}
