import type { LinkFrame } from '../contracts/link-security';
import type { VclError } from '../errors';
import type { MemberAddress } from './link-frames';

/**
 * One link between a client-side and a service-side interceptor, carrying whole link frames (the
 * link codec's `{ type, flags, body }`) both ways. Implemented over TCP (`TcpLinkTransport`) and in
 * memory for tests.
 */
export interface LinkConnection {
  /** The remote end, for logs (`127.0.0.1:53122`). */
  readonly remote: string;
  /** Who the link's security handshake proved the other end to be; undefined without link security. */
  readonly identity?: LinkIdentity;
  /** Sends one frame; false when the caller should wait for `onDrain`. Ignored after close. */
  send(frame: LinkFrame): boolean;
  /** Sets the handler for incoming frames. */
  onFrame(handler: (frame: LinkFrame) => void): void;
  /** Sets the handler told when a refused `send` may be retried. */
  onDrain(handler: () => void): void;
  /**
   * Sets the handler told when the transport cannot cut the byte stream into frames (bad magic or
   * version, a frame over the size limit); the link reads nothing more afterwards, the handler may
   * still `send`.
   */
  onInvalid(handler: (error: VclError) => void): void;
  /** Sets the handler told once when the link is gone (`error` set if it broke). */
  onClose(handler: (error?: Error) => void): void;
  /**
   * Optional: sets the largest frame accepted from now on (a small limit until the peer is
   * authenticated and its session open, the full one after); a larger announcement is invalid.
   */
  setMaxFrameBytes?(bytes: number): void;
  /** Closes after the frames already sent are flushed. */
  close(): void;
  /** Closes at once. */
  destroy(error?: Error): void;
}

/** The other end of a link as its security handshake proved it. */
export interface LinkIdentity {
  /** The proven id (a member id, or a client's certificate identity). */
  readonly peerId: string;
  /** The peer certificate's identity, on a mutual-TLS link. */
  readonly tlsIdentity?: string;
}

/** A listening link endpoint. */
export interface LinkListener {
  /** The bound address (real port when 0 was asked for). */
  readonly host: string;
  /** The bound port. */
  readonly port: number;
  /** Stops accepting and closes every link it accepted. */
  close(): Promise<void>;
}

/** Listens for and opens links between interceptors. */
export interface LinkTransport {
  /** Accepts links on `host:port` (service-side interceptor). */
  listen(host: string, port: number, onLink: (link: LinkConnection) => void): Promise<LinkListener>;
  /** Opens a link to a member (client-side interceptor); rejects if it cannot. */
  connect(address: MemberAddress, signal?: AbortSignal): Promise<LinkConnection>;
}
