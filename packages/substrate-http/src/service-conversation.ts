import type { Conversation } from '@vcl/core';
import { UnavailableError } from '@vcl/core';
import { requestLimits } from './framers';
import { closesConnection, ResponseNormalizer, type Normalized } from './normalizer';
import type { ResolvedHttpOptions } from './options';
import { HttpParser } from './parser';

/** One connection to the service, however it is carried (a TCP socket, an in-process stream). */
export interface ServiceConnection {
  /** Sends bytes; false when the caller should wait for `drain`. */
  write(bytes: Uint8Array): boolean;
  /** Ends the sending side; the service closes once it has answered. */
  end(): void;
  /** Closes at once. */
  destroy(): void;
  /** Stops delivering the service's output (backpressure). */
  pause(): void;
  /** Resumes delivering it. */
  resume(): void;
}

/** What a `ServiceConversation` is told by its connection. */
export interface ServiceConnectionEvents {
  /** Bytes the service wrote. */
  readonly data: (bytes: Uint8Array) => void;
  /** A refused write may be retried. */
  readonly drain: () => void;
  /** The connection is closed (`error` if it broke). */
  readonly close: (error?: Error) => void;
}

/**
 * The service-side conversation with one HTTP service: one logical conversation that outlives the
 * service's connections. Request messages go out one at a time (the next once the previous is
 * answered) on the current connection; when the service is to close it (a `Connection: close`
 * request or response), the next request waits for a fresh one, so none is sent into a closing
 * connection. The service's output is normalized (see
 * `ResponseNormalizer`) so the response framer cuts one message per request at every replica. The
 * conversation breaks (`onEnd` with an error) only when the service cannot be reached or drops a
 * connection with requests unanswered.
 */
export abstract class ServiceConversation implements Conversation {
  abstract readonly remote: string;
  private connection?: ServiceConnection;
  private connecting = false;
  private closingConnection = false;
  private normalizer: ResponseNormalizer;
  private readonly requests: HttpParser;
  private readonly waiting: Array<{ readonly bytes: Uint8Array; readonly closes: boolean }> = [];
  private dataHandler?: (bytes: Uint8Array) => void;
  private drainHandler?: () => void;
  private endHandler?: (error?: Error) => void;
  private readonly held: Uint8Array[] = [];
  private paused = false;
  private ending = false;
  private finished = false;
  private endError?: Error;

  protected constructor(private readonly options: ResolvedHttpOptions) {
    this.normalizer = new ResponseNormalizer(options);
    // Requests come whole and already checked by the client side; only their heads matter here.
    this.requests = new HttpParser({ ...requestLimits(options), maxBodyBytes: Number.MAX_SAFE_INTEGER });
  }

  /** Opens a connection to the service; `events` tells the conversation what happens on it. */
  protected abstract connect(events: ServiceConnectionEvents): Promise<ServiceConnection>;

  /** Opens the first connection (so an unreachable service fails at once). */
  protected async open(): Promise<void> {
    this.connecting = true;
    try {
      this.attach(await this.openConnection());
    } finally {
      this.connecting = false;
    }
  }

  write(bytes: Uint8Array): boolean {
    if (this.finished || this.ending) return false;
    const { messages, error } = this.requests.pushSome(bytes);
    if (error) {
      this.fail(error);
      return false;
    }
    for (const m of messages) this.waiting.push({ bytes: m.bytes, closes: closesConnection(m.head) });
    return this.send();
  }

  onData(handler: (bytes: Uint8Array) => void): void {
    this.dataHandler = handler;
    this.flush();
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
    this.connection?.pause();
  }

  resume(): void {
    this.paused = false;
    this.connection?.resume();
    this.flush();
  }

  end(): void {
    if (this.finished || this.ending) return;
    this.ending = true;
    this.maybeEnd();
  }

  destroy(error?: Error): void {
    this.finish(error);
  }

  // Sends the next waiting request once the previous one is answered, on the current connection
  // unless it is about to close. One request in flight, as the service-side interceptor runs them:
  // a service may close its connection after any response, and a request pipelined behind that
  // response would be lost (or, retried, maybe applied twice).
  private send(): boolean {
    let ok = true;
    while (this.waiting.length && this.connection && !this.closingConnection && this.normalizer.pending === 0) {
      const request = this.waiting.shift() as { bytes: Uint8Array; closes: boolean };
      this.normalizer.noteRequest(request.bytes);
      if (request.closes) this.closingConnection = true;
      ok = this.connection.write(request.bytes);
    }
    if (this.waiting.length && !this.connection && !this.connecting) this.reconnect();
    // Requests waiting their turn are not backpressure: the caller may go on writing.
    return ok;
  }

  // Events are bound to one connection: a late event from a dropped connection is ignored.
  private openConnection(): Promise<ServiceConnection> {
    const slot: { connection?: ServiceConnection } = {};
    const events: ServiceConnectionEvents = {
      data: (bytes) => {
        if (slot.connection === this.connection) this.deliver(this.normalizer.push(bytes));
      },
      drain: () => {
        if (slot.connection === this.connection) this.drainHandler?.();
      },
      close: (error) => this.closed(slot.connection, error),
    };
    return this.connect(events).then((connection) => (slot.connection = connection));
  }

  private attach(connection: ServiceConnection): void {
    this.connection = connection;
    this.closingConnection = false;
    if (this.paused) connection.pause();
    this.send();
    this.drainHandler?.();
  }

  private closed(connection: ServiceConnection | undefined, error?: Error): void {
    if (connection === undefined || connection !== this.connection || this.finished) return;
    this.connection = undefined;
    this.closingConnection = false;
    this.deliver(this.normalizer.end());
    if (this.finished) return;
    if (this.normalizer.pending > 0)
      return this.fail(
        new UnavailableError(
          `the HTTP service (${this.remote}) closed the connection with ${this.normalizer.pending} requests unanswered`,
          { cause: error },
        ),
      );
    this.normalizer = new ResponseNormalizer(this.options);
    if (this.ending) return this.maybeEnd();
    this.send();
  }

  private deliver(normalized: Normalized): void {
    this.held.push(...normalized.responses);
    if (normalized.broken) {
      // The connection's framing is lost: drop it; waiting requests go out on a fresh one.
      const connection = this.connection;
      this.connection = undefined;
      this.normalizer = new ResponseNormalizer(this.options);
      connection?.destroy();
    } else if (normalized.closing) this.closingConnection = true;
    this.flush();
    this.send();
  }

  private flush(): void {
    while (!this.paused && this.dataHandler && this.held.length) this.dataHandler(this.held.shift() as Uint8Array);
    this.maybeEnd();
  }

  // The end waits for every answer: an HTTP service may abort requests in progress when its
  // connection ends (node:http does).
  private maybeEnd(): void {
    if (!this.ending || this.finished) return;
    if (this.normalizer.pending > 0 || this.held.length > 0 || this.waiting.length > 0) return;
    if (this.connection) this.connection.end();
    else this.finish();
  }

  private reconnect(): void {
    this.connecting = true;
    this.openConnection().then(
      (connection) => {
        this.connecting = false;
        if (this.finished) connection.destroy();
        else this.attach(connection);
      },
      (e: unknown) => {
        this.connecting = false;
        this.fail(e as Error);
      },
    );
  }

  private fail(error: Error): void {
    this.finish(error);
  }

  private finish(error?: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.endError = error;
    const connection = this.connection;
    this.connection = undefined;
    connection?.destroy();
    const handler = this.endHandler;
    this.endHandler = undefined;
    handler?.(error);
  }
}
