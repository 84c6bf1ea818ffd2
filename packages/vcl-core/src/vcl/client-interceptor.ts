import type { Clock, Timer } from '../contracts/clock';
import type { LinkFrame } from '../contracts/link-security';
import type { Startable } from '../contracts/lifecycle';
import type { Logger } from '../contracts/logger';
import type { Random } from '../contracts/random';
import type { Conversation, Endpoint, Framer, Listener, Substrate } from '../contracts/substrate';
import { LimitExceededError, UnavailableError, VclError } from '../errors';
import { RateLimitedLog } from '../runtime/rate-limited-log';
import { ConnectionLimiter, DEFAULT_LIMITS } from './connection-limits';
import { conversationPair } from './conversation-pair';
import type { LinkConnection, LinkTransport } from './link';
import {
  decodeMemberFrame,
  encodeClientFrame,
  type ClientFrame,
  type MemberAddress,
  type MemberFrame,
} from './link-frames';
import type { SessionId } from './session-events';
import { newSessionId, shortSessionId } from './session-id';

/** Options of a `ClientInterceptor`. */
export interface ClientInterceptorOptions {
  /** Client addresses of every configured member; the list is refreshed from the group's views. */
  readonly members: readonly MemberAddress[];
  /** Opens links to members. */
  readonly transport: LinkTransport;
  /** The substrate: its pattern and request framer (and `listen` for external mode). */
  readonly substrate: Pick<Substrate, 'name' | 'pattern' | 'requestFramer' | 'errorResponse'> &
    Partial<Pick<Substrate, 'listen'>>;
  /** Time. */
  readonly clock: Clock;
  /** Randomness (first member choice, session ids). */
  readonly random: Random;
  /** Where it logs. */
  readonly logger: Logger;
  /**
   * The substrate name its sessions carry in OPEN/HELLO, so a member serving several substrates
   * (the stack's `substrates[].name`) picks this one. Default none: the member's first substrate.
   */
  readonly substrateName?: string;
  /** External mode: accept the real client's conversations here (needs `substrate.listen`). */
  readonly listen?: Endpoint;
  /** Credentials for the members' `Authenticator`. Default: none. */
  readonly credentials?: Uint8Array;
  /** How long to keep trying members after a failure before closing the client connection. Default 10 s. */
  readonly failoverTimeoutMs?: number;
  /** Keep-alive interval on the link. Default 200 ms. */
  readonly heartbeatMs?: number;
  /** A member silent this long counts as failed (a frozen member). Default 1000 ms. */
  readonly linkTimeoutMs?: number;
  /** Acknowledge received output at least this often when idle. Default 100 ms. */
  readonly ackIntervalMs?: number;
  /** Acknowledge at once after this many unacknowledged output bytes. Default 64 KiB. */
  readonly ackBytes?: number;
  /** Stop reading the client while this many request bytes wait to be ordered. Default 1 MiB. */
  readonly maxUnorderedBytes?: number;
  /** Pause between attempts when no member answers. Default 50 ms. */
  readonly retryDelayMs?: number;
  /** Limits of the listening port (the stack's `limits:`). */
  readonly limits?: ClientPortLimitOptions;
  /** Makes session ids. Default: 128 bits from the system CSPRNG, as hex (`newSessionId`): an id must not be guessable. */
  readonly newSessionId?: () => SessionId;
}

/** Counters for `/metrics` and tests. */
export interface ClientInterceptorCounters {
  /** Sessions served. */
  sessions: number;
  /** Fail-overs completed (a session re-attached at another member). */
  failovers: number;
  /** Sessions closed because no member could be reached in time. */
  unavailable: number;
  /** Requests resent after a fail-over. */
  resent: number;
  /** Duplicate output dropped. */
  duplicatesDropped: number;
  /** Client connections refused or dropped at a limit (connections, incomplete request too slow). */
  limitRefusals: number;
}

