import * as net from 'node:net';
import type { Conversation, Endpoint, Framer } from '../../contracts/substrate';
import { concatBytes } from '../../link/body';

/** A `Conversation` over a connected `net.Socket` (for tests: no lingering close, no limits). */
export function socketConversation(socket: net.Socket): Conversation {
  let ended = false;
  let endError: Error | undefined;
  let onEnd: ((error?: Error) => void) | undefined;
  socket.on('error', (e) => (endError ??= e));
  socket.on('close', () => {
    ended = true;
    onEnd?.(endError);
  });
  return {
    remote: `${socket.remoteAddress}:${socket.remotePort}`,
    write: (bytes) => socket.write(bytes),
    onData: (handler) => socket.on('data', (b: Buffer) => handler(new Uint8Array(b.buffer, b.byteOffset, b.length))),
    onDrain: (handler) => socket.on('drain', handler),
    onEnd: (handler) => {
      onEnd = handler;
      if (ended) queueMicrotask(() => handler(endError));
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    end: () => socket.end(),
    destroy: (error) => socket.destroy(error),
  };
}

/** Opens a TCP connection to `endpoint` (default host 127.0.0.1) and wraps it as a `Conversation`. */
export function connectTcp(endpoint: Endpoint): Promise<Conversation> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: endpoint.host ?? '127.0.0.1', port: endpoint.port ?? 0 });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socketConversation(socket));
    });
  });
}

/** Concatenates byte arrays (kept here for the substrate kit's users). */
export { concatBytes };

/** A framer that returns every chunk as it is (for reading raw bytes). */
export function rawFramer(): Framer {
  return { push: (chunk) => (chunk.length ? [chunk] : []), buffered: 0 };
}

/**
 * Reads a conversation through a framer: every message and the end are recorded, and callers wait
 * for a byte count, a message count or the end. Framing errors end the reader with that error.
 */
export class ConversationReader {
  /** Messages read so far, in order. */
  readonly messages: Uint8Array[] = [];
  /** Bytes in `messages`. */
  bytes = 0;
  /** Set once the conversation ended (`null` for a clean end). */
  ended: Error | null | undefined;
  private waiters: Array<() => void> = [];

  /** `framer` cuts what is read; default none (raw chunks as they arrive). */
  constructor(conversation: Conversation, framer: Framer = rawFramer()) {
    conversation.onData((chunk) => {
      try {
        for (const m of framer.push(chunk)) {
          this.messages.push(m);
          this.bytes += m.length;
        }
      } catch (e) {
        this.ended ??= e as Error;
        conversation.destroy();
      }
      this.wake();
    });
    conversation.onEnd((error) => {
      this.ended ??= error ?? null;
      this.wake();
    });
  }

  /** Resolves once `done()` holds; rejects after `timeoutMs` naming `what`. */
  async until(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (done()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what} (have ${this.messages.length} messages, ${this.bytes} bytes, ended: ${String(this.ended)})`,
          ),
        );
      }, timeoutMs);
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  /** Waits until at least `n` bytes were read, failing early if the conversation ends first. */
  async untilBytes(n: number, timeoutMs?: number): Promise<void> {
    await this.until(() => this.bytes >= n || this.ended !== undefined, `${n} bytes`, timeoutMs);
    if (this.bytes < n) throw new Error(`conversation ended (${String(this.ended)}) after ${this.bytes} of ${n} bytes`);
  }

  /** Waits for the end of the conversation. */
  async untilEnd(timeoutMs?: number): Promise<Error | null> {
    await this.until(() => this.ended !== undefined, 'the end of the conversation', timeoutMs);
    return this.ended ?? null;
  }

  /** Removes and returns the first `n` bytes read, as one array. */
  take(n: number): Uint8Array {
    const all = concatBytes(this.messages);
    this.messages.length = 0;
    if (all.length > n) this.messages.push(all.subarray(n));
    this.bytes = all.length - n;
    return all.subarray(0, n);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
