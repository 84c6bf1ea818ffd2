import * as net from 'node:net';
import { FrameTooLargeError, StoppedError, TimeoutError, VclError } from '../errors';
import type { LinkConnection, LinkListener, LinkTransport } from './link';
import type { MemberAddress } from './link-frames';

/** Options of a `TcpLinkTransport`. */
export interface TcpLinkOptions {
  /** Largest frame accepted; a larger announcement closes the link with an error frame. Default 16 MiB. */
  readonly maxFrameBytes?: number;
  /** Limit for opening a link, in ms. Default 2000. */
  readonly connectTimeoutMs?: number;
}

/** Interceptor links over TCP: each frame is a u32 big-endian length followed by the frame. */
export class TcpLinkTransport implements LinkTransport {
  private readonly maxFrameBytes: number;
  private readonly connectTimeoutMs: number;

  constructor(options: TcpLinkOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? 16 * 1024 * 1024;
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
  private frameHandler: ((frame: Uint8Array) => void) | undefined;
  private invalidHandler: ((error: VclError) => void) | undefined;
  private closeHandler: ((error?: Error) => void) | undefined;
  private readonly early: Uint8Array[] = [];
  private parts: Buffer[] = [];
  private held = 0;
  private broken = false;
  private closed = false;
  private error: Error | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly maxFrameBytes: number,
  ) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', (e) => (this.error ??= e));
    socket.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      this.closeHandler?.(this.error);
    });
  }

  send(frame: Uint8Array): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false;
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE(frame.length, 0);
    this.socket.cork();
    this.socket.write(header);
    const ok = this.socket.write(frame);
    this.socket.uncork();
    return ok;
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
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
    this.parts.push(chunk);
    this.held += chunk.length;
    while (this.held >= 4) {
      const head = this.peek(4);
      const len = head.readUInt32BE(0);
      if (len > this.maxFrameBytes) {
        // The stream cannot be resynchronised after a bad length: report it once and read no more.
        this.broken = true;
        this.socket.pause();
        const error = new FrameTooLargeError(`link frame of ${len} bytes exceeds the maximum of ${this.maxFrameBytes}`);
        if (this.invalidHandler) this.invalidHandler(error);
        else this.destroy(error);
        return;
      }
      if (this.held < 4 + len) return;
      this.take(4);
      const frame = this.take(len);
      if (this.frameHandler) this.frameHandler(frame);
      else this.early.push(frame);
      if (this.broken || this.closed) return;
    }
  }

  private peek(n: number): Buffer {
    if (this.parts[0]!.length >= n) return this.parts[0]!;
    this.parts = [Buffer.concat(this.parts)];
    return this.parts[0]!;
  }

  private take(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0);
    this.held -= n;
    const first = this.parts[0]!;
    if (first.length === n) {
      this.parts.shift();
      return first;
    }
    if (first.length > n) {
      this.parts[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const all = Buffer.concat(this.parts);
    this.parts = all.length > n ? [all.subarray(n)] : [];
    return all.subarray(0, n);
  }
}