/** Limits of the listening port (external mode); each field defaults to `DEFAULT_LIMITS`. */
export interface ClientPortLimitOptions {
  /** Client connections at once. Default 2048. */
  readonly maxConnections?: number;
  /** Client connections at once from one remote address. Default 512. */
  readonly maxConnectionsPerAddress?: number;
  /** A request still incomplete this long drops its connection (slowloris). Default 10 s. */
  readonly partialRequestTimeoutMs?: number;
}

/** One completed fail-over, for logs and measurements. */
export interface FailoverRecord {
  /** The session. */
  readonly session: SessionId;
  /** The member that failed. */
  readonly from: string;
  /** The member it moved to. */
  readonly to: string;
  /** Time from detecting the failure to being attached again, in ms. */
  readonly durationMs: number;
  /** Why it failed over. */
  readonly reason: string;
}

/**
 * The client-side interceptor: it looks like the service to the client (external: listens through
 * the substrate; internal: `connect()` returns a conversation), and carries each client connection
 * as a session to one member at a time.
 *
 * It numbers requests and keeps each until the group has ordered it, acknowledges output
 * (piggybacked on requests, and periodically when idle), and when its member fails it attaches the
 * session to another member, resends what the group has not ordered and drops output it already
 * passed on: the client sees no error, no gap and no repeat.
 */
export class ClientInterceptor implements Startable {
  /** Counters. */
  readonly counters: ClientInterceptorCounters = {
    sessions: 0,
    failovers: 0,
    unavailable: 0,
    resent: 0,
    duplicatesDropped: 0,
    limitRefusals: 0,
  };
  /** Told after every completed fail-over. */
  onFailover: ((record: FailoverRecord) => void) | undefined;

  private readonly sessions = new Set<ClientSession>();
  private readonly log: Logger;
  /** Warnings a real client can trigger, rate-limited. */
  readonly peerLog: RateLimitedLog;
  private readonly limiter: ConnectionLimiter;
  /** @internal A partial request older than this drops its connection. */
  readonly partialRequestTimeoutMs: number;
  /** The options in force, defaults filled in. */
  readonly config: Required<
    Pick<
      ClientInterceptorOptions,
      | 'failoverTimeoutMs'
      | 'heartbeatMs'
      | 'linkTimeoutMs'
      | 'ackIntervalMs'
      | 'ackBytes'
      | 'maxUnorderedBytes'
      | 'retryDelayMs'
    >
  >;
  private members: readonly MemberAddress[];
  private listener: Listener | undefined;
  private ticker: Timer | undefined;
  private stopped = false;

  constructor(readonly options: ClientInterceptorOptions) {
    if (options.members.length === 0) throw new VclError('a client-side interceptor needs at least one member address');
    this.log = options.logger.child({ component: 'client-interceptor' });
    this.peerLog = new RateLimitedLog(this.log, { clock: options.clock });
    const limits = options.limits ?? {};
    this.partialRequestTimeoutMs = limits.partialRequestTimeoutMs ?? DEFAULT_LIMITS.partialRequestTimeoutMs;
    this.limiter = new ConnectionLimiter(
      {
        maxConnections: limits.maxConnections ?? DEFAULT_LIMITS.maxConnections,
        maxConnectionsPerAddress: limits.maxConnectionsPerAddress ?? DEFAULT_LIMITS.maxConnectionsPerAddress,
      },
      'client port',
      {
        refused: (remote, error) =>
          this.peerLog.warn({ remote, code: 'VCL_LIMIT', err: error.message }, 'refused at a limit'),
      },
    );
    this.members = options.members;
    this.config = {
      failoverTimeoutMs: options.failoverTimeoutMs ?? 10_000,
      heartbeatMs: options.heartbeatMs ?? 200,
      linkTimeoutMs: options.linkTimeoutMs ?? 1000,
      ackIntervalMs: options.ackIntervalMs ?? 100,
      ackBytes: options.ackBytes ?? 64 * 1024,
      maxUnorderedBytes: options.maxUnorderedBytes ?? 1024 * 1024,
      retryDelayMs: options.retryDelayMs ?? 50,
    };
  }

