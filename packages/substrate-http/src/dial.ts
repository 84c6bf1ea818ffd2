import * as net from 'node:net';
import type { Conversation, Endpoint } from '@vcl/core';
import { StoppedError, UnavailableError } from '@vcl/core';
import { HttpFramer, requestLimits } from './framers';
import { ResponseNormalizer, type Normalized } from './normalizer';
import type { ResolvedHttpOptions } from './options';

function connect(endpoint: Endpoint, signal?: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted)
      return reject(signal.reason instanceof Error ? signal.reason : new StoppedError('dial aborted'));
    const socket = net.connect({ host: endpoint.host ?? '127.0.0.1', port: endpoint.port ?? 80 });
    const onAbort = (): void => {
      socket.destroy();
      reject(signal?.reason instanceof Error ? signal.reason : new StoppedError('dial aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(
        new UnavailableError(`cannot reach the HTTP service at ${endpoint.host}:${endpoint.port}: ${e.message}`, {
          cause: e,
        }),
      );
    });
    socket.once('connect', () => {
      signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

/**
 * The service-side conversation with a real HTTP service: one logical conversation that outlives
 * the service's connections. Requests (whole messages) go out on the current connection, which is
 * reopened when the service closed it between responses (`Connection: close`, an idle timeout).
 * The service's output is normalized (see `ResponseNormalizer`) so the response framer cuts one
 * message per request at every replica. The conversation breaks (`onEnd` with an error) only when
 * the service cannot be reached or drops a connection with requests unanswered.
 */
export class HttpServiceConversation implements Conversation {
  readonly remote: string;
  private socket?: net.Socket;
  private connecting?: Promise<net.Socket>;
  private normalizer: ResponseNormalizer;
  private readonly requests: HttpFramer;
  private dataHandler?: (bytes: Uint8Array) => void;
  private drainHandler?: () => void;
  private endHandler?: (error?: Error) => void;
  private readonly early: Uint8Array[] = [];
  private paused = false;
  private finished = false;
  private ending = false;
  private endError?: Error;

  private constructor(
    private readonly endpoint: Endpoint,
    private readonly options: ResolvedHttpOptions,
  ) {
    this.remote = `${endpoint.host ?? '127.0.0.1'}:${endpoint.port}`;
    this.normalizer = new ResponseNormalizer(options);
    this.requests = new HttpFramer(requestLimits({ ...options, maxBodyBytes: Number.MAX_SAFE_INTEGER }));
  }

  /** Opens the first connection (so an unreachable service fails the dial) and returns the conversation. */
  static async open(
    endpoint: Endpoint,
    options: ResolvedHttpOptions,
    signal?: AbortSignal,
  ): Promise<HttpServiceConversation> {
    const conversation = new HttpServiceConversation(endpoint, options);
    conversation.attach(await connect(endpoint, signal));
    return conversation;
  }

  write(bytes: Uint8Array): boolean {
    if (this.finished || this.ending) return false;
    let messages: Uint8Array[];
    try {
      messages = this.requests.push(bytes);
    } catch (e) {
      this.fail(e as Error);
      return false;
    }
    let ok = true;
    for (const m of messages) {
      this.normalizer.noteRequest(m);
      if (this.socket && !this.socket.destroyed) ok = this.socket.write(m);
      else {
        this.early.push(m);
        this.reconnect();
        ok = false;
      }
    }
    return ok;
  }

  onData(handler: (bytes: Uint8Array) => void): void {
    this.dataHandler = handler;
    if (!this.paused) this.socket?.resume();
  }

  onDrain(handler: () => void): void {
    this.drainHandler = handler;
  }

  onEnd(handler: (error?: Error) => void): void {
    if (this.finished) queueMicrotask(() => handler(this.endError));
    else this.endHandler = handler;
  }

  pause(): void {
    this.paused = true;
    this.socket?.pause();
  }

  resume(): void {
    this.paused = false;
    if (this.dataHandler) this.socket?.resume();
  }

  end(): void {
    if (this.finished || this.ending) return;
    this.ending = true;
    if (this.socket && !this.socket.destroyed) this.socket.end();
    else this.finish();
  }

  destroy(error?: Error): void {
    this.socket?.destroy();
    this.finish(error);
  }

  private attach(socket: net.Socket): void {
    this.socket = socket;
    socket.on('data', (b: Buffer) =>
      this.deliver(this.normalizer.push(new Uint8Array(b.buffer, b.byteOffset, b.length))),
    );
    socket.on('drain', () => this.drainHandler?.());
    socket.on('error', (e) => (this.endError ??= e));
    socket.on('close', () => this.closed(socket));
    if (this.paused || !this.dataHandler) socket.pause();
    for (const m of this.early.splice(0)) socket.write(m);
    if (this.early.length === 0) this.drainHandler?.();
  }

  private closed(socket: net.Socket): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    if (this.finished) return;
    this.deliver(this.normalizer.end());
    if (this.ending) return this.finish();
    if (this.normalizer.pending > 0) {
      this.fail(
        new UnavailableError(
          `the HTTP service at ${this.remote} closed the connection with ${this.normalizer.pending} requests unanswered`,
          {
            cause: this.endError,
          },
        ),
      );
      return;
    }
    this.endError = undefined;
    this.normalizer = new ResponseNormalizer(this.options);
  }

  private deliver(normalized: Normalized): void {
    for (const r of normalized.responses) this.dataHandler?.(r);
    if (normalized.broken) {
      // The connection's framing is lost: drop it; the next request opens a fresh one.
      const socket = this.socket;
      this.socket = undefined;
      this.normalizer = new ResponseNormalizer(this.options);
      socket?.destroy();
    }
  }

  private reconnect(): void {
    if (this.connecting) return;
    this.connecting = connect(this.endpoint);
    this.connecting.then(
      (socket) => {
        this.connecting = undefined;
        if (this.finished) socket.destroy();
        else this.attach(socket);
      },
      (e: unknown) => {
        this.connecting = undefined;
        this.fail(e as Error);
      },
    );
  }

  private fail(error: Error): void {
    this.socket?.destroy();
    this.finish(error);
  }

  private finish(error?: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.endError = error;
    const handler = this.endHandler;
    this.endHandler = undefined;
    handler?.(error);
  }
}
