import type { Socket } from 'node:net';
import type { Conversation } from '@vcl/core';

/** A TCP socket as a substrate `Conversation`. */
export class SocketConversation implements Conversation {
  readonly remote: string;
  private error: Error | undefined;
  private endHandler: ((error?: Error) => void) | undefined;
  private inputEndHandler: (() => void) | undefined;
  private ended = false;

  constructor(private readonly socket: Socket) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.on('error', (e) => (this.error ??= e));
    // Sockets accepted with allowHalfOpen: a FIN is a half-close if someone listens for it, else
    // the conversation ends as with Node's default.
    socket.on('end', () => {
      if (this.inputEndHandler) this.inputEndHandler();
      else if (socket.allowHalfOpen) socket.end();
    });
    socket.on('close', () => {
      if (this.ended) return;
      this.ended = true;
      this.endHandler?.(this.error);
    });
  }

  write(bytes: Uint8Array): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false;
    return this.socket.write(bytes);
  }

  onData(handler: (bytes: Uint8Array) => void): void {
    this.socket.on('data', handler);
  }

  onDrain(handler: () => void): void {
    this.socket.on('drain', handler);
  }

  onEnd(handler: (error?: Error) => void): void {
    this.endHandler = handler;
    if (this.ended) queueMicrotask(() => handler(this.error));
  }

  onInputEnd(handler: () => void): void {
    this.inputEndHandler = handler;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    this.socket.end();
  }

  destroy(error?: Error): void {
    this.error ??= error;
    this.socket.destroy();
  }
}