  /** The member list in use (the latest view a member told of, or the configured list). */
  get memberList(): readonly MemberAddress[] {
    return this.members;
  }

  /** The listening endpoint in external mode (after `start`). */
  get endpoint(): Endpoint | undefined {
    return this.listener?.endpoint;
  }

  /** Starts the timers and, in external mode, listens for the real client. */
  async start(): Promise<void> {
    this.stopped = false;
    this.scheduleTick();
    if (this.options.listen && !this.listener) {
      if (!this.options.substrate.listen) throw new VclError(`substrate ${this.options.substrate.name} cannot listen`);
      this.listener = await this.options.substrate.listen(this.options.listen, (c) => this.admit(c));
      this.listener.onAcceptError?.((error) =>
        this.peerLog.error({ err: error.message }, 'accepting a client connection failed (out of file descriptors?)'),
      );
      this.log.info(
        { endpoint: this.listener.endpoint, substrate: this.options.substrateName ?? this.options.substrate.name },
        'client interceptor listening',
      );
    }
  }

  /** Stops listening and drops every session's link (sessions are left to expire at the group). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.ticker?.cancel();
    this.peerLog.flush();
    await this.listener?.close();
    this.listener = undefined;
    for (const s of [...this.sessions]) s.abandon(new UnavailableError('client interceptor stopped'));
  }

  /** Internal mode: a new session, returned as the conversation the program reads and writes. */
  connect(): Conversation {
    const [engineSide, appSide] = conversationPair({ remote: 'vcl' });
    this.serve(engineSide);
    return appSide;
  }

  /**
   * A real client's connection on the listening port: served, or refused over a connection limit
   * with the protocol's own error response (when it has one), a rate-limited warning and a count.
   */
  private admit(conversation: Conversation): void {
    const over = this.limiter.admit(conversation.remote);
    if (over) {
      this.counters.limitRefusals++;
      this.refuseClient(conversation, over);
      return;
    }
    const id = this.serve(conversation);
    const s = [...this.sessions].find((x) => x.id === id);
    if (s) s.admitted = true;
    else this.limiter.release(conversation.remote);
  }

  /** @internal Answers the real client with `error` in its protocol when it can, then closes. */
  refuseClient(conversation: Conversation, error: Error): void {
    const answer = this.options.substrate.errorResponse?.(error);
    if (answer) conversation.write(answer);
    conversation.end();
  }

  /** Carries one client conversation as one session. */
  serve(conversation: Conversation): SessionId {
    if (this.stopped) {
      conversation.destroy(new UnavailableError('client interceptor stopped'));
      return '';
    }
    const id = this.options.newSessionId?.() ?? newSessionId();
    const start = Math.floor(this.options.random.next() * this.members.length);
    const s = new ClientSession(id, conversation, this, this.log.child({ session: shortSessionId(id) }), start);
    this.sessions.add(s);
    this.counters.sessions++;
    s.begin();
    return id;
  }

  /** Sessions in progress. */
  status(): { sessions: { id: SessionId; member?: string; state: string; lastInSeq: number; received: number }[] } {
    return { sessions: [...this.sessions].map((s) => s.status()) };
  }

  /** @internal */
  updateMembers(members: readonly MemberAddress[]): void {
    if (members.length > 0) this.members = members;
  }

  /** @internal */
  forget(s: ClientSession): void {
    if (!this.sessions.delete(s)) return;
    if (s.admitted) this.limiter.release(s.remote);
  }

  private scheduleTick(): void {
    const every = Math.min(this.config.heartbeatMs, this.config.ackIntervalMs);
    this.ticker = this.options.clock.setTimer(every, () => {
      if (this.stopped) return;
      const now = this.options.clock.now();
      for (const s of [...this.sessions]) s.tick(now);
      this.scheduleTick();
    });
  }
}

type State = 'connecting' | 'open' | 'failing' | 'closed';

