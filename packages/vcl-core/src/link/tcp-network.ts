import * as net from 'node:net';
import type { Clock, Timer } from '../contracts/clock';
import type { LinkFrame, LinkRole, LinkSecurity, SecuredLink } from '../contracts/link-security';
import type { Logger } from '../contracts/logger';
import type { MemberId, Network } from '../contracts/network';
import type { Random } from '../contracts/random';
import {
  AuthenticationError,
  IdTakenError,
  ConfigError,
  ListenError,
  MalformedFrameError,
  StoppedError,
  TimeoutError,
  VclError,
  type ConfigIssue,
} from '../errors';
import { RateLimitedLog } from '../runtime/rate-limited-log';
import { realClock, realRandom } from '../runtime/real-clock';
import { checkFrameLength, DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, FrameDecoder, writeFrameHeader } from './frame';
import {
  decodeLinkError,
  decodeMemberHello,
  encodeLinkError,
  encodeMemberHello,
  MemberFrameType,
  type MemberHello,
} from './member-frames';
import { noLinkSecurity } from './no-security';

/** Where a member listens. */
export interface TcpMember {
  /** The member id (`n1`). */
  readonly id: MemberId;
  /** Host name or IP address it listens on and is dialled at. */
  readonly host: string;
  /** TCP port it listens on and is dialled at. */
  readonly port: number;
}

/** How a broken or refused link is retried. */
export interface ReconnectOptions {
  /** First retry delay in ms; default 50. */
  readonly initialMs?: number;
  /** Largest retry delay in ms (the delay doubles per failed attempt up to this); default 2000. */
  readonly maxMs?: number;
}

/** Options of `tcpNetwork`. */
export interface TcpNetworkOptions {
  /** This member's id; must be one of `members`. */
  readonly self: MemberId;
  /** Every configured member, this one included (its entry says where to listen). */
  readonly members: readonly TcpMember[];
  /** This member's incarnation; default the start time in ms (`Date.now()` at creation). */
  readonly incarnation?: number;
  /** Where the network logs (structured). */
  readonly logger: Logger;
  /** Time for timeouts and retries; default `realClock()`. */
  readonly clock?: Clock;
  /** Randomness for retry jitter; default `realRandom()`. */
  readonly random?: Random;
  /** Time allowed to connect, exchange hellos and pass the security handshake, in ms; default 3000. */
  readonly connectTimeoutMs?: number;
  /** Retry delays; see `ReconnectOptions` for defaults. */
  readonly reconnect?: ReconnectOptions;
  /** Largest message (frame body) sent or accepted; default 16 MiB. */
  readonly maxFrameBytes?: number;
  /**
   * Most bytes held per peer: messages waiting for a connection, or written but not yet taken by
   * the kernel. Past it, new messages to that peer are dropped and logged; default 8 MiB.
   */
  readonly maxQueuedBytes?: number;
  /**
   * How long messages to an unreachable peer are kept for its (re)connection, in ms. After that,
   * they and every later message are dropped until it is back; default 5000.
   */
  readonly unreachableDropMs?: number;
  /** Link authentication and integrity; default `noLinkSecurity()`. */
  readonly security?: LinkSecurity;
  /**
   * Told (once) when a peer refuses this member because it already saw a newer incarnation of
   * this member's id: another process holds the id. The owner must step out of the group.
   */
  readonly onIdTaken?: (error: IdTakenError) => void;
}

/** One peer as `TcpNetwork.status()` reports it. */
export interface TcpPeerStatus {
  /** The member id. */
  readonly id: MemberId;
  /** The link to the peer: open, being dialled or set up, or down. */
  readonly link: 'open' | 'connecting' | 'down';
  /** Whether this member dials the peer (its id is the smaller) or waits to be dialled. */
  readonly dials: boolean;
  /** The peer's incarnation, from its latest hello (undefined before the first). */
  readonly incarnation?: number;
  /** Bytes held for the peer (waiting for a connection or for the kernel). */
  readonly queuedBytes: number;
  /** Messages to the peer dropped so far (link broke, unreachable, backlog full). */
  readonly dropped: number;
}

/** Largest frame a peer may send before it has passed the security handshake. */
const PRE_AUTH_MAX_FRAME_BYTES = 64 * 1024;
/** Outgoing frames are written into shared slabs of this size, so a small message costs no allocation. */
const SLAB_BYTES = 64 * 1024;
/** Handshake messages a peer may send ahead of the hook reading them. */
const MAX_UNREAD_HANDSHAKE_MESSAGES = 16;
/** A closing link that says why waits at most this long for its error frame to flush. */
const CLOSE_GRACE_MS = 1000;
/** How a refusal of a stale incarnation starts (its peer recognises it by its code and this). */
const STALE_INCARNATION = 'stale incarnation';

