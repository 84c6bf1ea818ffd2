import { connect, type Socket } from 'node:net';
import { MdsError } from '../mds/errors';
import type {
  AttributeChanges,
  Attributes,
  DigestResult,
  DirEntry,
  LookupResult,
  RemoveResult,
  RenameResult,
} from '../mds/namespace';
import { LineSplitter, parseResponse, type Request, type Response } from '../mds/protocol';

/** The connection to the metadata server broke or could not be made; pending requests fail with it. */
export class MdsConnectionError extends Error {
  /** `ECONNREFUSED`, `ECONNRESET`, `ECLOSED` (closed by us or the peer), `ETIMEDOUT`, `EPROTO` (garbage answer). */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MdsConnectionError';
    this.code = code;
  }
}

/** Options of `MdsClient.connect`. */
export interface MdsClientOptions {
  /** Server host; default 127.0.0.1. */
  readonly host?: string;
  /** Server port. */
  readonly port: number;
  /** Give up connecting after this long; default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** Longest response line accepted, in bytes; default 16 MiB (a readdir of a big directory is long). */
  readonly maxLineBytes?: number;
}

/** Something that answers metadata requests: a `MdsClient`, or an in-process fake in tests. */
export interface MdsTransport {
  /** Sends one request; resolves with its decoded response (an error response does not reject). */
  send(request: Request): Promise<Response>;
  /** Sends one raw line (no newline) as it is; resolves with its decoded response. */
  sendLine(line: string): Promise<Response>;
}

interface Pending {
  resolve(response: Response): void;
  reject(error: Error): void;
}

/**
 * A client of the metadata server over one TCP connection. Requests are pipelined: each call
 * writes its line at once and the answers, which come back in request order, settle the calls in
 * order. Knows nothing of VCL: pointed at a VCL client-side interceptor it works unchanged.
 *
 * ```ts
 * const c = await MdsClient.connect({ port: 7000 });
 * await c.mkdir('/a');
 * await c.create('/a/f');
 * console.log((await c.readdir('/a')).entries);
 * await c.close();
 * ```
 */
export class MdsClient implements MdsTransport {
  private readonly pending: Pending[] = [];
  private readonly splitter: LineSplitter;
  private failure: MdsConnectionError | undefined;
  private readonly closed: Promise<void>;

  private constructor(
    private readonly socket: Socket,
    maxLineBytes: number,
  ) {
    this.splitter = new LineSplitter(maxLineBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      this.fail(
        new MdsConnectionError(err.code ?? 'ECONNRESET', `connection to the metadata server broke: ${err.message}`, {
          cause: err,
        }),
      ),
    );
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.fail(new MdsConnectionError('ECLOSED', 'connection to the metadata server closed'));
        resolve();
      }),
    );
  }

  /** Connects; rejects with `MdsConnectionError` when the server cannot be reached in time. */
  static connect(options: MdsClientOptions): Promise<MdsClient> {
    const host = options.host ?? '127.0.0.1';
    const timeoutMs = options.connectTimeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port: options.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new MdsConnectionError('ETIMEDOUT', `no connection to ${host}:${options.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          new MdsConnectionError(
            err.code ?? 'ECONNREFUSED',
            `cannot connect to ${host}:${options.port}: ${err.message}`,
            {
              cause: err,
            },
          ),
        );
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new MdsClient(socket, options.maxLineBytes ?? 16 * 1024 * 1024));
      });
    });
  }

  /** Requests sent and not yet answered. */
  get inflight(): number {
    return this.pending.length;
  }

  /** True once the connection broke or was closed. */
  get isClosed(): boolean {
    return this.failure !== undefined;
  }

  /** Sends one request; resolves with its response. Rejects only with `MdsConnectionError`. */
  send(request: Request): Promise<Response> {
    return this.sendLine(JSON.stringify(request));
  }

  /** Sends one raw line as it is (a newline is added); resolves with the server's answer to it. */
  sendLine(line: string): Promise<Response> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(`${line}\n`);
    });
  }

  /** Sends one request; resolves with its result, rejects with the server's `MdsError` or a `MdsConnectionError`. */
  async call<T>(request: Request): Promise<T> {
    const response = await this.send(request);
    if (!response.ok) throw new MdsError(response.error.code, response.error.message);
    return response.result as T;
  }

  /** Creates a directory. */
  mkdir(path: string, mode?: number): Promise<Attributes> {
    return this.call({ op: 'mkdir', path, ...(mode !== undefined ? { mode } : {}) });
  }

  /** Creates an empty file (EEXIST if it exists). */
  create(path: string, mode?: number): Promise<Attributes> {
    return this.call({ op: 'create', path, ...(mode !== undefined ? { mode } : {}) });
  }

  /** Resolves a path. */
  lookup(path: string): Promise<LookupResult> {
    return this.call({ op: 'lookup', path });
  }

  /** Resolves one name in the directory with handle `parent`. */
  lookupAt(parent: string, name: string): Promise<LookupResult> {
    return this.call({ op: 'lookup', parent, name });
  }

  /** Lists a directory by path or handle. */
  readdir(target: { path: string } | { handle: string }): Promise<{ entries: DirEntry[] }> {
    return this.call({ op: 'readdir', ...target });
  }

  /** Reads attributes by path or handle. */
  stat(target: { path: string } | { handle: string }): Promise<Attributes> {
    return this.call({ op: 'stat', ...target });
  }

  /** Changes attributes by path or handle. */
  setattr(target: { path: string } | { handle: string }, changes: AttributeChanges): Promise<Attributes> {
    return this.call({ op: 'setattr', ...target, ...changes });
  }

  /** Moves a file or directory. */
  rename(from: string, to: string): Promise<RenameResult> {
    return this.call({ op: 'rename', from, to });
  }

  /** Removes a file or an empty directory. */
  remove(path: string): Promise<RemoveResult> {
    return this.call({ op: 'remove', path });
  }

  /** A hash of the whole namespace. */
  digest(): Promise<DigestResult> {
    return this.call({ op: 'digest' });
  }

  /** Closes the connection after pending writes; unanswered requests reject with ECLOSED. */
  close(): Promise<void> {
    this.socket.end();
    return this.closed;
  }

  /** Closes the connection at once. */
  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    for (const piece of this.splitter.push(chunk)) {
      const waiter = this.pending.shift();
      if (!waiter || 'tooLong' in piece) {
        this.protocolError(
          waiter
            ? `response line of ${piece && 'tooLong' in piece ? piece.tooLong : 0} bytes is too long`
            : 'an answer came with no request waiting',
          waiter,
        );
        return;
      }
      let response: Response;
      try {
        response = parseResponse(piece.line);
      } catch (e) {
        this.protocolError((e as Error).message, waiter);
        return;
      }
      waiter.resolve(response);
    }
  }

  private protocolError(message: string, waiter: Pending | undefined): void {
    // Answers are matched to requests by order only, so after one bad answer the rest cannot be trusted.
    const err = new MdsConnectionError('EPROTO', `the metadata server's answer is not understood: ${message}`);
    waiter?.reject(err);
    this.fail(err);
    this.socket.destroy();
  }

  private fail(error: MdsConnectionError): void {
    if (!this.failure) this.failure = error;
    for (const p of this.pending.splice(0)) p.reject(error);
  }
}