interface PendingRequest {
  readonly inSeq: number;
  readonly bytes: Uint8Array;
}

class ClientSession {
  private state: State = 'connecting';
  private link: LinkConnection | undefined;
  private member: MemberAddress | undefined;
  private memberIndex: number;
  /** True once some member confirmed the session exists (then fail-overs send HELLO, not OPEN). */
  private opened = false;
  private lastIn = 0;
  private orderedIn = 0;
  private readonly unordered: PendingRequest[] = [];
  private unorderedBytes = 0;
  private received = 0;
  private ackedOut = 0;
  private unackedBytes = 0;
  private clientBlocked = false;
  private clientPaused = false;
  private clientEnded = false;
  /** The client half-closed: it sends no more but still reads its responses. */
  private inputDone = false;
  private closeSent = false;
  /** The half-close went to the current member (stream sessions). */
  private shutdownSent = false;
  private endAt: number | undefined;
  private lastRecv = 0;
  private lastSend = 0;
  private failStart: number | undefined;
  private failReason = '';
  private failedMember = '';
  private retry: Timer | undefined;
  private connectAbort: AbortController | undefined;
  private readonly framer: Framer | undefined;
  private readonly rr: boolean;
  /** Counted by the listening port's connection limiter. */
  admitted = false;
  /** Since when the framer holds an incomplete request (slowloris guard). */
  private partialSince: number | undefined;

  constructor(
    readonly id: SessionId,
    private readonly client: Conversation,
    private readonly owner: ClientInterceptor,
    private readonly log: Logger,
    start: number,
  ) {
    this.rr = owner.options.substrate.pattern === 'request-response';
    this.framer = this.rr ? owner.options.substrate.requestFramer() : undefined;
    this.memberIndex = start;
  }

  private get clock(): Clock {
    return this.owner.options.clock;
  }

  status(): { id: SessionId; member?: string; state: string; lastInSeq: number; received: number } {
    return {
      id: this.id,
      ...(this.member ? { member: this.member.id } : {}),
      state: this.state,
      lastInSeq: this.lastIn,
      received: this.received,
    };
  }

  begin(): void {
    this.client.onData((bytes) => this.fromClient(bytes));
    this.client.onDrain(() => {
      this.clientBlocked = false;
      this.sendAck();
    });
    this.client.onEnd((error) => this.clientGone(error));
    this.client.onInputEnd?.(() => this.inputEnded());
    this.connect();
  }

  /** The real client's address. */
  get remote(): string {
    return this.client.remote;
  }

  tick(now: number): void {
    if (
      this.partialSince !== undefined &&
      !this.clientEnded &&
      now - this.partialSince > this.owner.partialRequestTimeoutMs
    ) {
      // A request trickling in (slowloris) holds a session at every member: drop the connection.
      const error = new LimitExceededError(
        `request incomplete for ${Math.round(now - this.partialSince)} ms (limits.partialRequestTimeoutMs ${this.owner.partialRequestTimeoutMs})`,
      );
      this.partialSince = undefined;
      this.owner.counters.limitRefusals++;
      this.owner.peerLog.warn(
        { remote: this.client.remote, err: error.message },
        'client connection dropped at a limit',
      );
      this.owner.refuseClient(this.client, error);
      this.clientGone(error);
      return;
    }
    if (this.state === 'closed' || !this.link) return;
    if (now - this.lastRecv > this.owner.config.linkTimeoutMs) {
      this.failover(`member ${this.member?.id} silent for ${Math.round(now - this.lastRecv)} ms`);
      return;
    }
    // Keep-alives go out in every state: a handshake can wait long for the group (a view change),
    // and the member must not take the silence for a dead client.
    if (this.state === 'open' && this.received > this.ackedOut && !this.clientBlocked) this.sendAck();
    else if (now - this.lastSend >= this.owner.config.heartbeatMs * 0.9) this.send({ type: 'ping' });
  }

