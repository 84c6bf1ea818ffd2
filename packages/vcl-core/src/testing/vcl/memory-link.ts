import type { Clock } from '../../contracts/clock';
import type { LinkFrame } from '../../contracts/link-security';
import { VclError } from '../../errors';
import type { LinkConnection, LinkListener, LinkTransport } from '../../vcl/link';
import type { MemberAddress } from '../../vcl/link-frames';

/** Options of a `MemoryLinkTransport`. */
export interface MemoryLinkOptions {
  /** Time source for link delays. */
  readonly clock: Clock;
  /** One-way delay of every frame, in ms. Default 1. */
  readonly delayMs?: number;
}

/**
 * In-memory interceptor links for engine tests: FIFO frames with a fixed delay, and faults that
 * mimic a killed process (`crash`: every link resets, new connections are refused) and a frozen
 * one (`freeze`: links stay up but carry nothing).
 */
export class MemoryLinkTransport implements LinkTransport {
  private readonly listeners = new Map<string, MemoryListener>();
  private nextPort = 40000;
  private readonly delayMs: number;

  constructor(private readonly options: MemoryLinkOptions) {
    this.delayMs = options.delayMs ?? 1;
  }

  async listen(host: string, port: number, onLink: (link: LinkConnection) => void): Promise<LinkListener> {
    const p = port === 0 ? this.nextPort++ : port;
    const key = `${host}:${p}`;
    if (this.listeners.has(key)) throw new VclError(`address in use: ${key}`);
    const l = new MemoryListener(host, p, onLink, () => this.listeners.delete(key));
    this.listeners.set(key, l);
    return l;
  }

  async connect(address: MemberAddress): Promise<LinkConnection> {
    const l = this.listeners.get(`${address.host}:${address.port}`);
    if (!l || l.crashed) throw new VclError(`connection refused: ${address.host}:${address.port}`);
    const a = new MemoryLink(`${address.host}:${address.port}`, this.options.clock, this.delayMs);
    const b = new MemoryLink(`client-of-${address.host}`, this.options.clock, this.delayMs);
    a.peer = b;
    b.peer = a;
    b.frozen = () => l.frozen;
    a.frozen = () => l.frozen;
    l.links.add(b);
    l.onLink(b);
    return a;
  }

  /** Kills the process behind `host:port`: its links reset, connections are refused. */
  crash(host: string, port: number): void {
    const l = this.listeners.get(`${host}:${port}`);
    if (!l) return;
    l.crashed = true;
    for (const link of l.links) link.reset();
  }

  /** Freezes (true) or thaws (false) the process behind `host:port`. */
  freeze(host: string, port: number, frozen: boolean): void {
    const l = this.listeners.get(`${host}:${port}`);
    if (!l) return;
    l.frozen = frozen;
    if (!frozen) for (const link of l.links) link.flushHeld();
  }
}

class MemoryListener implements LinkListener {
  readonly links = new Set<MemoryLink>();
  crashed = false;
  frozen = false;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly onLink: (link: LinkConnection) => void,
    private readonly unregister: () => void,
  ) {}

  async close(): Promise<void> {
    this.unregister();
    for (const l of this.links) l.destroy();
  }
}

class MemoryLink implements LinkConnection {
  peer!: MemoryLink;
  frozen: () => boolean = () => false;
  private closed = false;
  private frameHandler: ((f: LinkFrame) => void) | undefined;
  private closeHandler: ((e?: Error) => void) | undefined;
  /** Frames (and a close) that reached a frozen process, delivered when it thaws. */
  private readonly held: (LinkFrame | { readonly closed: Error | undefined })[] = [];
  private readonly inbox: LinkFrame[] = [];

  constructor(
    readonly remote: string,
    private readonly clock: Clock,
    private readonly delayMs: number,
  ) {}

  send(frame: LinkFrame): boolean {
    if (this.closed) return false;
    const copy = { type: frame.type, flags: frame.flags, body: frame.body.slice() };
    this.clock.setTimer(this.delayMs, () => this.peer.arrive(copy));
    return true;
  }

  onFrame(handler: (f: LinkFrame) => void): void {
    this.frameHandler = handler;
    for (const f of this.inbox.splice(0)) handler(f);
  }

  onDrain(): void {}

  onInvalid(): void {}

  onClose(handler: (e?: Error) => void): void {
    this.closeHandler = handler;
  }

  close(): void {
    if (this.closed) return;
    // Frames already sent still arrive (they were scheduled first); then the peer sees the close.
    this.clock.setTimer(this.delayMs, () => this.peer.remoteEnded());
    this.ended();
  }

  destroy(error?: Error): void {
    if (this.closed) return;
    this.ended(error);
    this.clock.setTimer(this.delayMs, () => this.peer.remoteEnded(new VclError('connection reset')));
  }

  reset(): void {
    this.destroy(new VclError('process killed'));
  }

  flushHeld(): void {
    for (const f of this.held.splice(0)) this.land(f);
    for (const f of this.peer.held.splice(0)) this.peer.land(f);
  }

  private land(f: LinkFrame | { readonly closed: Error | undefined }): void {
    if ('closed' in f) this.ended(f.closed);
    else this.arrive(f);
  }

  /** The peer closed or reset: a frozen process sees it only once it thaws, after what came before. */
  private remoteEnded(error?: Error): void {
    if (this.closed) return;
    if (this.frozen()) this.held.push({ closed: error });
    else this.ended(error);
  }

  private arrive(frame: LinkFrame): void {
    if (this.closed) return;
    if (this.frozen()) {
      this.held.push(frame);
      return;
    }
    if (this.frameHandler) this.frameHandler(frame);
    else this.inbox.push(frame);
  }

  private ended(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeHandler?.(error);
  }
}
