import type { MemberId } from './network';

/** Who is on the other end of a link, as far as the transport can tell before authentication. */
export interface PeerInfo {
  /** `member` for member<->member links, `client` for client-side interceptors. */
  readonly kind: 'member' | 'client';
  /** Remote address (`127.0.0.1:53122`). */
  readonly address: string;
  /** The member id the peer claims to be (member links). */
  readonly claimedId?: MemberId;
  /** The peer certificate's subject common name, when the link is mutual TLS. */
  readonly tlsIdentity?: string;
}

/** An authenticated identity. */
export interface Principal {
  /** Stable id (a member id, or a client principal name). */
  readonly id: string;
  /** What kind of peer it is. */
  readonly kind: 'member' | 'client';
}

/** Maps a peer and its credentials to a principal. */
export interface Authenticator {
  /** Resolves with the principal, or rejects with `AuthenticationError` naming why. */
  authenticate(peer: PeerInfo, credentials?: Uint8Array): Promise<Principal>;
}

/** Something a principal asks to do, checked before it enters the total order. */
export interface AccessRequest {
  /** The substrate the request came through (`tcp`, `http`, `cli`). */
  readonly substrate: string;
  /** `connect` when a session opens, `request` for each request. */
  readonly type: 'connect' | 'request';
  /** HTTP method. */
  readonly method?: string;
  /** HTTP path. */
  readonly path?: string;
  /** Command line (argv). */
  readonly command?: readonly string[];
}

/** The verdict of an `Authorizer`. */
export type AccessDecision = { readonly allow: true } | { readonly allow: false; readonly reason: string };

/** Decides whether a principal may do something. */
export interface Authorizer {
  /** Allows or denies `request` for `principal`; never throws for a denial. */
  authorize(principal: Principal, request: AccessRequest): AccessDecision | Promise<AccessDecision>;
}

/** One auditable event. */
export interface AuditEvent {
  /** What happened. */
  readonly type:
    | 'auth.success'
    | 'auth.failure'
    | 'authz.denied'
    | 'view.change'
    | 'failover.served'
    | 'session.open'
    | 'session.close'
    /** A HELLO or OPEN for a session that another principal opened (refused). */
    | 'session.hijack'
    /** A connection or frame refused at a resource limit (size, count, timeout). */
    | 'limit.refused'
    /** A session closed because its client left more unacknowledged output than the cache bound. */
    | 'session.overflow'
    /** This member's service is gone; the member leaves the group. */
    | 'service.failed'
    | 'divergence';
  /** The member that saw it. */
  readonly member: MemberId;
  /** The principal concerned, if any. */
  readonly principal?: string;
  /** Why (for failures and denials). */
  readonly reason?: string;
  /** Further fields (session id, view id, ...). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Records auditable events (append-only). */
export interface Auditor {
  /** Records `event`; the time is added by the auditor. Never throws. */
  audit(event: AuditEvent): void;
}