  /** Drops the link and the client connection (the interceptor is stopping). */
  abandon(error: Error): void {
    this.finish(error);
  }

  // ---- the real client ---------------------------------------------------------------------------

  private fromClient(bytes: Uint8Array): void {
    if (this.state === 'closed' || this.clientEnded || this.inputDone) return;
    if (!this.framer) {
      this.request(bytes);
      return;
    }
    let messages: Uint8Array[];
    try {
      messages = this.framer.push(bytes);
    } catch (error) {
      // Bad input from the real client: answer in the protocol's own way if it has one, then close.
      this.owner.peerLog.warn(
        { remote: this.client.remote, err: (error as Error).message },
        'malformed request from the client',
      );
      const answer = this.owner.options.substrate.errorResponse?.(error as Error);
      if (answer) this.client.write(answer);
      this.client.end();
      return;
    }
    // The clock restarts with each request that begins incomplete: only one request's trickle counts.
    if (this.framer.buffered === 0) this.partialSince = undefined;
    else if (messages.length > 0 || this.partialSince === undefined) this.partialSince = this.clock.now();
    for (const m of messages) this.request(m);
  }

  private request(bytes: Uint8Array): void {
    const r = { inSeq: ++this.lastIn, bytes };
    this.unordered.push(r);
    this.unorderedBytes += bytes.length;
    if (this.state === 'open') this.sendData(r);
    if (this.unorderedBytes >= this.owner.config.maxUnorderedBytes && !this.clientPaused) {
      this.clientPaused = true;
      this.client.pause();
    }
  }

  private clientGone(error?: Error): void {
    if (this.state === 'closed' || this.clientEnded) return;
    this.clientEnded = true;
    this.log.debug({ err: error?.message }, 'client connection ended');
    this.maybeClose();
  }

  private inputEnded(): void {
    if (this.state === 'closed' || this.inputDone) return;
    this.inputDone = true;
    this.log.debug({}, 'client half-closed');
    this.maybeClose();
  }

  /**
   * Closes the session once the client is gone, or once it half-closed and (request-response) has
   * every response to what it sent; the CLOSE goes out through the member the session is attached
   * to, or after the next member welcomes it. A stream session's half-close is ordered instead
   * (`shutdown` after the last chunk): every member ends its service's input there and the
   * service's remaining output and its end still reach the client, which then closes the session.
   */
  private maybeClose(): void {
    if (this.state !== 'open' || this.closeSent) return;
    if (this.clientEnded) return this.sendClose();
    if (!this.inputDone) return;
    if (this.rr) {
      if (this.received >= this.lastIn) this.sendClose();
      return;
    }
    if (this.shutdownSent) return;
    this.shutdownSent = true;
    this.send({ type: 'shutdown', inSeq: this.lastIn });
  }

  private sendClose(): void {
    if (this.closeSent) return;
    this.closeSent = true;
    this.send({ type: 'close' });
  }

  // ---- the member link ---------------------------------------------------------------------------

  private connect(): void {
    if (this.state === 'closed') return;
    const members = this.owner.memberList;
    const target = members[this.memberIndex % members.length]!;
    this.member = target;
    this.state = this.failStart === undefined ? 'connecting' : 'failing';
    const abort = new AbortController();
    this.connectAbort = abort;
    this.owner.options.transport.connect(target, abort.signal).then(
      (link) => {
        if (abort.signal.aborted || this.state === 'closed') {
          link.destroy();
          return;
        }
        this.attachLink(link);
      },
      (error: unknown) => {
        if (abort.signal.aborted) return;
        this.log.debug({ member: target.id, err: (error as Error).message }, 'member unreachable');
        this.next(`member ${target.id} unreachable: ${(error as Error).message}`);
      },
    );
  }

