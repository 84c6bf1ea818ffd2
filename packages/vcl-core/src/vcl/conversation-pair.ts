import type { Conversation } from '../contracts/substrate';

/** Options of `conversationPair`. */
export interface ConversationPairOptions {
  /** Bytes buffered towards a paused reader before `write` returns false. Default 64 KiB. */
  readonly highWaterMark?: number;
  /** Description of each end for logs. Default `in-process`. */
  readonly remote?: string;
}

/**
 * Two connected in-process conversations: bytes written to one are read from the other, with
 * pause/resume backpressure. Internal replication uses it to stand between an interceptor engine
 * and the program's own `net`-like sockets. Delivery is asynchronous (a microtask), never
 * re-entrant.
 */
export function conversationPair(options: ConversationPairOptions = {}): [Conversation, Conversation] {
  const hwm = options.highWaterMark ?? 64 * 1024;
  const a = new PairEnd(options.remote ?? 'in-process', hwm);
  const b = new PairEnd(options.remote ?? 'in-process', hwm);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

class PairEnd implements Conversation {
  peer!: PairEnd;
  private readonly inbox: Uint8Array[] = [];
  private inboxBytes = 0;
  private paused = false;
  private scheduled = false;
  private inputEnded = false;
  private ended = false;
  private finished = false;
  private wantDrain = false;
  private endError: Error | undefined;
  private dataHandler: ((bytes: Uint8Array) => void) | undefined;
  private drainHandler: (() => void) | undefined;
  private endHandler: ((error?: Error) => void) | undefined;
  private inputEndHandler: (() => void) | undefined;
  private inputEndTold = false;

  constructor(
    readonly remote: string,
    private readonly hwm: number,
  ) {}

  write(bytes: Uint8Array): boolean {
    if (this.ended || this.finished) return false;
    return this.peer.receive(bytes.slice());
  }

  onData(handler: (bytes: Uint8Array) => void): void {
    this.dataHandler = handler;
    this.schedule();
  }

  onDrain(handler: () => void): void {
    this.drainHandler = handler;
  }

  onEnd(handler: (error?: Error) => void): void {
    this.endHandler = handler;
    this.schedule();
  }

  onInputEnd(handler: () => void): void {
    this.inputEndHandler = handler;
    this.schedule();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  end(): void {
    if (this.ended || this.finished) return;
    this.ended = true;
    this.peer.inputEnd();
    this.schedule();
  }

  destroy(error?: Error): void {
    if (this.finished) return;
    this.ended = true;
    this.finish(error);
    this.peer.inputEnd(error ?? new Error('peer destroyed the conversation'));
  }

  private receive(bytes: Uint8Array): boolean {
    if (this.finished) return false;
    this.inbox.push(bytes);
    this.inboxBytes += bytes.length;
    this.schedule();
    const ok = this.inboxBytes < this.hwm;
    if (!ok) this.peer.wantDrain = true;
    return ok;
  }

  private inputEnd(error?: Error): void {
    this.inputEnded = true;
    this.endError ??= error;
    if (error) this.inbox.length = 0;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.finished) return;
    while (!this.paused && this.dataHandler && this.inbox.length > 0) {
      const chunk = this.inbox.shift()!;
      this.inboxBytes -= chunk.length;
      this.dataHandler(chunk);
      if (this.finished) return;
    }
    if (this.peer.wantDrain && this.inboxBytes < this.hwm) {
      this.peer.wantDrain = false;
      const h = this.peer.drainHandler;
      if (h) queueMicrotask(h);
    }
    // A conversation ends once the remote stopped writing and everything it wrote was read, and
    // this end stopped writing too (half-close, like TCP); a destroy ends it at once.
    if (this.inputEnded && this.inbox.length === 0 && (this.ended || this.endError)) this.finish(this.endError);
    else if (this.inputEnded && this.inbox.length === 0 && !this.ended && this.inputEndHandler) {
      // Half-close: the reader learns that input ended and may still write until it ends.
      if (!this.inputEndTold) {
        this.inputEndTold = true;
        const h = this.inputEndHandler;
        queueMicrotask(h);
      }
    } else if (this.inputEnded && this.inbox.length === 0 && !this.ended && this.endHandler) {
      // The remote half-closed: tell the reader so it can end its side (net's allowHalfOpen=false).
      this.end();
      this.finish();
    }
  }

  private finish(error?: Error): void {
    if (this.finished) return;
    this.finished = true;
    const h = this.endHandler;
    if (h) queueMicrotask(() => h(error));
  }
}
