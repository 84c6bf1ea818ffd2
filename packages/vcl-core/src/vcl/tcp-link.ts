import * as net from 'node:net';
import type { LinkFrame } from '../contracts/link-security';
import { MalformedFrameError, StoppedError, TimeoutError, VclError } from '../errors';
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FrameDecoder } from '../link/frame';
import type { LinkConnection, LinkListener, LinkTransport } from './link';
import type { MemberAddress } from './link-frames';

/** Options of a `TcpLinkTransport`. */
export interface TcpLinkOptions {
  /** Largest frame accepted; a larger announcement closes the link with an error frame. Default 16 MiB. */
  readonly maxFrameBytes?: number;
  /** Limit for opening a link, in ms. Default 2000. */
  readonly connectTimeoutMs?: number;
}

/** Interceptor links over TCP, in the link codec's frames (`encodeFrame` / `FrameDecoder`). */
export class TcpLinkTransport implements LinkTransport {
  private readonly maxFrameBytes: number;
  private readonly connectTimeoutMs: number;

  constructor(options: TcpLinkOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  }

  async listen(host: string, port: number, onLink: (link: LinkConnection) => void): Promise<LinkListener> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer({ noDelay: true }, (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      onLink(new TcpLink(socket, this.maxFrameBytes));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
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
        cleanup();
        resolve(new TcpLink(socket, this.maxFrameBytes));
      });
    });
  }
}

class TcpLink implements LinkConnection {
  readonly remote: string;
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
  ) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.decoder = new FrameDecoder({ maxFrameBytes });
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', (e) => (this.error ??= e));
    socket.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      this.closeHandler?.(this.error);
    });
  }

  send(frame: LinkFrame): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false;
    let bytes: Uint8Array;
    try {
      bytes = encodeFrame(frame, this.maxFrameBytes);
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
        if (this.frameHandler) this.frameHandler(f);
        else this.early.push(f);
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
