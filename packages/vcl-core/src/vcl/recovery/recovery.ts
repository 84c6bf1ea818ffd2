import type { Clock } from '../../contracts/clock';
import type { Logger } from '../../contracts/logger';
import type { MemberId } from '../../contracts/network';
import type { StateTransfer } from '../../contracts/ordering';
import type { RecoveryMode } from '../../config/stack';
import { RecoveryRefusedError, RecoveryStateError, VclError } from '../../errors';
import type { EventLog } from './event-log';
import {
  decodeRecoveryState,
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
  /** Why the member refused to join. */
  readonly error?: string;
}

/** Options of a `Recovery`. */
export interface RecoveryOptions {
  /** This member. */
  readonly self: MemberId;
  /** `service.recovery`. */
  readonly mode: RecoveryMode;
  /** The ordered event log (`replay` mode; required there). */
  readonly log?: EventLog;
  /** The service's own state: snapshot save/load, reset. */
  readonly service: ServiceStateAccess;
  /** Time (for the figures only). */
  readonly clock: Clock;
  /** Where it logs. */
  readonly logger: Logger;
  /** Called once when the member cannot join (it must stop): `none` mode meeting a running group, a bad state. */
  readonly onFatal?: (error: VclError) => void;
}

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
  private joined: Omit<RecoveryStatus, 'mode' | 'phase' | 'captures'> | undefined;
  private error: string | undefined;
  private readonly log: Logger;

  constructor(private readonly options: RecoveryOptions) {
    this.log = options.logger.child({ component: 'recovery' });
    this.startedAt = options.clock.now();
    if (options.mode === 'replay' && !options.log)
      throw new RecoveryStateError('recovery replay needs an event log (service.dataDir)');
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

  /** What `vcl status` shows. */
  status(): RecoveryStatus {
    return {
      mode: this.options.mode,
      phase: this.phase,
      captures: this.captures,
      ...this.joined,
      ...(this.options.log ? { logBytes: this.options.log.bytes } : {}),
      ...(this.error ? { error: this.error } : {}),
    };
  }

  /** Closes the log. */
  stop(): void {
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
      const log = this.options.log!;
      if (log.lastSeq > cut) throw new RecoveryStateError(`replay log ends at ${log.lastSeq}, past the cut ${cut}`);
      bytes = encodeRecoveryState(
        { mode, cut, base: 0, table: { sessions: [], closed: [] }, caches: [], log: [] },
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
    const t0 = this.options.clock.now();
    let outcome: 'joined' | 'kept' | 'caught-up';
    try {
      outcome = await this.apply(bytes, cut);
      this.lastDelivered = cut;
    } catch (error) {
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
      await load(state.service);
      host.restore(state.table, state.caches);
      return had ? 'caught-up' : 'joined';
    }
    const log = this.options.log!;
    if (had > 0) {
      const missing = state.log.filter((e) => e.seq > had);
      if (state.base > had)
        throw new RecoveryStateError(`replay: the state's log starts after ${state.base}, this member is at ${had}`);
      if (missing.length === 0) return 'kept';
      for (const e of missing) log.append(e);
      await host.replay(missing);
      this.replayedCount = missing.length;
      return 'caught-up';
    }
    // replay: from the service's initial state, through the normal delivery path.
    if (this.options.service.reset) await this.options.service.reset();
    else if (cut > 0)
      this.log.info({}, 'no service.resetCommand: the service is taken to be in its initial state (freshly started)');
    if (state.service) {
      const load = this.options.service.load;
      if (!load) throw new RecoveryStateError('recovery state has a service snapshot and there is no load command');
      await load(state.service);
    }
    host.restore(state.table, state.caches);
    for (const e of state.log) log.append(e);
    // Live only once the service has applied what was replayed, so a client attaching here sees
    // a service in the group's state.
    await host.replay(state.log);
    this.replayedCount = state.log.length;
    return 'joined';
  }

  private requireHost(): RecoveryHost {
    if (!this.host) throw new RecoveryStateError('recovery is not bound to a service interceptor');
    return this.host;
  }
}