/**
 * The real `Network`: TCP links carrying length-prefixed link frames.
 *
 * Topology: one TCP connection per pair of members, carrying messages both ways (so replies and
 * acknowledgements share packets). Of two members, the one with the smaller id dials and the other
 * only accepts, so there are never two simultaneous dials to reconcile. Each direction of a
 * connection is FIFO for as long as it lasts.
 *
 * A link opens with a hello from each end (member id, target id, incarnation, security name), then
 * the security hook's handshake; only then does it carry messages. An unknown member id, a wrong
 * target, a stale incarnation, a malformed or oversized frame or a failed authentication closes
 * that link with a warning, and the network keeps serving every other link.
 *
 * Delivery is best effort: messages queued on a link that breaks are lost, `onPeerDown` is told,
 * and the link is redialled with capped exponential backoff. Messages sent while a peer is
 * unreachable wait (bounded by `maxQueuedBytes` and `unreachableDropMs`) for it to come back.
 */
export class TcpNetwork implements Network {
  /** This member's id. */
  readonly self: MemberId;
  /** This member's incarnation. */
  readonly incarnation: number;
  /** Every configured member id, in configuration order. */
  readonly members: readonly MemberId[];

  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly security: LinkSecurity;
  private readonly listenAt: TcpMember;
  private readonly connectTimeoutMs: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly maxFrameBytes: number;
  private readonly maxQueuedBytes: number;
  private readonly unreachableDropMs: number;
  private readonly peers = new Map<MemberId, Peer>();
  private readonly links = new Set<Link>();
  private readonly warnedUnknown = new Set<string>();
  private messageHandler: (from: MemberId, bytes: Uint8Array) => void = () => {};
  private peerDownHandler: (peer: MemberId) => void = () => {};
  private server: net.Server | undefined;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private stopping: Promise<void> | undefined;
  private selfQueue: Uint8Array[] = [];
  private selfImmediate: NodeJS.Immediate | undefined;
  private bound: { host: string; port: number } | undefined;

  constructor(options: TcpNetworkOptions) {
    validate(options);
    this.self = options.self;
    this.incarnation = options.incarnation ?? Date.now();
    this.members = options.members.map((m) => m.id);
    this.log = options.logger.child({ component: 'tcp-network', member: options.self });
    this.peerLog = new RateLimitedLog(this.log);
    this.clock = options.clock ?? realClock();
    this.random = options.random ?? realRandom();
    this.security = options.security ?? noLinkSecurity();
    this.connectTimeoutMs = options.connectTimeoutMs ?? 3000;
    this.retryInitialMs = options.reconnect?.initialMs ?? 50;
    this.retryMaxMs = options.reconnect?.maxMs ?? 2000;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 8 * 1024 * 1024;
    this.unreachableDropMs = options.unreachableDropMs ?? 5000;
    this.onIdTaken = options.onIdTaken;
    this.listenAt = options.members.find((m) => m.id === options.self)!;
    for (const m of options.members)
      if (m.id !== options.self) this.peers.set(m.id, new Peer(m, options.self, this.clock.now()));
  }

  /** The address the listener is bound to (after `start()`). */
  get address(): { host: string; port: number } | undefined {
    return this.bound;
  }

