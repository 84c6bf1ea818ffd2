import { createHash } from 'node:crypto';
import type { MemberId } from '../../contracts/network';
import type { PartitionMode, View } from '../../contracts/ordering';

/** The guarantees the conformance kit checks (DESIGN.md "OrderingProtocol"), plus liveness. */
export type Guarantee =
  | 'total-order'
  | 'agreement'
  | 'virtual-synchrony'
  | 'primary-component'
  | 'integrity'
  | 'join'
  | 'liveness'
  /** Progress under churn: a primary component with work pending delivers within a bound (`progressBoundMs`). */
  | 'progress';

/** One broken guarantee found in a history. */
export interface Violation {
  /** Which guarantee. */
  readonly guarantee: Guarantee;
  /** What happened, naming members (`n1#2` is incarnation 2 of n1), seqs, views and message ids. */
  readonly message: string;
  /** The member whose record shows the violation, when there is one. */
  readonly member?: MemberId;
  /** Its incarnation. */
  readonly incarnation?: number;
  /** The sequence number involved. */
  readonly seq?: number;
  /** The view id involved. */
  readonly view?: number;
}

/** A view as one incarnation installed it. */
export interface RecordedView extends View {
  /** Virtual time of installation. */
  readonly at: number;
  /** Position in this incarnation's event order (views, deliveries, state installs and captures share it). */
  readonly step: number;
}

/** A delivery as one incarnation saw it (the payload replaced by the message id it encodes). */
export interface RecordedDelivery {
  /** The view id the plugin reported. */
  readonly view: number;
  /** The sequence number the plugin reported. */
  readonly seq: number;
  /** The sender the plugin reported. */
  readonly sender: MemberId;
  /** The message id decoded from the payload, or `undefined` when the payload is not a workload message. */
  readonly messageId: string | undefined;
  /** Virtual time of delivery. */
  readonly at: number;
  /** Position in this incarnation's event order. */
  readonly step: number;
}

/** A state installed at a joiner through `StateTransfer.install`. */
export interface RecordedStateInstall {
  /** The cut `install` was called with. */
  readonly cut: number;
  /** The application digest carried by the state. */
  readonly digest: string;
  /** The cut the donor captured the state at (carried in the state bytes). */
  readonly capturedCut: number;
  /** Virtual time. */
  readonly at: number;
  /** Position in this incarnation's event order. */
  readonly step: number;
}

/** A state captured at a donor through `StateTransfer.capture`. */
export interface RecordedStateCapture {
  /** The cut `capture` was called with. */
  readonly cut: number;
  /** The donor's application digest at that moment. */
  readonly digest: string;
  /** The highest seq the donor's application had applied at that moment (should equal `cut`). */
  readonly applied: number;
  /** Virtual time. */
  readonly at: number;
  /** Position in this incarnation's event order. */
  readonly step: number;
}

/** One `broadcast` call and what became of its promise. */
export interface RecordedBroadcast {
  /** The message id encoded in the payload. */
  readonly messageId: string;
  /** The sender-incarnation-local counter (1, 2, ...). */
  readonly counter: number;
  /** Virtual time of the call. */
  readonly at: number;
  /** Set when the promise resolved. */
  resolved?: { readonly at: number; readonly seq: number; readonly view: number };
  /** Set when the promise rejected. */
  rejected?: { readonly at: number; readonly error: string };
}

/** Everything one incarnation of one member did. */
export interface IncarnationHistory {
  /** The member id. */
  readonly member: MemberId;
  /** 1 at the first start, +1 per restart. */
  readonly incarnation: number;
  /** Virtual time it was started. */
  readonly startedAt: number;
  /** Virtual time it crashed; absent if it lived to the end of the run. */
  crashedAt?: number;
  /** Set when `start()` rejected. */
  startError?: string;
  /** Views installed, in order. */
  readonly views: RecordedView[];
  /** Deliveries, in order. */
  readonly deliveries: RecordedDelivery[];
  /** Broadcasts made, in order. */
  readonly broadcasts: RecordedBroadcast[];
  /** States installed by state transfer, in order. */
  readonly stateInstalls: RecordedStateInstall[];
  /** States captured for joiners, in order. */
  readonly stateCaptures: RecordedStateCapture[];
}

/** Something the runner did to the group (a fault, a heal, a restart). */
export interface FaultRecord {
  /** Virtual time. */
  readonly at: number;
  /** What, e.g. `crash n1`, `restart n1`, `partition n1,n2|n3`, `heal`, `links drop=0.1 ...`. */
  readonly action: string;
}

/** A recorded run: the input of `checkOrderingHistory`. */
export interface OrderingHistory {
  /** The configured members, in configuration order. */
  readonly members: readonly MemberId[];
  /** The configured partition mode. */
  readonly partition: PartitionMode;
  /** Every incarnation of every member, in start order. */
  readonly incarnations: IncarnationHistory[];
  /** What the runner did, in order. */
  readonly faults: FaultRecord[];
  /**
   * For the liveness check: the virtual time of the last fault (after it the group was healed,
   * every member up and the links clean). Absent: liveness is not checked.
   */
  faultsEndedAt?: number;
  /** For the liveness check: the virtual time the run ended (after the quiet period). */
  endedAt?: number;
}

/** The id of workload message `counter` of incarnation `incarnation` of `sender`: `n1#2:17`. */
export function messageId(sender: MemberId, incarnation: number, counter: number): string {
  return `${sender}#${incarnation}:${counter}`;
}

const MAGIC = 'vcl-sim';

/** Encodes a workload message: the payload names its sender incarnation and counter. */
export function encodeWorkloadPayload(sender: MemberId, incarnation: number, counter: number): Uint8Array {
  return new TextEncoder().encode(`${MAGIC} ${sender} ${incarnation} ${counter}`);
}

/** Decodes a workload payload to its message id, or `undefined` when it is not one. */
export function decodeWorkloadPayload(
  payload: Uint8Array,
):
  | { readonly sender: MemberId; readonly incarnation: number; readonly counter: number; readonly id: string }
  | undefined {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(payload);
  const parts = text.split(' ');
  if (parts.length !== 4 || parts[0] !== MAGIC) return undefined;
  const incarnation = Number(parts[2]);
  const counter = Number(parts[3]);
  if (!Number.isSafeInteger(incarnation) || !Number.isSafeInteger(counter) || !parts[1]) return undefined;
  return { sender: parts[1], incarnation, counter, id: messageId(parts[1], incarnation, counter) };
}

/** The application digest before any delivery. */
export const INITIAL_DIGEST = '0000000000000000';

/**
 * The runner's application is a hash chain over delivered message ids, so the state at cut `c` is
 * `chain(chain(INITIAL_DIGEST, id1), ...)` up to `id_c`: computable from any member's log.
 */
export function chainDigest(previous: string, id: string): string {
  return createHash('sha256').update(previous).update('|').update(id).digest('hex').slice(0, 16);
}

/** `n1#2`: how violations and reports name an incarnation. */
export function incarnationName(h: { readonly member: MemberId; readonly incarnation: number }): string {
  return `${h.member}#${h.incarnation}`;
}
