import { EventEmitter } from 'node:events';
import * as nodeHttp from 'node:http';
import type { AddressInfo } from 'node:net';
import { realClock, type Clock, type Conversation, type Listener } from '@vcl/core';
import { HttpSubstrate } from './http-substrate';
import { InProcessServiceConversation } from './local-service';
import { resolveHttpOptions, type HttpOptions, type ResolvedHttpOptions } from './options';

/** A request handler, as node:http's `createServer` takes it. */
export type RequestListener = (req: nodeHttp.IncomingMessage, res: nodeHttp.ServerResponse) => void;

/** Options of `createServer`: the substrate's options (limits, `sendDate`). */
export type ServerOptions = HttpOptions;

/** `listen`'s options object form, as node:http takes it (TCP only). */
export interface ListenOptions {
  /** Port; 0 or absent for any free port. */
  readonly port?: number | string;
  /** Address to bind; default 127.0.0.1. */
  readonly host?: string;
}

/**
 * An HTTP server with node:http's API (the common calls: `listen`, `close`, `address`, the
 * `request`/`listening`/`close`/`error` events, streaming `IncomingMessage`/`ServerResponse`)
 * whose requests arrive as the substrate's framed messages. Requests and responses are handled by
 * node:http itself on an in-process connection, so handlers behave exactly as under node:http.
 *
 * `listen` serves HTTP through the substrate (framing, limits, 400/413) on this process alone.
 * `conversation()` is the in-process service for a service-side interceptor: the way replicated
 * mode attaches, where every replica's server receives the same requests in the same order.
 */
export class Server extends EventEmitter {
  private readonly inner: nodeHttp.Server;
  private readonly substrate: HttpSubstrate;
  private listener?: Listener;
  private starting = false;
  private readonly conversations = new Set<Conversation>();
  /** Accepted for node:http compatibility; the substrate's limits apply instead. */
  maxHeadersCount: number | null = null;
  /** Accepted for node:http compatibility; there is no socket idle timeout on in-process connections. */
  timeout = 0;
  /** Accepted for node:http compatibility. */
  keepAliveTimeout = 5000;
  /** Accepted for node:http compatibility. */
  headersTimeout = 60000;
  /** Accepted for node:http compatibility. */
  requestTimeout = 300000;

  constructor(
    readonly options: ResolvedHttpOptions,
    clock: Clock = realClock(),
  ) {
    super();
    this.substrate = new HttpSubstrate(options, clock);
    this.inner = nodeHttp.createServer({ maxHeaderSize: options.maxHeaderBytes + 64, requireHostHeader: false });
    for (const t of ['timeout', 'keepAliveTimeout', 'headersTimeout', 'requestTimeout'] as const) this.inner[t] = 0;
    this.inner.on('request', (req: nodeHttp.IncomingMessage, res: nodeHttp.ServerResponse) => {
      res.sendDate = options.sendDate;
      this.emit('request', req, res);
    });
    this.inner.on('clientError', (error: Error, socket: { destroy(): void }) => {
      if (this.listenerCount('clientError')) this.emit('clientError', error, socket);
      else socket.destroy();
    });
  }

  /** Whether the server is listening. */
  get listening(): boolean {
    return this.listener !== undefined;
  }