  private attachLink(link: LinkConnection): void {
    this.link = link;
    this.lastRecv = this.clock.now();
    link.onFrame((bytes) => {
      if (this.link === link) this.fromMember(bytes);
    });
    link.onInvalid((error) => {
      if (this.link === link) this.failover(`bad link input from ${this.member?.id}: ${error.message}`);
    });
    link.onClose((error) => {
      if (this.link === link && this.state !== 'closed')
        this.failover(`link to ${this.member?.id} closed${error ? `: ${error.message}` : ''}`);
    });
    const hello = {
      session: this.id,
      credentials: this.owner.options.credentials ?? new Uint8Array(),
      lastOutSeq: this.received,
      lastInSeq: this.lastIn,
      ...(this.owner.options.substrateName !== undefined ? { substrate: this.owner.options.substrateName } : {}),
    };
    this.send(this.opened ? { type: 'hello', ...hello } : { type: 'open', ...hello });
  }

  private fromMember(bytes: LinkFrame): void {
    this.lastRecv = this.clock.now();
    let f: MemberFrame;
    try {
      f = decodeMemberFrame(bytes);
    } catch (error) {
      this.log.warn({ member: this.member?.id, err: (error as Error).message }, 'bad frame from member');
      this.failover(`bad frame from ${this.member?.id}`);
      return;
    }
    switch (f.type) {
      case 'ping':
        return;
      case 'welcome':
        return this.welcome(f.lastInSeq, f.members);
      case 'members':
        this.owner.updateMembers(f.members);
        this.log.debug({ view: f.view, members: f.members.map((m) => m.id) }, 'member list updated');
        return;
      case 'ordered':
        return this.ordered(f.inSeq);
      case 'output':
        return this.output(f.from, f.bytes);
      case 'end':
        this.endAt = f.outSeq;
        this.maybeEnd();
        return;
      case 'closed':
        this.finish();
        return;
      case 'error':
        if (f.fatal) {
          if (this.closeSent && (f.code === 'VCL_EXPIRED_SESSION' || f.code === 'VCL_UNKNOWN_SESSION')) {
            // Our CLOSE was ordered before the member we lost could confirm it.
            this.finish();
            return;
          }
          this.log.error(
            { member: this.member?.id, code: f.code, err: f.message },
            'session refused; closing the client connection',
          );
          this.finish(new VclError(`${f.code}: ${f.message}`));
          return;
        }
        this.failover(`member ${this.member?.id} refused: ${f.code}: ${f.message}`);
        return;
    }
  }

  private welcome(lastInSeq: number, members: readonly MemberAddress[]): void {
    this.opened = true;
    this.owner.updateMembers(members);
    const list = this.owner.memberList;
    const here = list.findIndex((m) => m.id === this.member?.id);
    if (here >= 0) this.memberIndex = here;
    this.state = 'open';
    this.ordered(lastInSeq);
    // Requests the group has not ordered go again, in order; a copy that the failed member still
    // gets ordered first makes this one a duplicate, which every member drops alike.
    for (const r of this.unordered) this.sendData(r);
    if (this.failStart !== undefined) {
      const durationMs = this.clock.now() - this.failStart;
      this.owner.counters.failovers++;
      this.owner.counters.resent += this.unordered.length;
      this.log.info(
        {
          from: this.failedMember,
          to: this.member?.id,
          durationMs: Math.round(durationMs),
          resent: this.unordered.length,
          reason: this.failReason,
        },
        'fail-over complete',
      );
      this.owner.onFailover?.({
        session: this.id,
        from: this.failedMember,
        to: this.member!.id,
        durationMs,
        reason: this.failReason,
      });
      this.failStart = undefined;
    }
    // The CLOSE or half-close sent to the failed member may be lost: send it again after the
    // resent requests (a second copy is ignored).
    this.closeSent = false;
    this.shutdownSent = false;
    this.maybeClose();
  }

  private ordered(inSeq: number): void {
    if (inSeq <= this.orderedIn) return;
    this.orderedIn = inSeq;
    while (this.unordered.length > 0 && this.unordered[0]!.inSeq <= inSeq)
      this.unorderedBytes -= this.unordered.shift()!.bytes.length;
    if (this.clientPaused && this.unorderedBytes < this.owner.config.maxUnorderedBytes / 2) {
      this.clientPaused = false;
      this.client.resume();
    }
  }