  /** Binds the listener (rejecting with `ListenError` naming the address if it cannot) and starts dialling peers. */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.state !== 'new') throw new StoppedError(`tcp network ${this.self} was already started`);
    signal?.throwIfAborted();
    this.state = 'starting';
    const server = net.createServer({ noDelay: true });
    server.on('connection', (socket) => this.accept(socket));
    const { host, port } = this.listenAt;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.message;
        reject(
          new ListenError(`member ${this.self} cannot listen on ${host}:${port}: ${why} (${err.code ?? 'error'})`, {
            cause: err,
          }),
        );
      };
      server.once('error', onError);
      server.listen({ host, port }, () => {
        server.off('error', onError);
        resolve();
      });
    }).catch((err: unknown) => {
      this.state = 'stopped';
      throw err;
    });
    if (this.state !== 'starting') {
      await new Promise((resolve) => server.close(resolve));
      throw new StoppedError(`tcp network ${this.self} was stopped while starting`);
    }
    server.on('error', (err) => this.log.error({ err: err.message }, 'listener error'));
    this.server = server;
    const addr = server.address() as net.AddressInfo;
    this.bound = { host: addr.address, port: addr.port };
    this.state = 'running';
    this.log.info(
      { address: `${addr.address}:${addr.port}`, incarnation: this.incarnation, security: this.security.name },
      'tcp network listening',
    );
    for (const peer of this.peers.values()) {
      peer.unreachableSince = this.clock.now();
      if (peer.dials) this.dial(peer);
    }
    if (this.selfQueue.length) this.selfImmediate ??= setImmediate(() => this.deliverToSelf());
  }

  /** Closes every link and the listener; resolves once all sockets are closed. Safe to call twice. */
  stop(): Promise<void> {
    this.peerLog.flush();
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  /** Sends `bytes` to `to` (best effort; throws `FrameTooLargeError` for a message over `maxFrameBytes`). */
  send(to: MemberId, bytes: Uint8Array): void {
    checkFrameLength(bytes.length, this.maxFrameBytes);
    if (this.state === 'stopped') return;
    if (to === this.self) {
      this.selfQueue.push(bytes.slice());
      this.selfImmediate ??= setImmediate(() => this.deliverToSelf());
      return;
    }
    const peer = this.peers.get(to);
    if (!peer) {
      if (!this.warnedUnknown.has(to)) {
        this.warnedUnknown.add(to);
        this.log.warn({ peer: to, members: this.members }, 'send to an unknown member dropped');
      }
      return;
    }
    const link = peer.link;
    if (link?.phase === 'open') this.write(link, bytes);
    else this.hold(peer, bytes);
  }

  /** Sets the message handler. */
  onMessage(handler: (from: MemberId, bytes: Uint8Array) => void): void {
    this.messageHandler = handler;
  }

  /** Sets the peer-down handler. */
  onPeerDown(handler: (peer: MemberId) => void): void {
    this.peerDownHandler = handler;
  }

  /** Every peer's links, backlog and drops, for `vcl status` and tests. */
  status(): TcpPeerStatus[] {
    return [...this.peers.values()].map((p) => ({
      id: p.id,
      link: p.link?.phase === 'open' ? 'open' : p.link ? 'connecting' : 'down',
      dials: p.dials,
      incarnation: p.incarnation,
      queuedBytes: p.queuedBytes(),
      dropped: p.droppedTotal,
    }));
  }

  // ---- sending -------------------------------------------------------------------------------

  private write(link: Link, bytes: Uint8Array): void {
    const peer = link.peer!;
    let frame: LinkFrame = { type: MemberFrameType.DATA, flags: 0, body: bytes };
    if (link.secured) frame = link.secured.seal(frame);
    const total = FRAME_HEADER_BYTES + frame.body.length;
    if (link.socket.writableLength + link.batchBytes() + total > this.maxQueuedBytes) {
      this.drop(peer, 1, 'backlog full: the peer is not reading');
      return;
    }
    this.endDropEpisode(peer);
    if (total > SLAB_BYTES / 2) {
      this.flush(link);
      const buf = Buffer.allocUnsafe(total);
      writeFrameHeader(buf, 0, frame.type, frame.flags, frame.body.length);
      buf.set(frame.body, FRAME_HEADER_BYTES);
      link.socket.write(buf);
      return;
    }
    if (!link.slab || link.slabUsed + total > link.slab.length) {
      this.flush(link);
      link.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      link.slabUsed = link.batchStart = 0;
    }
    writeFrameHeader(link.slab, link.slabUsed, frame.type, frame.flags, frame.body.length);
    link.slab.set(frame.body, link.slabUsed + FRAME_HEADER_BYTES);
    link.slabUsed += total;
    if (!link.flushScheduled) {
      link.flushScheduled = true;
      process.nextTick(flushLater, this, link);
    }
  }

  /** Writes the frames batched on `link` since its last flush in one socket write. */
  flush(link: Link): void {
    link.flushScheduled = false;
    if (!link.slab || link.slabUsed === link.batchStart) return;
    const batch = link.slab.subarray(link.batchStart, link.slabUsed);
    link.batchStart = link.slabUsed;
    if (link.phase === 'open' && !link.socket.destroyed) link.socket.write(batch);
  }

  private hold(peer: Peer, bytes: Uint8Array): void {
    const downFor = this.clock.now() - peer.unreachableSince;
    if (downFor > this.unreachableDropMs) {
      this.dropPending(peer, `unreachable for ${Math.round(downFor)} ms`);
      this.drop(peer, 1, `unreachable for ${Math.round(downFor)} ms`);
      return;
    }
    if (peer.pendingBytes + bytes.length > this.maxQueuedBytes) {
      this.drop(peer, 1, 'queue for the unreachable peer is full');
      return;
    }
    peer.pending.push(bytes.slice());
    peer.pendingBytes += bytes.length;
  }

  private drop(peer: Peer, count: number, reason: string): void {
    peer.droppedTotal += count;
    peer.droppedEpisode += count;
    if (peer.dropEpisode) return;
    peer.dropEpisode = true;
    this.log.warn({ peer: peer.id, reason }, 'dropping messages to peer');
  }

  private endDropEpisode(peer: Peer): void {
    if (!peer.dropEpisode) return;
    this.log.info({ peer: peer.id, dropped: peer.droppedEpisode }, 'messages to peer flow again');
    peer.dropEpisode = false;
    peer.droppedEpisode = 0;
  }

  private dropPending(peer: Peer, reason: string): void {
    if (peer.pending.length === 0) return;
    this.drop(peer, peer.pending.length, reason);
    peer.pending = [];
    peer.pendingBytes = 0;
  }

  private deliverToSelf(): void {
    this.selfImmediate = undefined;
    if (this.state !== 'running') return;
    const queue = this.selfQueue;
    this.selfQueue = [];
    for (const bytes of queue) {
      if (this.state !== 'running') return;
      this.deliver(this.self, bytes);
    }
  }

  /** Hands one message to the handler; a throwing handler is logged, never breaks the link. */
  deliver(from: MemberId, bytes: Uint8Array): void {
    try {
      this.messageHandler(from, bytes);
    } catch (err) {
      this.log.error({ peer: from, err: errorText(err) }, 'message handler threw');
    }
  }

  // ---- links ---------------------------------------------------------------------------------

  private dial(peer: Peer): void {
    if (this.state !== 'running') return;
    peer.retry = undefined;
    const socket = net.connect({ host: peer.host, port: peer.port, noDelay: true });
    const link = new Link(this, socket, 'dialer', `${peer.host}:${peer.port}`, peer);
    peer.link = link;
    socket.once('connect', () => void link.secure());
  }

  private accept(socket: net.Socket): void {
    if (this.state !== 'running') {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const link = new Link(this, socket, 'acceptor', `${socket.remoteAddress}:${socket.remotePort}`);
    void link.secure();
  }

  /** Bookkeeping shared by the links. */
  get ctx(): LinkContext {
    return this.linkContext;
  }

  private readonly linkContext: LinkContext = {
    self: () => this.self,
    incarnation: () => this.incarnation,
    security: () => this.security,
    clock: () => this.clock,
    log: () => this.log,
    peerLog: () => this.peerLog,
    connectTimeoutMs: () => this.connectTimeoutMs,
    maxFrameBytes: () => this.maxFrameBytes,
    track: (link) => this.links.add(link),
    untrack: (link) => this.links.delete(link),
    checkHello: (link, hello) => this.checkHello(link, hello),
    idTaken: (by, reason) => this.idTaken(by, reason),
    opened: (link) => this.linkOpened(link),
    closed: (link, wasOpen) => this.linkClosed(link, wasOpen),
    deliver: (from, bytes) => this.deliver(from, bytes),
  };

  /** The acceptor's and the dialer's checks of the other end's hello; returns why it is refused. */
  private checkHello(link: Link, hello: MemberHello): string | undefined {
    if (hello.security !== this.security.name)
      return `link security mismatch: ${hello.from} uses '${hello.security}', ${this.self} uses '${this.security.name}'`;
    if (link.role === 'dialer') {
      const expected = link.peer!.id;
      if (hello.from !== expected || hello.to !== this.self)
        return `dialled ${expected} at ${link.address} but the member there says it is ${hello.from} (talking to ${hello.to})`;
      return undefined;
    }
    if (hello.to !== this.self) return `this is member ${this.self}, not ${hello.to}`;
    const peer = this.peers.get(hello.from);
    if (!peer)
      return hello.from === this.self
        ? `a member claims to be ${this.self}, which is this member`
        : `${JSON.stringify(hello.from)} is not a member (members: ${this.members.join(', ')})`;
    if (hello.from > this.self)
      return `${hello.from} dialled ${this.self}, but of two members the one with the smaller id dials`;
    if (peer.incarnation !== undefined && hello.incarnation < peer.incarnation)
      return `${STALE_INCARNATION} ${hello.incarnation} of ${hello.from} (already saw ${peer.incarnation}): another process is member ${hello.from}`;
    return undefined;
  }

  private idTakenTold = false;
  private readonly peerLog: RateLimitedLog;
  private readonly onIdTaken: ((error: IdTakenError) => void) | undefined;

  /** A peer refused this member as a stale incarnation of its own id. */
  private idTaken(by: MemberId, reason: string): void {
    if (this.idTakenTold) return;
    this.idTakenTold = true;
    const error = new IdTakenError(
      `member id ${this.self} is taken by another incarnation (${by} says: ${reason}); this member steps out of the group`,
    );
    this.log.error({ by, incarnation: this.incarnation, err: error.message }, 'member id taken by another incarnation');
    this.onIdTaken?.(error);
  }

  private linkOpened(link: Link): void {
    const peer = this.peers.get(link.peerId!)!;
    const previous = peer.link;
    if (link.role === 'acceptor') {
      link.peer = peer;
      peer.link = link;
      // A new link from a member that still has one open: it restarted, or the old connection is
      // half-open. The newer link wins; a restart is a peer-down hint for the old incarnation.
      if (previous && previous !== link) {
        previous.close(undefined, 'replaced by a newer link from the same member');
        if ((previous.peerIncarnation ?? 0) < link.peerIncarnation!) this.markDown(peer);
      }
    }
    peer.attempt = 0;
    peer.incarnation = Math.max(peer.incarnation ?? 0, link.peerIncarnation!);
    this.log.info(
      { peer: peer.id, incarnation: link.peerIncarnation, address: link.address, role: link.role },
      'link open',
    );
    const downFor = this.clock.now() - peer.unreachableSince;
    if (downFor > this.unreachableDropMs) this.dropPending(peer, `unreachable for ${Math.round(downFor)} ms`);
    const pending = peer.pending;
    peer.pending = [];
    peer.pendingBytes = 0;
    for (const bytes of pending) this.write(link, bytes);
    this.endDropEpisode(peer);
    this.markUp(peer);
  }

  private linkClosed(link: Link, wasOpen: boolean): void {
    const peer = link.peer;
    if (!peer || peer.link !== link) return;
    peer.link = undefined;
    if (wasOpen) {
      peer.unreachableSince = this.clock.now();
      this.markDown(peer);
    } else {
      const downFor = this.clock.now() - peer.unreachableSince;
      if (downFor > this.unreachableDropMs) this.dropPending(peer, `unreachable for ${Math.round(downFor)} ms`);
    }
    if (this.state !== 'running' || !peer.dials) return;
    const delay = Math.min(this.retryMaxMs, this.retryInitialMs * 2 ** Math.min(peer.attempt, 30));
    peer.attempt++;
    const jittered = Math.min(this.retryMaxMs, delay * (0.75 + 0.5 * this.random.next()));
    peer.retry = this.clock.setTimer(wasOpen ? 0 : jittered, () => this.dial(peer));
  }

  private markUp(peer: Peer): void {
    peer.up = true;
  }

  private markDown(peer: Peer): void {
    if (!peer.up) return;
    peer.up = false;
    this.log.info({ peer: peer.id }, 'peer down');
    try {
      this.peerDownHandler(peer.id);
    } catch (err) {
      this.log.error({ peer: peer.id, err: errorText(err) }, 'peer-down handler threw');
    }
  }

  private async doStop(): Promise<void> {
    const wasRunning = this.state !== 'new';
    this.state = 'stopped';
    if (this.selfImmediate) clearImmediate(this.selfImmediate);
    this.selfImmediate = undefined;
    this.selfQueue = [];
    for (const peer of this.peers.values()) {
      peer.retry?.cancel();
      peer.retry = undefined;
      peer.pending = [];
      peer.pendingBytes = 0;
    }
    const closing = [...this.links].map((link) => link.close());
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all(closing);
    if (wasRunning) this.log.info({}, 'tcp network stopped');
  }
}

function flushLater(network: TcpNetwork, link: Link): void {
  if (link.flushScheduled) network.flush(link);
}

/** Creates the real TCP `Network` of one member; see `TcpNetwork`. */
export function tcpNetwork(options: TcpNetworkOptions): TcpNetwork {
  return new TcpNetwork(options);
}

/** What this member knows about one other member. */
class Peer {
  readonly id: MemberId;
  readonly host: string;
  readonly port: number;
  /** Whether the peer was last seen alive (for `onPeerDown`, told once per outage). */
  up = false;
  /** Whether this member dials the peer (its id is the smaller one). */
  readonly dials: boolean;
  /** The link messages go out on: the one being dialled (any phase), or the open accepted one. */
  link: Link | undefined;
  /** The highest incarnation seen in the peer's hellos. */
  incarnation: number | undefined;
  /** Messages waiting for the link to open. */
  pending: Uint8Array[] = [];
  pendingBytes = 0;
  unreachableSince: number;
  attempt = 0;
  retry: Timer | undefined;
  droppedTotal = 0;
  droppedEpisode = 0;
  dropEpisode = false;

  constructor(member: TcpMember, self: MemberId, now: number) {
    this.id = member.id;
    this.host = member.host;
    this.port = member.port;
    this.dials = self < member.id;
    this.unreachableSince = now;
  }

  queuedBytes(): number {
    const link = this.link;
    return this.pendingBytes + (link ? link.batchBytes() + link.socket.writableLength : 0);
  }
}

/** What a link needs from its network. */
interface LinkContext {
  self(): MemberId;
  incarnation(): number;
  security(): LinkSecurity;
  clock(): Clock;
  log(): Logger;
  /** Warnings a remote peer can trigger, rate-limited. */
  peerLog(): RateLimitedLog;
  connectTimeoutMs(): number;
  maxFrameBytes(): number;
  track(link: Link): void;
  untrack(link: Link): void;
  checkHello(link: Link, hello: MemberHello): string | undefined;
  idTaken(by: MemberId, reason: string): void;
  opened(link: Link): void;
  closed(link: Link, wasOpen: boolean): void;
  deliver(from: MemberId, bytes: Uint8Array): void;
}

type Phase = 'securing' | 'hello' | 'handshake' | 'open' | 'closed';

/** One TCP connection between two members, from connect to close. */
class Link {
  phase: Phase = 'securing';
  socket: net.Socket;
  /** The other end's member id, once its hello is accepted (and proven once open). */
  peerId: MemberId | undefined;
  peerIncarnation: number | undefined;
  /** Per-frame protection; undefined when the security hook is transparent. */
  secured: SecuredLink | undefined;
  /** Outgoing frames are encoded into this slab; `batchStart..slabUsed` is not yet written. */
  slab: Buffer | undefined;
  slabUsed = 0;
  batchStart = 0;
  flushScheduled = false;
  readonly closedPromise: Promise<void>;

  private readonly ctx: LinkContext;
  private readonly raw: net.Socket;
  private readonly decoder = new FrameDecoder({ maxFrameBytes: PRE_AUTH_MAX_FRAME_BYTES });
  private readonly abort = new AbortController();
  private deadline: Timer | undefined;
  private graceTimer: Timer | undefined;
  private ownHello: Uint8Array | undefined;
  private inbox: Uint8Array[] = [];
  private waiter: { resolve: (m: Uint8Array) => void; reject: (e: unknown) => void } | undefined;
  private paused = false;
  private closeError: Error | undefined;
  private resolveClosed: () => void = () => {};

  constructor(
    network: TcpNetwork,
    socket: net.Socket,
    readonly role: LinkRole,
    readonly address: string,
    /** The peer: known from the start when dialling, set when an accepted link opens. */
    public peer?: Peer,
  ) {
    this.ctx = network.ctx;
    this.raw = this.socket = socket;
    this.ctx.track(this);
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.on('error', (err) => (this.closeError ??= err));
    socket.once('close', () => this.onClose());
    const timeout = this.ctx.connectTimeoutMs();
    this.deadline = this.ctx
      .clock()
      .setTimer(timeout, () =>
        this.fail(new TimeoutError(`link ${this.describe()} was not established within ${timeout} ms`)),
      );
  }

  /** Runs the security hook's socket wrapper (if any), then starts the hello exchange. */
  async secure(): Promise<void> {
    let identity: string | undefined;
    const security = this.ctx.security();
    if (security.secureSocket) {
      try {
        const secured = await security.secureSocket(this.raw, this.role, this.abort.signal);
        if (this.phase === 'closed') {
          secured.socket.destroy();
          return;
        }
        this.socket = secured.socket;
        identity = secured.identity;
        if (this.socket !== this.raw) {
          // A wrapping socket (TLS) may report the close instead of the raw one; either will do.
          this.socket.on('error', (err) => (this.closeError ??= err));
          this.socket.once('close', () => this.onClose());
        }
      } catch (err) {
        this.fail(new AuthenticationError(`link ${this.describe()}: securing the socket failed`, { cause: err }));
        return;
      }
    }
    if (this.phase === 'closed') return;
    this.tlsIdentity = identity;
    this.phase = 'hello';
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.once('end', () => this.fail(this.endError()));
    if (this.role === 'dialer') this.sendHello(this.peer!.id);
  }

  /** Closes the link, first telling the other end why when `reason` is given. Resolves once closed. */
  close(error?: VclError, reason?: string): Promise<void> {
    if (this.phase !== 'closed') {
      this.teardown();
      const body = reason ?? error?.message;
      if (body && !this.socket.destroyed && this.socket.writable) {
        const code = error?.code ?? 'VCL_LINK_CLOSED';
        const frame = this.secured
          ? this.secured.seal({ type: MemberFrameType.ERROR, flags: 0, body: encodeLinkError({ code, message: body }) })
          : { type: MemberFrameType.ERROR, flags: 0, body: encodeLinkError({ code, message: body }) };
        this.socket.end(encode(frame), () => this.socket.destroy());
        this.graceTimer = this.ctx.clock().setTimer(CLOSE_GRACE_MS, () => this.socket.destroy());
      } else {
        this.socket.destroy();
      }
    }
    return this.closedPromise;
  }

  private tlsIdentity: string | undefined;

  /** Bytes batched but not yet handed to the socket. */
  batchBytes(): number {
    return this.slabUsed - this.batchStart;
  }

  private describe(): string {
    const who = this.peerId ?? this.peer?.id;
    return `${this.role === 'dialer' ? 'to' : 'from'} ${who ? `${who} at ` : ''}${this.address}`;
  }

  private sendHello(to: MemberId): void {
    this.ownHello = encodeMemberHello({
      from: this.ctx.self(),
      to,
      incarnation: this.ctx.incarnation(),
      security: this.ctx.security().name,
    });
    this.socket.write(encode({ type: MemberFrameType.HELLO, flags: 0, body: this.ownHello }));
  }

  private onData(chunk: Buffer): void {
    if (this.phase === 'closed') return;
    try {
      this.decoder.feed(chunk);
      this.drain();
    } catch (err) {
      this.fail(err);
    }
  }

  private drain(): void {
    while (this.phase !== 'closed' && !this.paused) {
      if (this.phase === 'handshake') {
        const type = this.decoder.peekType();
        if (type === undefined) return;
        if (type !== MemberFrameType.HANDSHAKE && type !== MemberFrameType.ERROR) {
          // The other end finished its handshake before this one did: stop reading until ours
          // settles, so nothing from an unproven peer is delivered or buffered past the
          // pre-authentication frame limit.
          this.paused = true;
          this.socket.pause();
          return;
        }
      }
      const frame = this.decoder.next();
      if (!frame) return;
      this.handle(frame);
    }
  }

  private handle(frame: LinkFrame): void {
    if (this.phase === 'open') {
      const f = this.secured ? this.secured.open(frame) : frame;
      if (f.type === MemberFrameType.DATA) this.ctx.deliver(this.peerId!, f.body);
      else if (f.type === MemberFrameType.ERROR) this.remoteError(f.body);
      else throw new MalformedFrameError(`unexpected frame type ${f.type} on an open link`);
      return;
    }
    if (frame.type === MemberFrameType.ERROR) return this.remoteError(frame.body);
    if (this.phase === 'hello') {
      if (frame.type !== MemberFrameType.HELLO)
        throw new MalformedFrameError(`expected a hello frame first, got frame type ${frame.type}`);
      return this.onHello(frame.body);
    }
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve(frame.body);
      return;
    }
    if (this.inbox.length >= MAX_UNREAD_HANDSHAKE_MESSAGES)
      throw new MalformedFrameError(`more than ${MAX_UNREAD_HANDSHAKE_MESSAGES} unread handshake messages`);
    this.inbox.push(frame.body);
  }

  private onHello(body: Uint8Array): void {
    const hello = decodeMemberHello(body);
    this.peerId = hello.from;
    this.peerIncarnation = hello.incarnation;
    const refusal = this.ctx.checkHello(this, hello);
    if (refusal) {
      this.ctx
        .peerLog()
        .warn({ peer: hello.from, address: this.address, role: this.role, reason: refusal }, 'link refused');
      this.close(refusal.startsWith(STALE_INCARNATION) ? new IdTakenError(refusal) : new AuthenticationError(refusal));
      return;
    }
    if (this.role === 'acceptor') this.sendHello(hello.from);
    this.phase = 'handshake';
    const [dialer, acceptor] = this.role === 'dialer' ? [this.ownHello!, body] : [body, this.ownHello!];
    const transcript = new Uint8Array(dialer.length + acceptor.length);
    transcript.set(dialer);
    transcript.set(acceptor, dialer.length);
    const claimedId = hello.from;
    let handshake: Promise<SecuredLink>;
    try {
      handshake = this.ctx.security().handshake({
        role: this.role,
        localId: this.ctx.self(),
        claimedId,
        transcript,
        peer: { kind: 'member', address: this.address, claimedId, tlsIdentity: this.tlsIdentity },
        signal: this.abort.signal,
        send: (message) => {
          if (this.phase === 'handshake')
            this.socket.write(encode({ type: MemberFrameType.HANDSHAKE, flags: 0, body: message }));
        },
        receive: () => this.receive(),
      });
    } catch (err) {
      handshake = Promise.reject(err);
    }
    handshake.then(
      (secured) => this.handshakeDone(secured, claimedId),
      (err: unknown) => this.authFailed(err),
    );
  }

  private receive(): Promise<Uint8Array> {
    if (this.abort.signal.aborted) return Promise.reject(new StoppedError(`link ${this.describe()} is closed`));
    const next = this.inbox.shift();
    if (next) return Promise.resolve(next);
    if (this.waiter) return Promise.reject(new StoppedError('handshake receive() called twice without waiting'));
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  private handshakeDone(secured: SecuredLink, claimedId: string): void {
    if (this.phase !== 'handshake') return;
    if (secured.peerId !== claimedId) {
      this.authFailed(new AuthenticationError(`peer proved identity ${secured.peerId} but claimed ${claimedId}`));
      return;
    }
    this.secured = secured.transparent ? undefined : secured;
    this.phase = 'open';
    this.inbox = [];
    this.deadline?.cancel();
    this.deadline = undefined;
    this.decoder.maxFrameBytes = this.ctx.maxFrameBytes();
    this.ctx.opened(this);
    if (!this.paused || this.phase !== 'open') return;
    this.paused = false;
    this.socket.resume();
    try {
      this.drain();
    } catch (err) {
      this.fail(err);
    }
  }

  private authFailed(err: unknown): void {
    if (this.phase === 'closed') return;
    const reason = errorText(err);
    this.ctx
      .peerLog()
      .warn({ peer: this.peerId, address: this.address, role: this.role, err: reason }, 'link authentication failed');
    this.close(new AuthenticationError('link authentication failed'));
  }

  private remoteError(body: Uint8Array): void {
    let info: { code: string; message: string };
    try {
      info = decodeLinkError(body);
    } catch {
      info = { code: 'VCL_MALFORMED_FRAME', message: '(unreadable error frame)' };
    }
    this.ctx.peerLog().warn(
      {
        peer: this.peerId ?? this.peer?.id,
        address: this.address,
        role: this.role,
        code: info.code,
        reason: info.message,
      },
      'peer closed the link',
    );
    // A peer that saw a newer incarnation of this member's id: another process is this member.
    if (info.code === 'VCL_ID_TAKEN' && this.role === 'dialer') this.ctx.idTaken(this.peer?.id ?? '?', info.message);
    this.close();
  }

  /** Closes the link because of `err`, logging it (bad input is a warning, a lost connection debug). */
  private fail(err: unknown): void {
    if (this.phase === 'closed') return;
    const peer = this.peerId ?? this.peer?.id;
    const fields = { peer, address: this.address, role: this.role, err: errorText(err) };
    if (err instanceof VclError && !(err instanceof StoppedError)) {
      const connecting = err instanceof TimeoutError && this.role === 'dialer';
      this.ctx.log()[connecting ? 'debug' : 'warn']({ ...fields, code: err.code }, 'closing link');
      this.close(connecting ? undefined : err);
    } else {
      this.ctx.log().debug(fields, 'link lost');
      this.close();
    }
  }

  private endError(): StoppedError {
    return new StoppedError(`link ${this.describe()} ended by the other end`);
  }

  private teardown(): void {
    const wasOpen = this.phase === 'open';
    this.phase = 'closed';
    this.deadline?.cancel();
    this.deadline = undefined;
    this.inbox = [];
    const reason = new StoppedError(`link ${this.describe()} closed`);
    this.abort.abort(reason);
    this.waiter?.reject(reason);
    this.waiter = undefined;
    this.ctx.closed(this, wasOpen);
  }

  private onClose(): void {
    this.graceTimer?.cancel();
    if (this.phase !== 'closed') {
      if (this.closeError)
        this.ctx
          .log()
          .debug(
            { peer: this.peerId ?? this.peer?.id, address: this.address, err: this.closeError.message },
            'link lost',
          );
      this.teardown();
    }
    this.raw.destroy();
    this.socket.destroy();
    this.ctx.untrack(this);
    this.resolveClosed();
  }
}

function encode(frame: LinkFrame): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + frame.body.length);
  writeFrameHeader(buf, 0, frame.type, frame.flags, frame.body.length);
  buf.set(frame.body, FRAME_HEADER_BYTES);
  return buf;
}

