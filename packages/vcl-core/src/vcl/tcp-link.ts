import * as net from 'node:net';
import type { LinkFrame, LinkSecurity, SecuredLink } from '../contracts/link-security';
import { MalformedFrameError, StoppedError, TimeoutError, VclError } from '../errors';
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FrameDecoder } from '../link/frame';
import type { LinkConnection, LinkIdentity, LinkListener, LinkTransport } from './link';
import type { MemberAddress } from './link-frames';
import { establishLink, type EstablishedLink } from './link-setup';

/** Options of a `TcpLinkTransport`. */
export interface TcpLinkOptions {
  /** Largest frame accepted; a larger announcement closes the link with an error frame. Default 16 MiB. */
  readonly maxFrameBytes?: number;
  /** Limit for opening a link, in ms (with `security`, including its handshake). Default 2000. */
  readonly connectTimeoutMs?: number;
  /**
   * Link integrity and authentication (the stack's `aaa.link` / `aaa.clients` hooks): each link
   * first exchanges hellos and runs the hook's handshake, then every frame is sealed and opened
   * by it. Default none: frames travel as they are.
   */
  readonly security?: LinkSecurity;
  /** This end's id in the security hello: the member id, or the client-side interceptor's name. Default `client`. */
  readonly localId?: string;
  /** Told about each accepted link that failed its security set-up (it is already closed). */
  readonly onRefused?: (remote: string, error: Error) => void;
  /**
   * Listening: sockets open at once, counting those still in their security set-up; the kernel
   * accepts and Node closes any beyond (`onDropped` is told). Default unlimited.
   */
  readonly maxSockets?: number;
  /**
   * Listening: the largest frame an accepted link takes until its owner raises the limit with
   * `setMaxFrameBytes` (the peer is authenticated and its session open). Default `maxFrameBytes`.
   */
  readonly preAuthFrameBytes?: number;
  /** Told about each connection closed at once because `maxSockets` were open. */
  readonly onDropped?: (remote: string) => void;
  /** Told when accepting fails (`EMFILE`: out of file descriptors); the listener goes on. */
  readonly onAcceptError?: (error: Error) => void;
}

/** Interceptor links over TCP, in the link codec's frames (`encodeFrame` / `FrameDecoder`). */
export class TcpLinkTransport implements LinkTransport {
  private readonly maxFrameBytes: number;
  private readonly connectTimeoutMs: number;

  constructor(private readonly options: TcpLinkOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  }

  /** Runs the security set-up of a new socket when there is a hook; the link's state afterwards. */
  private async secure(
    socket: net.Socket,
    role: 'dialer' | 'acceptor',
    expectedPeer?: string,
  ): Promise<EstablishedLink | undefined> {
    const security = this.options.security;
    if (!security) return undefined;
    return establishLink(socket, {
      security,
      role,
      localId: this.options.localId ?? 'client',
      peerKind: role === 'dialer' ? 'member' : 'client',
      address: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`,
      timeoutMs: this.connectTimeoutMs,
      ...(expectedPeer !== undefined ? { expectedPeer } : {}),
    });
  }

  async listen(host: string, port: number, onLink: (link: LinkConnection) => void): Promise<LinkListener> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer({ noDelay: true }, (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      const first = this.options.preAuthFrameBytes;
      if (!this.options.security) return onLink(new TcpLink(socket, this.maxFrameBytes, undefined, first));
      // Until the handshake succeeds the peer is unproven: nothing it sends reaches the interceptor.
      socket.on('error', () => undefined);
      this.secure(socket, 'acceptor').then(
        (established) => {
          if (socket.destroyed) return;
          onLink(new TcpLink(established!.socket, this.maxFrameBytes, established, first));
        },
        (error: Error) => {
          this.options.onRefused?.(`${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, error);
          setTimeout(() => socket.destroy(), 100).unref();
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    if (this.options.maxSockets !== undefined) server.maxConnections = this.options.maxSockets;
    server.on('drop', (d?: { remoteAddress?: string; remotePort?: number }) =>
      this.options.onDropped?.(`${d?.remoteAddress ?? '?'}:${d?.remotePort ?? '?'}`),
    );
    // Without a handler an accept error (EMFILE) would be thrown; with one, it is told and the
    // server keeps listening (libuv retries the accept).
    server.on('error', (error) => this.options.onAcceptError?.(error));
    const address = server.address() as net.AddressInfo;
    return {
      host: address.address,
      port: address.port,
      close: () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    };
  }

  connect(address: MemberAddress, signal?: AbortSignal): Promise<LinkConnection> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new StoppedError('connect aborted'));
      const socket = net.connect({ host: address.host, port: address.port, noDelay: true });
      const fail = (error: Error): void => {
        cleanup();
        socket.destroy();
        reject(error);
      };
      const onError = (e: Error): void =>
        fail(new VclError(`member ${address.id} at ${address.host}:${address.port}: ${e.message}`, { cause: e }));
      const onAbort = (): void => fail(new StoppedError('connect aborted'));
      const timer = setTimeout(
        () => fail(new TimeoutError(`member ${address.id}: no connection within ${this.connectTimeoutMs} ms`)),
        this.connectTimeoutMs,
      );
      const cleanup = (): void => {
        clearTimeout(timer);
        socket.off('error', onError);
        signal?.removeEventListener('abort', onAbort);
      };
      socket.once('error', onError);
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        if (!this.options.security) {
          cleanup();
          return resolve(new TcpLink(socket, this.maxFrameBytes));
        }
        socket.off('error', onError);
        socket.on('error', () => undefined);
        this.secure(socket, 'dialer', address.id).then(
          (established) => {
            cleanup();
            resolve(new TcpLink(established!.socket, this.maxFrameBytes, established));
          },
          (error: Error) => fail(error instanceof VclError ? error : new VclError(error.message, { cause: error })),
        );
      });
    });
  }
}

