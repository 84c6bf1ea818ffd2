import type { Socket } from 'node:net';
import type { PeerInfo } from './aaa';

/** A link frame as a security hook sees it (the link codec's `Frame`). */
export interface LinkFrame {
  /** Frame type, 0-255. */
  readonly type: number;
  /** Flag bits, 0-255. */
  readonly flags: number;
  /** The body bytes. */
  readonly body: Uint8Array;
}

/** Which end of a link: the one that dialled, or the one that accepted. */
export type LinkRole = 'dialer' | 'acceptor';

/**
 * One end of a link while its security hook authenticates it. The link has already exchanged
 * hellos (each end's claimed id); handshake messages travel in their own frames, before any
 * application frame.
 */
export interface LinkHandshake {
  /** Which end this is. */
  readonly role: LinkRole;
  /** This end's id (a member id, or a client-side interceptor's name). */
  readonly localId: string;
  /** The id the other end claims in its hello; not proven until the handshake says so. */
  readonly claimedId: string;
  /**
   * The two hello bodies, the dialer's first. A hook binds them into its proof so that nothing in
   * either hello (ids, incarnation) can be altered in transit.
   */
  readonly transcript: Uint8Array;
  /** Transport facts: remote address, and the certificate identity on a TLS link. */
  readonly peer: PeerInfo;
  /** Aborted when the link closes or the handshake deadline passes. */
  readonly signal: AbortSignal;
  /** Sends one handshake message to the other end. */
  send(message: Uint8Array): void;
  /** The next handshake message from the other end; rejects once `signal` aborts. */
  receive(): Promise<Uint8Array>;
}

/** A link that passed its handshake: the proven peer identity and per-frame protection. */
export interface SecuredLink {
  /** The authenticated id of the other end; a link whose `peerId` differs from the claimed id is refused. */
  readonly peerId: string;
  /** True when `seal` and `open` return frames unchanged, so the link may skip calling them. */
  readonly transparent?: boolean;
  /**
   * Protects an outgoing frame (e.g. appends an HMAC over a per-link sequence number, type, flags
   * and body). Called once per frame, in send order.
   */
  seal(frame: LinkFrame): LinkFrame;
  /**
   * Checks and strips the protection of an incoming frame, in receive order. Throws
   * `IntegrityError` for a tampered, replayed or reordered frame; the link is then closed.
   */
  open(frame: LinkFrame): LinkFrame;
}

/**
 * Link integrity and peer authentication for member<->member and client<->service interceptor
 * links. Two shapes fit: a shared-key hook (nonce handshake, HMAC per frame with per-link sequence
 * numbers) implements `handshake`, `seal` and `open`; a mutual-TLS hook implements `secureSocket`
 * and proves identity from the certificate (`peer.tlsIdentity`) with transparent `seal`/`open`.
 * A peer whose handshake rejects is disconnected and logged, and never delivers a message.
 */
export interface LinkSecurity {
  /** Name for logs and hellos (`none`, `hmac`, `tls`); both ends of a link must use the same. */
  readonly name: string;
  /**
   * Optionally wraps a freshly connected TCP socket before any frame flows (e.g. a TLS socket),
   * resolving once it is secure. `identity` (a certificate subject) becomes `peer.tlsIdentity`.
   */
  secureSocket?(socket: Socket, role: LinkRole, signal: AbortSignal): Promise<{ socket: Socket; identity?: string }>;
  /** Authenticates the other end; rejects with `AuthenticationError` naming why. */
  handshake(link: LinkHandshake): Promise<SecuredLink>;
}