  private output(from: number, bytes: Uint8Array): void {
    const units = this.rr ? 1 : bytes.length;
    const to = from + units;
    if (to <= this.received) {
      this.owner.counters.duplicatesDropped++;
      return;
    }
    if (from > this.received) {
      // Output after a hole: never sent by a correct member. Go elsewhere rather than show a gap.
      this.log.error({ member: this.member?.id, from, expected: this.received }, 'output gap from member');
      this.failover(`output gap from ${this.member?.id}: got ${from}, expected ${this.received}`);
      return;
    }
    const fresh = from < this.received ? bytes.subarray(this.received - from) : bytes;
    this.received = to;
    if (!this.client.write(fresh)) this.clientBlocked = true;
    this.unackedBytes += fresh.length;
    if (this.unackedBytes >= this.owner.config.ackBytes && !this.clientBlocked) this.sendAck();
    this.maybeEnd();
    this.maybeClose();
  }

  private maybeEnd(): void {
    if (this.endAt === undefined || this.received < this.endAt) return;
    // The service ended the conversation: close the session everywhere, and end the client's
    // connection once the close is ordered ('closed'), so a client that connects again right after
    // opens its next session behind this one's close in the total order (sessions: one-at-a-time).
    this.clientEnded = true;
    this.maybeClose();
  }

  private sendData(r: PendingRequest): void {
    const ack = this.clientBlocked ? this.ackedOut : this.received;
    this.send({ type: 'data', inSeq: r.inSeq, ackOutSeq: ack, bytes: r.bytes });
    this.noteAck(ack);
  }

  private sendAck(): void {
    if (this.state !== 'open' || this.received <= this.ackedOut) return;
    this.send({ type: 'ack', outSeq: this.received });
    this.noteAck(this.received);
  }

  private noteAck(ack: number): void {
    if (ack > this.ackedOut) {
      this.ackedOut = ack;
      this.unackedBytes = 0;
    }
  }

  private send(f: ClientFrame): void {
    if (!this.link) return;
    this.lastSend = this.clock.now();
    this.link.send(encodeClientFrame(f));
  }

  // ---- fail-over ---------------------------------------------------------------------------------

  private failover(reason: string): void {
    if (this.state === 'closed') return;
    const link = this.link;
    this.link = undefined;
    link?.destroy();
    if (this.failStart === undefined) {
      this.failStart = this.clock.now();
      this.failReason = reason;
      this.failedMember = this.member?.id ?? '';
      this.log.warn({ member: this.member?.id, reason }, 'member failed; failing over');
    }
    this.next(reason);
  }

  private next(reason: string): void {
    if (this.state === 'closed') return;
    this.failStart ??= this.clock.now();
    this.state = 'failing';
    const waited = this.clock.now() - this.failStart;
    if (waited >= this.owner.config.failoverTimeoutMs) {
      this.owner.counters.unavailable++;
      const error = new UnavailableError(`no member reachable for ${Math.round(waited)} ms (last: ${reason})`);
      this.log.error({ session: this.id, err: error.message }, 'giving up; closing the client connection');
      this.finish(error);
      return;
    }
    const members = this.owner.memberList;
    const at = members.findIndex((m) => m.id === this.member?.id);
    this.memberIndex = (at >= 0 ? at : this.memberIndex) + 1;
    // One pass over the list without pause, then a pause before every further attempt.
    const pause = this.memberIndex % members.length === 0 ? this.owner.config.retryDelayMs : 0;
    this.retry?.cancel();
    this.retry = this.clock.setTimer(pause, () => this.connect());
  }

  private finish(error?: Error): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.retry?.cancel();
    this.connectAbort?.abort();
    const link = this.link;
    this.link = undefined;
    link?.close();
    if (error) this.client.destroy(error);
    else this.client.end();
    this.owner.forget(this);
  }
}
