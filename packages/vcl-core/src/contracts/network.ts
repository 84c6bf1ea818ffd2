import type { Startable } from './lifecycle';

/** A group member's id, as named in the stack file (`n1`). */
export type MemberId = string;

/**
 * Message links between group members.
 *
 * Delivery is best effort: a message may be lost (always when a link breaks, on the simulator also
 * at random), duplicated or reordered. Ordering protocols must tolerate all three; the real TCP
 * network is FIFO while a connection lasts, which makes retransmission rare, never unnecessary.
 */
export interface Network extends Startable {
  /** This member's id. */
  readonly self: MemberId;
  /**
   * Grows every time this member restarts (real network: start time in ms; simulator: restart
   * count), so protocols can tell a restarted member's messages from its previous life's.
   */
  readonly incarnation: number;
  /** Every configured member, this one included, in configuration order. */
  readonly members: readonly MemberId[];
  /** Sends `bytes` to member `to` (may be `self`); never throws for an unreachable peer. */
  send(to: MemberId, bytes: Uint8Array): void;
  /** Sets the handler for incoming messages (one handler; a later call replaces it). */
  onMessage(handler: (from: MemberId, bytes: Uint8Array) => void): void;
  /** Sets the handler told when the link to `peer` is known to be broken (a hint, not a verdict). */
  onPeerDown(handler: (peer: MemberId) => void): void;
}
