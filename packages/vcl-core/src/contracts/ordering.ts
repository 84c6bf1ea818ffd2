import type { Startable } from './lifecycle';
import type { MemberId } from './network';

/** How a group decides which side of a partition may deliver. */
export type PartitionMode =
  /** Only a view holding a strict majority of the configured members delivers (no split brain). */
  | 'primary-component'
  /**
   * Every view delivers. Only for 2-member groups that trust their failure detector: a real
   * partition then makes both members go on alone and their states diverge.
   */
  | 'fail-stop';

/** The group as configured: the universe of members a view is drawn from. */
export interface GroupConfig {
  /** This member's id. */
  readonly self: MemberId;
  /** Every configured member, in configuration order (the order views list members in). */
  readonly members: readonly MemberId[];
  /** Which views may deliver; default `primary-component`. */
  readonly partition: PartitionMode;
}

/** A membership view. Every member installs the same sequence of views. */
export interface View {
  /** View number, strictly increasing. */
  readonly id: number;
  /** The members of the view, in configuration order. */
  readonly members: readonly MemberId[];
  /** Whether this view may deliver (majority of configured members, or `fail-stop`). */
  readonly primary: boolean;
  /**
   * The cut: the global sequence number of the last message delivered before this view was
   * installed. The first message delivered in this view has `seq === cut + 1`.
   */
  readonly cut: number;
}

/** One message delivered in the total order. */
export interface Delivery {
  /** Id of the view the message was delivered in. */
  readonly view: number;
  /** Position in the total order: 1-based, the same at every member, gap-free at each member. */
  readonly seq: number;
  /** The member that broadcast it. */
  readonly sender: MemberId;
  /** The bytes given to `broadcast`, unchanged. */
  readonly payload: Uint8Array;
}

/** Where a broadcast ended up in the total order. */
export interface Ordered {
  /** Id of the view it was delivered in. */
  readonly view: number;
  /** Its position in the total order. */
  readonly seq: number;
}

/**
 * State transfer for joining members. When a view adds a member, one member of the previous view
 * captures the application state at the cut (after delivering `cut`, before anything later) and
 * the joiner installs it before its first delivery.
 */
export interface StateTransfer {
  /**
   * Called at a member of the previous view exactly at the cut. Deliveries of the new view wait
   * until the returned promise settles.
   */
  capture(cut: number): Uint8Array | Promise<Uint8Array>;
  /** Called at the joiner before its first delivery, with the bytes `capture` returned. */
  install(state: Uint8Array, cut: number): void | Promise<void>;
}

/** What an ordering plugin reports for `vcl status`. */
export interface OrderingStatus {
  /** The installed view, if any. */
  readonly view?: View;
  /** Plugin-specific role of this member (`sequencer`, `member`, `token-holder`, `joining`, ...). */
  readonly role: string;
  /** Messages broadcast here and not yet delivered. */
  readonly pending: number;
  /** The highest sequence number delivered here (0 before the first). */
  readonly delivered: number;
  /** Plugin-specific figures (retransmissions, rounds, ...). */
  readonly details?: Readonly<Record<string, number | string>>;
}

/**
 * A group member of a total-order group communication system. Guarantees (checked by the
 * conformance kit in `@vcl/core/testing`):
 *
 * 1. Total order: members deliver messages in one and the same order.
 * 2. Uniform agreement (safe delivery): a message is delivered only once every member of the view
 *    holds it, so if one member delivers it and crashes, every survivor delivers it too.
 * 3. Virtual synchrony: members that move together from view V to V' deliver the same set in V.
 * 4. Primary component: only a primary view delivers; a minority blocks.
 * 5. Integrity: no duplication, no creation, sender FIFO.
 * 6. Join: a restarted member rejoins, with state transferred at the exact cut of its first view.
 */
export interface OrderingProtocol extends Startable {
  /** This member's id. */
  readonly self: MemberId;
  /**
   * Broadcasts `payload` in the total order. Resolves once this member has delivered it (which,
   * by safe delivery, means every member of that view holds it). Waits while the group is blocked
   * (view change, minority, flow control). Rejects with `StoppedError` on `stop()`; `signal` only
   * stops the waiting: the message may still be delivered.
   */
  broadcast(payload: Uint8Array, signal?: AbortSignal): Promise<Ordered>;
  /** Sets the delivery handler (one; a later call replaces it). Called synchronously, in order. */
  onDeliver(handler: (delivery: Delivery) => void): void;
  /** Sets the view handler, called when a view is installed, before its first delivery. */
  onView(handler: (view: View) => void): void;
  /** Sets the state-transfer hook; without one, joiners receive an empty state. */
  setStateTransfer(hook: StateTransfer): void;
  /** The installed view, or undefined before the first one. */
  view(): View | undefined;
  /** A snapshot of this member's state for `vcl status` and metrics. */
  status(): OrderingStatus;
}
