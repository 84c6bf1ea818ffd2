import type * as net from 'node:net';
import type { Clock, Timer } from '../contracts/clock';
import type { Conversation } from '../contracts/substrate';

/** How a `SocketConversation` treats what is written to it. */
export interface OutgoingFilter {
  /** Turns written bytes into what the socket gets; `end` asks to end the conversation after them. */
  (bytes: Uint8Array): { readonly out: readonly Uint8Array[]; readonly end: boolean };
}

/** Options of a `SocketConversation`. */
export interface SocketConversationOptions {
  /** Time source for the lingering close. */
  readonly clock: Clock;
  /** How long `end()` keeps reading and discarding before closing for good, in ms. */
  readonly lingerMs: number;
  /** Rewrites outgoing bytes; default none. */
  readonly filter?: OutgoingFilter;
  /** Told about every incoming chunk before the data handler (e.g. to answer `Expect: 100-continue`). */
  readonly inspect?: (bytes: Uint8Array, socket: net.Socket) => void;
}

const view = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

/**
 * A `Conversation` over a connected socket. `end()` closes gracefully with a lingering close: the
 * write side ends at once, and reading goes on, discarding, until the peer closes or `lingerMs`
 * passes, so a client still sending a rejected request reads the error reply instead of a reset.
 */
export class SocketConversation implements Conversation {
  readonly remote: string;
  private dataHandler?: (bytes: Uint8Array) => void;
  private endHandler?: (error?: Error) => void;
  private ended = false;
  private error?: Error;
  private closing = false;
  private linger?: Timer;

  constructor(
    private readonly socket: net.Socket,
    private readonly options: SocketConversationOptions,
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on('error', (e) => (this.error ??= e));
    socket.on('close', () => {
      this.linger?.cancel();
      this.ended = true;
      const handler = this.endHandler;
      this.endHandler = undefined;
      handler?.(this.error);
    });
    socket.on('data', (b: Buffer) => {
      if (this.closing) return;
      const bytes = view(b);
      options.inspect?.(bytes, socket);
      this.dataHandler?.(bytes);
    });
    socket.pause();
  }

  write(bytes: Uint8Array): boolean {
    if (this.closing || this.socket.destroyed) return false;
    if (!this.options.filter) return this.socket.write(bytes);
    let result: ReturnType<OutgoingFilter>;
    try {
      result = this.options.filter(bytes);
    } catch (e) {
      this.destroy(e as Error);
      return false;
    }
    let ok = true;
    for (const out of result.out) ok = this.socket.write(out);
    if (result.end) this.end();
    return ok;
  }

  onData(handler: (bytes: Uint8Array) => void): void {
    this.dataHandler = handler;
    if (!this.closing) this.socket.resume();
  }

  onDrain(handler: () => void): void {
    this.socket.on('drain', handler);
  }

  onEnd(handler: (error?: Error) => void): void {
    if (this.ended) queueMicrotask(() => handler(this.error));
    else this.endHandler = handler;
  }

  pause(): void {
    if (!this.closing) this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.end();
    this.socket.resume(); // keep reading (and discarding) until the peer closes or the linger ends
    this.linger = this.options.clock.setTimer(this.options.lingerMs, () => this.socket.destroy());
  }

  destroy(error?: Error): void {
    this.closing = true;
    this.linger?.cancel();
    if (error) this.error ??= error;
    this.socket.destroy();
  }
}