  /**
   * Starts serving on a TCP port (node:http's forms: `listen(port?, host?, backlog?, cb?)`,
   * `listen({ port, host }, cb?)`, `listen(cb?)`). Emits `listening`, or `error` if it cannot bind.
   */
  listen(...args: unknown[]): this {
    const callback = typeof args[args.length - 1] === 'function' ? (args.pop() as () => void) : undefined;
    let port: unknown = args[0];
    let host: unknown = typeof args[1] === 'string' ? args[1] : undefined;
    if (typeof args[0] === 'object' && args[0] !== null) ({ port, host } = args[0] as ListenOptions);
    if (typeof port === 'string' && /^\d+$/.test(port)) port = Number(port);
    if (callback) this.once('listening', callback);
    if (port !== undefined && port !== null && (typeof port !== 'number' || port < 0 || port > 65535)) {
      queueMicrotask(() =>
        this.emit('error', new RangeError(`listen: port must be a number in 0..65535, got ${String(port)}`)),
      );
      return this;
    }
    if (this.listener || this.starting) {
      queueMicrotask(() => this.emit('error', new Error('listen: the server is already listening')));
      return this;
    }
    this.starting = true;
    this.substrate
      .listen({ host: (host as string | undefined) ?? '127.0.0.1', port: (port as number | undefined) ?? 0 }, (c) =>
        this.serve(c),
      )
      .then(
        (listener) => {
          this.starting = false;
          this.listener = listener;
          this.emit('listening');
        },
        (error: unknown) => {
          this.starting = false;
          this.emit('error', error);
        },
      );
    return this;
  }

  /** The bound address, as node:http reports it, or null when not listening. */
  address(): AddressInfo | null {
    const e = this.listener?.endpoint;
    if (!e) return null;
    return {
      address: e.host as string,
      family: (e.host as string).includes(':') ? 'IPv6' : 'IPv4',
      port: e.port as number,
    };
  }

  /** Stops accepting, ends every conversation, and calls `callback` (and emits `close`) once closed. */
  close(callback?: (error?: Error) => void): this {
    const listener = this.listener;
    this.listener = undefined;
    for (const c of this.conversations) c.destroy();
    if (!listener) {
      queueMicrotask(() => callback?.(new Error('close: the server is not running')));
      return this;
    }
    void listener.close().then(() => {
      callback?.();
      this.emit('close');
    });
    return this;
  }

  /** Ends every conversation at once (node:http's `closeAllConnections`). */
  closeAllConnections(): void {
    for (const c of this.conversations) c.destroy();
  }

  /** Accepted for node:http compatibility: in-process connections have no idle state to close. */
  closeIdleConnections(): void {}

  /** Accepted for node:http compatibility (there is no socket idle timeout); returns the server. */
  setTimeout(_ms?: number, _callback?: () => void): this {
    return this;
  }

  /**
   * A conversation with this server as an in-process service: request messages in, response
   * messages out, like `dial` to an external one. A service-side interceptor uses it to run this
   * program as a replica.
   */
  conversation(): Conversation {
    return new InProcessServiceConversation(this.inner, this.options);
  }

  // Standalone mode: one client connection, framed by the substrate, served in process.
  private serve(client: Conversation): void {
    const framer = this.substrate.requestFramer();
    const service = this.conversation();
    this.conversations.add(client);
    let failed = false;
    service.onData((response) => client.write(response));
    service.onEnd((error) => {
      this.conversations.delete(client);
      if (error && !failed) client.destroy(error);
      else client.end();
    });
    client.onData((bytes) => {
      if (failed) return;
      try {
        for (const m of framer.push(bytes)) service.write(m);
      } catch (e) {
        // Malformed or oversize input: the protocol's own error reply, then the connection ends
        // (its framing is lost); the server goes on serving every other connection.
        failed = true;
        this.emit('clientError', e, client);
        client.write(this.substrate.errorResponse(e as Error));
        client.end();
        service.end();
      }
    });
    client.onEnd(() => {
      this.conversations.delete(client);
      service.end();
    });
  }
}

/**
 * Creates a `Server`, as node:http's `createServer` does: `createServer(handler)` or
 * `createServer(options, handler)`. Switching an http server to VCL is a change of import.
 */
export function createServer(handler?: RequestListener): Server;
export function createServer(options: ServerOptions, handler?: RequestListener): Server;
export function createServer(a?: ServerOptions | RequestListener, b?: RequestListener): Server {
  const handler = typeof a === 'function' ? a : b;
  const server = new Server(resolveHttpOptions(typeof a === 'function' ? undefined : a, 'createServer options'));
  if (handler) server.on('request', handler);
  return server;
}
