import type * as net from 'node:net';
import type { Clock, Conversation, Timer } from '@vcl/core';

const view = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

/**
 * A `Conversation` over a connected socket. `end()` closes with a lingering close: the write side
 * ends at once and reading goes on, discarding, until the peer closes or `lingerMs` passes, so a
 * client still sending a rejected message reads the error reply instead of a connection reset.
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
    private readonly clock: Clock,
    private readonly lingerMs: number,
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
      if (!this.closing) this.dataHandler?.(view(b));
    });
    socket.pause();
  }

  write(bytes: Uint8Array): boolean {
    if (this.closing || this.socket.destroyed) return false;
    return this.socket.write(bytes);
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
    this.socket.resume();
    this.linger = this.clock.setTimer(this.lingerMs, () => this.socket.destroy());
  }

  destroy(error?: Error): void {
    this.closing = true;
    this.linger?.cancel();
    if (error) this.error ??= error;
    this.socket.destroy();
  }
}