/** `message: cause message`, for errors from any realm (Node's own errors fail `instanceof Error` under Jest). */
function errorText(err: unknown): string {
  const message = (e: unknown): string | undefined =>
    typeof e === 'object' && e !== null && typeof (e as Error).message === 'string' ? (e as Error).message : undefined;
  const text = message(err) ?? String(err);
  const cause = message((err as { cause?: unknown } | undefined)?.cause);
  return cause ? `${text}: ${cause}` : text;
}

function validate(options: TcpNetworkOptions): void {
  const issues: ConfigIssue[] = [];
  const ids = new Set<string>();
  options.members.forEach((m, i) => {
    if (!m.id) issues.push({ path: `members[${i}].id`, message: 'must be a non-empty member id' });
    if (ids.has(m.id)) issues.push({ path: `members[${i}].id`, message: `duplicate member id ${m.id}` });
    ids.add(m.id);
    if (!m.host) issues.push({ path: `members[${i}].host`, message: 'must be a host name or address' });
    if (!Number.isInteger(m.port) || m.port < 0 || m.port > 65535)
      issues.push({ path: `members[${i}].port`, message: `must be an integer port 0-65535, got ${m.port}` });
  });
  if (!ids.has(options.self))
    issues.push({ path: 'self', message: `${options.self} is not one of the members (${[...ids].join(', ')})` });
  const positive: [string, number | undefined][] = [
    ['connectTimeoutMs', options.connectTimeoutMs],
    ['reconnect.initialMs', options.reconnect?.initialMs],
    ['reconnect.maxMs', options.reconnect?.maxMs],
    ['maxFrameBytes', options.maxFrameBytes],
    ['maxQueuedBytes', options.maxQueuedBytes],
  ];
  for (const [path, value] of positive)
    if (value !== undefined && !(Number.isFinite(value) && value > 0))
      issues.push({ path, message: `must be a positive number, got ${value}` });
  if (options.maxFrameBytes !== undefined && options.maxFrameBytes > 0xffffffff)
    issues.push({ path: 'maxFrameBytes', message: 'must fit the u32 frame length field (at most 4294967295)' });
  if (options.unreachableDropMs !== undefined && !(options.unreachableDropMs >= 0))
    issues.push({ path: 'unreachableDropMs', message: `must be 0 or more, got ${options.unreachableDropMs}` });
  if (options.incarnation !== undefined && !(Number.isSafeInteger(options.incarnation) && options.incarnation >= 0))
    issues.push({ path: 'incarnation', message: `must be a non-negative integer, got ${options.incarnation}` });
  if (issues.length) throw new ConfigError('tcpNetwork options', issues);
}
