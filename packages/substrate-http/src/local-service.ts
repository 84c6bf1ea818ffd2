import type * as nodeHttp from 'node:http';
import { Duplex } from 'node:stream';
import { UnavailableError, type Conversation } from '@vcl/core';
import { HttpFramer, requestLimits } from './framers';
import { ResponseNormalizer, type Normalized } from './normalizer';
import type { ResolvedHttpOptions } from './options';

/**
 * The socket an in-process node:http server reads requests from and writes responses to. Node's
 * own HTTP machinery (llhttp, IncomingMessage, ServerResponse) runs unchanged on top of it, which
 * is what makes the internal API behave exactly like node:http.
 */
class InProcessSocket extends Duplex {
  // What node:http reads from a socket for logs and `req.socket`; replicas must see the same.
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 0;
  readonly localAddress = '127.0.0.1';
  readonly localPort = 0;
  readonly encrypted = false;

  constructor(private readonly output: (chunk: Uint8Array) => void) {
    super({ allowHalfOpen: true });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.output(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    done();
  }

  setTimeout(): this {
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  address(): { address: string; family: string; port: number } {
    return { address: '127.0.0.1', family: 'IPv4', port: 0 };
  }
}

/**
 * A conversation with an in-process node:http server, shaped like the one `dial` opens with an
 * external service: request messages in, normalized response messages out. It is how a
 * service-side interceptor reaches a program that uses the internal API.
 */
export class InProcessServiceConversation implements Conversation {
  readonly remote = 'in-process';
  private socket?: InProcessSocket;
  private normalizer: ResponseNormalizer;
  private readonly requests: HttpFramer;
  private dataHandler?: (bytes: Uint8Array) => void;
  private endHandler?: (error?: Error) => void;
  private readonly held: Uint8Array[] = [];
  private paused = false;
  private ending = false;
  private finished = false;
  private endError?: Error;

  constructor(
    private readonly server: nodeHttp.Server,
    private readonly options: ResolvedHttpOptions,
  ) {
    this.normalizer = new ResponseNormalizer(options);
    this.requests = new HttpFramer(requestLimits({ ...options, maxBodyBytes: Number.MAX_SAFE_INTEGER }));
  }

  write(bytes: Uint8Array): boolean {
    if (this.finished || this.ending) return false;
    let messages: Uint8Array[];
    try {
      messages = this.requests.push(bytes);
    } catch (e) {
      this.destroy(e as Error);
      return false;
    }
    for (const m of messages) {
      this.normalizer.noteRequest(m);
      this.connection().push(m);
    }
    return true;
  }

  onData(handler: (bytes: Uint8Array) => void): void {
    this.dataHandler = handler;
    this.flush();
  }

  onDrain(_handler: () => void): void {
    // Writes are never refused: the in-process server reads them as they come.
  }

  onEnd(handler: (error?: Error) => void): void {
    if (this.finished) queueMicrotask(() => handler(this.endError));
    else this.endHandler = handler;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.flush();
  }

  end(): void {
    if (this.ending || this.finished) return;
    this.ending = true;
    this.maybeEnd();
  }

  destroy(error?: Error): void {
    this.socket?.destroy();
    this.finish(error);
  }

  // One node:http connection at a time; a new one when the server closed the last (Connection:
  // close), just as the dial side reconnects to an external service.
  private connection(): InProcessSocket {
    if (this.socket) return this.socket;
    const socket = new InProcessSocket((chunk) => {
      if (socket === this.socket) this.deliver(this.normalizer.push(chunk));
    });
    socket.on('error', (e) => (this.endError ??= e));
    socket.on('finish', () => this.closed(socket));
    socket.on('close', () => this.closed(socket));
    this.socket = socket;
    this.server.emit('connection', socket);
    return socket;
  }

  private closed(socket: InProcessSocket): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    if (this.finished) return;
    this.deliver(this.normalizer.end());
    if (this.ending) return this.finish();
    if (this.normalizer.pending > 0)
      return this.finish(
        this.endError ?? new UnavailableError('the in-process server closed a connection with requests unanswered'),
      );
    this.normalizer = new ResponseNormalizer(this.options);
  }

  private deliver(normalized: Normalized): void {
    this.held.push(...normalized.responses);
    if (normalized.broken) {
      const socket = this.socket;
      this.socket = undefined;
      this.normalizer = new ResponseNormalizer(this.options);
      socket?.destroy();
    }
    this.flush();
  }

  private flush(): void {
    while (!this.paused && this.dataHandler && this.held.length) this.dataHandler(this.held.shift() as Uint8Array);
    this.maybeEnd();
  }

  // node:http aborts requests in progress when its socket ends, so the end waits for every response.
  private maybeEnd(): void {
    if (!this.ending || this.finished || this.normalizer.pending > 0 || this.held.length > 0) return;
    if (this.socket && !this.socket.readableEnded) this.socket.push(null);
    else if (!this.socket) this.finish();
  }

  private finish(error?: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.endError = error;
    this.socket?.destroy();
    const handler = this.endHandler;
    this.endHandler = undefined;
    handler?.(error);
  }
}
