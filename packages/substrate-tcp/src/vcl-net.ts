import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import type { Conversation } from '@vcl/core';

/**
 * A `net.Socket`-like duplex stream over a VCL conversation (internal replication): what the
 * program writes goes to the client-side interceptor (or comes from the service-side one), with
 * stream backpressure mapped onto the conversation's pause/resume.
 */
export class VclSocket extends Duplex {
  /** Like `net.Socket.remoteAddress`: the conversation's description. */
  readonly remoteAddress: string;
  /** Always undefined (there is no TCP port behind an in-process conversation). */
  readonly remotePort: number | undefined = undefined;
  /** Always true once constructed (there is no connect phase to wait for). */
  readonly connecting = false;
  private pendingWrite: (() => void) | undefined;

  constructor(private readonly conversation: Conversation) {
    super({ allowHalfOpen: false });
    this.remoteAddress = conversation.remote;
    conversation.onData((bytes) => {
      if (!this.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))) conversation.pause();
    });
    conversation.onDrain(() => {
      const cb = this.pendingWrite;
      this.pendingWrite = undefined;
      cb?.();
    });
    conversation.onEnd((error) => {
      if (error) this.destroy(error);
      else {
        this.push(null);
        if (!this.writableEnded) this.end();
      }
    });
  }

  override _read(): void {
    this.conversation.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.conversation.write(chunk)) callback();
    else this.pendingWrite = () => callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.conversation.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.conversation.destroy(error ?? undefined);
    callback(error);
  }

  /** Accepted for `net.Socket` compatibility; has no effect. */
  setNoDelay(): this {
    return this;
  }

  /** Accepted for `net.Socket` compatibility; has no effect. */
  setKeepAlive(): this {
    return this;
  }

  /** Accepted for `net.Socket` compatibility; has no effect. */
  setTimeout(): this {
    return this;
  }

  /** Accepted for `net.Socket` compatibility; has no effect. */
  ref(): this {
    return this;
  }

  /** Accepted for `net.Socket` compatibility; has no effect. */
  unref(): this {
    return this;
  }
}

/** The service side of internal replication: where sessions come from (`InProcessService`). */
export interface VclSessionSource {
  /** Sets the handler for each new session's conversation. */
  accept(handler: (conversation: Conversation) => void): void;
}

/** The client side of internal replication: opens sessions (`ClientInterceptor`). */
export interface VclSessionOpener {
  /** A new session, as the conversation the program reads and writes. */
  connect(): Conversation;
}

/** A `net.Server`-like server whose connections are VCL sessions. */
export class VclServer extends EventEmitter {
  private listening = false;
  private readonly held: VclSocket[] = [];

  constructor(source: VclSessionSource, connectionListener?: (socket: VclSocket) => void) {
    super();
    if (connectionListener) this.on('connection', connectionListener);
    source.accept((conversation) => {
      const socket = new VclSocket(conversation);
      if (this.listening) this.emit('connection', socket);
      else this.held.push(socket);
    });
  }

  /**
   * Starts handing sessions to `connection` listeners. Address arguments are accepted for
   * `net.Server` compatibility and ignored (the service-side interceptor owns the address); a
   * trailing function is the `listening` callback.
   */
  listen(...args: unknown[]): this {
    const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined;
    if (cb) this.once('listening', cb);
    this.listening = true;
    queueMicrotask(() => {
      this.emit('listening');
      for (const s of this.held.splice(0)) this.emit('connection', s);
    });
    return this;
  }

  /** Stops handing out sessions (open ones stay open). */
  close(cb?: (error?: Error) => void): this {
    this.listening = false;
    queueMicrotask(() => {
      this.emit('close');
      cb?.();
    });
    return this;
  }

  /** Whether `listen` was called. */
  get isListening(): boolean {
    return this.listening;
  }

  /** For `net.Server` compatibility: there is no local TCP address. */
  address(): null {
    return null;
  }
}

/** The `net`-compatible API of internal replication over TCP, from `vclNet(...)`. */
export interface VclNet {
  /** Like `net.createServer`: each connection is a VCL session (needs `service`). */
  createServer(connectionListener?: (socket: VclSocket) => void): VclServer;
  createServer(options: object, connectionListener?: (socket: VclSocket) => void): VclServer;
  /** Like `net.connect`: opens a VCL session (needs `client`); address arguments are ignored. */
  connect(...args: unknown[]): VclSocket;
  /** Alias of `connect`. */
  createConnection(...args: unknown[]): VclSocket;
}

/**
 * A `net`-compatible module for internal replication: a program written against `net` swaps in
 * `vclNet({ service })` (its server side) or `vclNet({ client })` (its client side) and runs
 * replicated without other changes.
 */
export function vclNet(sides: { readonly service?: VclSessionSource; readonly client?: VclSessionOpener }): VclNet {
  const connect = (...args: unknown[]): VclSocket => {
    if (!sides.client) throw new Error('vclNet: connect needs a client-side interceptor ({ client })');
    const socket = new VclSocket(sides.client.connect());
    const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined;
    queueMicrotask(() => {
      socket.emit('connect');
      socket.emit('ready');
      cb?.();
    });
    return socket;
  };
  return {
    createServer(a?: object | ((socket: VclSocket) => void), b?: (socket: VclSocket) => void): VclServer {
      if (!sides.service) throw new Error('vclNet: createServer needs a service-side interceptor ({ service })');
      const listener = typeof a === 'function' ? (a as (socket: VclSocket) => void) : b;
      return new VclServer(sides.service, listener);
    },
    connect,
    createConnection: connect,
  };
}
