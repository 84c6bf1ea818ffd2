import type { MemberId } from '../contracts/network';
import { MalformedFrameError, UnsupportedVersionError } from '../errors';
import { BodyReader, BodyWriter } from '../link/body';
import { readId as id } from './fields';

/** The id of a client session, chosen by the client-side interceptor; survives fail-overs. */
export type SessionId = string;

/**
 * Why a session was closed. `overflow`: its client left more unacknowledged output than the
 * member's cache bound (a slow consumer).
 */
export type CloseReason = 'client' | 'expired' | 'denied' | 'error' | 'overflow';

/**
 * The events of the VCL session protocol that travel through the total order. Every member
 * applies them in delivery order, so every member holds the same session table.
 */
export type SessionEvent =
  /** Creates the session (or, if it exists, attaches it to `origin`). */
  | {
      readonly type: 'open';
      readonly session: SessionId;
      /** The member the client-side interceptor is connected to. */
      readonly origin: MemberId;
      /** That member's local attempt number, to match its pending handshake. */
      readonly attempt: number;
      /** The authenticated principal. */
      readonly principal: string;
      /**
       * The substrate the session belongs to (`substrates[].name`); absent: the first substrate.
       * An optional trailing field, so events encoded before it existed decode alike everywhere.
       */
      readonly substrate?: string;
    }
  /** Attaches an existing session to `origin` after a fail-over (the ordered half of HELLO). */
  | {
      readonly type: 'attach';
      readonly session: SessionId;
      readonly origin: MemberId;
      readonly attempt: number;
      /**
       * The principal `origin` authenticated: every member refuses the attach alike when the session
       * belongs to another one (even if `origin` failed to check). An optional trailing field:
       * attaches from older members carry none and are not checked.
       */
      readonly principal?: string;
    }
  /** A client request (framed substrates) or chunk (streams), numbered by the client. */
  | {
      readonly type: 'data';
      readonly session: SessionId;
      readonly inSeq: number;
      /** Output acknowledged by the client when it sent this request (piggybacked ack). */
      readonly ackOutSeq: number;
      readonly bytes: Uint8Array;
    }
  /** Output acknowledged by the client: every member trims its cache up to `outSeq`. */
  | { readonly type: 'ack'; readonly session: SessionId; readonly outSeq: number }
  /** A request refused by policy before it reached the service; keeps the input numbering gap-free. */
  | { readonly type: 'deny'; readonly session: SessionId; readonly inSeq: number; readonly reason: string }
  /**
   * The client half-closed after request `inSeq` (stream sessions): every member ends its service
   * conversation's input after that request and keeps reading the service's output until the
   * service ends. Applied only right after request `inSeq` (a stale or early copy is ignored).
   */
  | { readonly type: 'shutdown'; readonly session: SessionId; readonly inSeq: number }
  /**
   * Ends the session. `ifLastEvent`, when non-zero, makes the close conditional: it applies only
   * if the session's last event is still that one (session expiry races with a fail-over).
   */
  | {
      readonly type: 'close';
      readonly session: SessionId;
      readonly reason: CloseReason;
      readonly ifLastEvent: number;
      /**
       * When set, the close applies only if the client's acknowledged output is still this one
       * (an `overflow` close: the client read nothing since the member saw its cache over the bound).
       */
      readonly ifAcked?: number;
    }
  /**
   * Outbound (dependent services): the caller of an exclusive dependency is about to send call
   * `index` of outbound connection `session`; ordered before the call leaves, so a taking-over
   * member knows which calls may have reached the dependency.
   */
  | { readonly type: 'dep-call'; readonly session: SessionId; readonly index: number; readonly caller: MemberId }
  /** Outbound: the dependency's response to call `index`; every replica consumes it at this point of the order. */
  | { readonly type: 'dep-response'; readonly session: SessionId; readonly index: number; readonly bytes: Uint8Array }
  /** Outbound: call `index` is reported failed to every replica (non-idempotent call cut by a caller failure). */
  | { readonly type: 'dep-failed'; readonly session: SessionId; readonly index: number; readonly reason: string }
  /**
   * Output digests of the sender's replica for consecutive units of the session's output, the
   * first one numbered `first` (request number for framed substrates, block number for streams).
   * The sender is the delivery's sender; the session table ignores these (see `divergence.ts`).
   */
  | {
      readonly type: 'digest';
      readonly session: SessionId;
      readonly first: number;
      readonly hashes: readonly Uint8Array[];
    };

const MAGIC = 0x56; // 'V'
const VERSION = 1;
const TYPES = [
  'open',
  'attach',
  'data',
  'ack',
  'deny',
  'close',
  'dep-call',
  'dep-response',
  'dep-failed',
  'digest',
  'shutdown',
] as const;
const MAX_DIGEST_HASHES = 4096;
const MAX_HASH_BYTES = 64;
const REASONS: readonly CloseReason[] = ['client', 'expired', 'denied', 'error', 'overflow'];