class TcpLink implements LinkConnection {
  readonly remote: string;
  readonly identity: LinkIdentity | undefined;
  private readonly secured: SecuredLink | undefined;
  private frameHandler: ((frame: LinkFrame) => void) | undefined;
  private invalidHandler: ((error: VclError) => void) | undefined;
  private closeHandler: ((error?: Error) => void) | undefined;
  private readonly early: LinkFrame[] = [];
  private readonly decoder: FrameDecoder;
  private broken = false;
  private closed = false;
  private error: Error | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly maxFrameBytes: number,
    established?: EstablishedLink,
    firstMaxFrameBytes = maxFrameBytes,
  ) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.decoder = established?.decoder ?? new FrameDecoder({ maxFrameBytes });
    this.decoder.maxFrameBytes = Math.min(firstMaxFrameBytes, maxFrameBytes);
    this.secured = established?.secured;
    this.identity = established
      ? {
          peerId: established.peerId,
          ...(established.tlsIdentity !== undefined ? { tlsIdentity: established.tlsIdentity } : {}),
        }
      : undefined;
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', (e) => (this.error ??= e));
    socket.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      this.closeHandler?.(this.error);
    });
    if (established) {
      // Frames that arrived behind the handshake are still in the decoder.
      this.read(Buffer.alloc(0));
      if (established.paused) socket.resume();
    }
  }

  send(frame: LinkFrame): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false;
    let bytes: Uint8Array;
    try {
      bytes = encodeFrame(this.secured ? this.secured.seal(frame) : frame, this.maxFrameBytes);
    } catch (error) {
      this.destroy(error as Error);
      return false;
    }
    return this.socket.write(bytes);
  }

  onFrame(handler: (frame: LinkFrame) => void): void {
    this.frameHandler = handler;
    for (const f of this.early.splice(0)) handler(f);
  }

  onDrain(handler: () => void): void {
    this.socket.on('drain', handler);
  }

  onInvalid(handler: (error: VclError) => void): void {
    this.invalidHandler = handler;
  }

  onClose(handler: (error?: Error) => void): void {
    this.closeHandler = handler;
  }

  setMaxFrameBytes(bytes: number): void {
    this.decoder.maxFrameBytes = Math.min(bytes, this.maxFrameBytes);
  }

  close(): void {
    this.socket.end();
  }

  destroy(error?: Error): void {
    this.error ??= error;
    this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    if (this.broken) return;
    try {
      // Frames before a bad one in the same chunk are still acted on.
      this.decoder.feed(chunk);
      for (let f = this.decoder.next(); f; f = this.decoder.next()) {
        const opened = this.secured ? this.secured.open(f) : f;
        if (this.frameHandler) this.frameHandler(opened);
        else this.early.push(opened);
        if (this.closed) return;
      }
    } catch (error) {
      // The stream cannot be resynchronised after a bad frame: report it once and read no more.
      this.broken = true;
      this.socket.pause();
      const e = error instanceof VclError ? error : new MalformedFrameError(String(error));
      if (this.invalidHandler) this.invalidHandler(e);
      else this.destroy(e);
    }
  }
}