/** Encodes a session event as an ordered-message payload (the link codec's body fields). */
export function encodeSessionEvent(event: SessionEvent): Uint8Array {
  const w = new BodyWriter(
    32 +
      (event.type === 'data' || event.type === 'dep-response'
        ? event.bytes.length
        : event.type === 'digest'
          ? 33 * event.hashes.length
          : 0),
  );
  w.u8(MAGIC).u8(VERSION).u8(TYPES.indexOf(event.type)).string(event.session);
  switch (event.type) {
    case 'open':
      w.string(event.origin).varint(event.attempt).string(event.principal);
      if (event.substrate !== undefined) w.string(event.substrate);
      break;
    case 'attach':
      w.string(event.origin).varint(event.attempt);
      if (event.principal !== undefined) w.string(event.principal);
      break;
    case 'data':
      w.varint(event.inSeq).varint(event.ackOutSeq).bytes(event.bytes);
      break;
    case 'ack':
      w.varint(event.outSeq);
      break;
    case 'deny':
      w.varint(event.inSeq).string(event.reason);
      break;
    case 'close':
      w.u8(REASONS.indexOf(event.reason)).varint(event.ifLastEvent);
      // Optional trailing field: a close without it encodes as before.
      if (event.ifAcked !== undefined) w.varint(event.ifAcked);
      break;
    case 'shutdown':
      w.varint(event.inSeq);
      break;
    case 'dep-call':
      w.varint(event.index).string(event.caller);
      break;
    case 'dep-response':
      w.varint(event.index).bytes(event.bytes);
      break;
    case 'dep-failed':
      w.varint(event.index).string(event.reason);
      break;
    case 'digest':
      w.varint(event.first).varint(event.hashes.length);
      for (const h of event.hashes) w.bytes(h);
      break;
  }
  return w.finish();
}

/** Decodes an ordered-message payload; throws `MalformedFrameError` naming what is wrong. */
export function decodeSessionEvent(payload: Uint8Array): SessionEvent {
  const r = new BodyReader(payload, 'session event');
  const magic = r.u8('magic');
  if (magic !== MAGIC) throw new MalformedFrameError(`session event: bad magic 0x${magic.toString(16)}`);
  const version = r.u8('version');
  if (version !== VERSION)
    throw new UnsupportedVersionError(`session event: version ${version}, this build speaks ${VERSION}`);
  const code = r.u8('type');
  const type = TYPES[code];
  if (type === undefined) throw new MalformedFrameError(`session event: unknown type ${code}`);
  const session = id(r, 'session');
  let event: SessionEvent;
  switch (type) {
    case 'open':
      event = { type, session, origin: id(r, 'origin'), attempt: r.varint('attempt'), principal: id(r, 'principal') };
      if (r.remaining > 0) event = { ...event, substrate: id(r, 'substrate') };
      break;
    case 'attach':
      event = { type, session, origin: id(r, 'origin'), attempt: r.varint('attempt') };
      if (r.remaining > 0) event = { ...event, principal: id(r, 'principal') };
      break;
    case 'data':
      event = { type, session, inSeq: r.varint('inSeq'), ackOutSeq: r.varint('ackOutSeq'), bytes: r.bytes('bytes') };
      break;
    case 'ack':
      event = { type, session, outSeq: r.varint('outSeq') };
      break;
    case 'deny':
      event = { type, session, inSeq: r.varint('inSeq'), reason: r.string('reason') };
      break;
    case 'close': {
      const rc = r.u8('reason');
      const reason = REASONS[rc];
      if (reason === undefined) throw new MalformedFrameError(`session event: unknown close reason ${rc}`);
      event = { type, session, reason, ifLastEvent: r.varint('ifLastEvent') };
      if (r.remaining > 0) event = { ...event, ifAcked: r.varint('ifAcked') };
      break;
    }
    case 'shutdown':
      event = { type, session, inSeq: r.varint('inSeq') };
      break;
    case 'dep-call':
      event = { type, session, index: r.varint('index'), caller: id(r, 'caller') };
      break;
    case 'dep-response':
      event = { type, session, index: r.varint('index'), bytes: r.bytes('bytes') };
      break;
    case 'dep-failed':
      event = { type, session, index: r.varint('index'), reason: r.string('reason') };
      break;
    case 'digest': {
      const first = r.varint('first');
      const count = r.varint('count');
      if (count === 0 || count > MAX_DIGEST_HASHES)
        throw new MalformedFrameError(`session event: digest count must be 1-${MAX_DIGEST_HASHES}, got ${count}`);
      const hashes: Uint8Array[] = [];
      for (let i = 0; i < count; i++) {
        const h = r.bytes('hash');
        if (h.length === 0 || h.length > MAX_HASH_BYTES)
          throw new MalformedFrameError(
            `session event: digest hash must be 1-${MAX_HASH_BYTES} bytes, got ${h.length}`,
          );
        hashes.push(h);
      }
      event = { type, session, first, hashes };
      break;
    }
  }
  r.end();
  return event;
}

/** Whether an ordered payload is an outbound (dependency) event; read from its type byte without decoding. */
export function isOutboundEvent(payload: Uint8Array): boolean {
  if (payload.length <= 2 || payload[0] !== MAGIC) return false;
  const type = TYPES[payload[2]!];
  return type === 'dep-call' || type === 'dep-response' || type === 'dep-failed';
}
