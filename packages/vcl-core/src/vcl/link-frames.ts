import type { LinkFrame as Frame } from '../contracts/link-security';
import { MalformedFrameError } from '../errors';
import { BodyReader, BodyWriter } from '../link/body';
import { readId as id } from './fields';
import type { SessionId } from './session-events';

/** Where a client-side interceptor reaches a member. */
export interface MemberAddress {
  /** The member id. */
  readonly id: string;
  /** Host of its client port. */
  readonly host: string;
  /** Its client port (client-side interceptor links). */
  readonly port: number;
}

/** Frames from the client-side interceptor to a service-side interceptor. */
export type ClientFrame =
  /** Opens a new session (or attaches, if the session was opened through a member that then failed). */
  | {
      readonly type: 'open';
      readonly session: SessionId;
      /** Credentials for the member's `Authenticator`. */
      readonly credentials: Uint8Array;
      /** Output the client-side interceptor already passed on (non-zero after a fail-over during open). */
      readonly lastOutSeq: number;
      /** Highest request number sent. */
      readonly lastInSeq: number;
      /**
       * The substrate the session belongs to (the stack's `substrates[].name`); absent: the
       * member's first substrate. Encoded as an optional trailing field, so older frames decode.
       */
      readonly substrate?: string;
    }
  /** Resumes a session after a fail-over. */
  | {
      readonly type: 'hello';
      readonly session: SessionId;
      readonly credentials: Uint8Array;
      readonly lastOutSeq: number;
      readonly lastInSeq: number;
      /** As in `open`: the session's substrate; absent: the member's first substrate. */
      readonly substrate?: string;
    }
  /** One request (framed substrates) or chunk (streams). */
  | { readonly type: 'data'; readonly inSeq: number; readonly ackOutSeq: number; readonly bytes: Uint8Array }
  /** Acknowledges output up to `outSeq` (sent when idle; otherwise piggybacked on `data`). */
  | { readonly type: 'ack'; readonly outSeq: number }
  /** The client closed its connection: close the session everywhere. */
  | { readonly type: 'close' }
  /**
   * The client half-closed (stream sessions): it sends nothing after request `inSeq` but still
   * reads. Ordered after that request; every member then ends its service's input.
   */
  | { readonly type: 'shutdown'; readonly inSeq: number }
  /** Keep-alive. */
  | { readonly type: 'ping' };

/** Frames from a service-side interceptor to the client-side interceptor. */
export type MemberFrame =
  /** The session is open (or re-attached) here. */
  | {
      readonly type: 'welcome';
      /** The highest request number the group has ordered for the session; resend what is newer. */
      readonly lastInSeq: number;
      /** The installed view. */
      readonly view: number;
      /** Client addresses of the view's members. */
      readonly members: readonly MemberAddress[];
    }
  /** Requests up to `inSeq` are ordered (the client-side interceptor may forget them). */
  | { readonly type: 'ordered'; readonly inSeq: number }
  /** Service output starting at position `from`. */
  | { readonly type: 'output'; readonly from: number; readonly bytes: Uint8Array }
  /** The service ended the conversation after output position `outSeq`. */
  | { readonly type: 'end'; readonly outSeq: number }
  /** The membership changed. */
  | { readonly type: 'members'; readonly view: number; readonly members: readonly MemberAddress[] }
  /** A typed error (the `code` of a `VclError`); `fatal` ones end the session, others make the client fail over. */
  | { readonly type: 'error'; readonly code: string; readonly message: string; readonly fatal: boolean }
  /** The session is closed everywhere. */
  | { readonly type: 'closed' }
  /** Keep-alive. */
  | { readonly type: 'ping' };

/**
 * Link frame types of the client-side <-> service-side interceptor link (the link codec's `type`
 * byte; the member<->member link uses 1-4). Each frame's fields are its body.
 */
export const InterceptorFrameType = {
  /** Client -> member: open a session (`ClientFrame` open). */
  OPEN: 0x20,
  /** Client -> member: resume a session after a fail-over. */
  HELLO: 0x21,
  /** Client -> member: one numbered request or stream chunk. */
  DATA: 0x22,
  /** Client -> member: output acknowledged. */
  ACK: 0x23,
  /** Client -> member: close the session everywhere. */
  CLOSE: 0x24,
  /** Client -> member: keep-alive. */
  CLIENT_PING: 0x25,
  /** Client -> member: the client half-closed after a request number. */
  SHUTDOWN: 0x26,
  /** Member -> client: the session is attached here. */
  WELCOME: 0x30,
  /** Member -> client: requests up to a number are ordered. */
  ORDERED: 0x31,
  /** Member -> client: numbered service output. */
  OUTPUT: 0x32,
  /** Member -> client: the service ended the conversation. */
  END: 0x33,
  /** Member -> client: the view changed. */
  MEMBERS: 0x34,
  /** Member -> client: a typed error. */
  ERROR: 0x35,
  /** Member -> client: the session is closed everywhere. */
  CLOSED: 0x36,
  /** Member -> client: keep-alive. */
  MEMBER_PING: 0x37,
} as const;

const T = InterceptorFrameType;
const CLIENT_TYPES: Record<ClientFrame['type'], number> = {
  open: T.OPEN,
  hello: T.HELLO,
  data: T.DATA,
  ack: T.ACK,
  close: T.CLOSE,
  ping: T.CLIENT_PING,
  shutdown: T.SHUTDOWN,
};
const MEMBER_TYPES: Record<MemberFrame['type'], number> = {
  welcome: T.WELCOME,
  ordered: T.ORDERED,
  output: T.OUTPUT,
  end: T.END,
  members: T.MEMBERS,
  error: T.ERROR,
  closed: T.CLOSED,
  ping: T.MEMBER_PING,
};
const EMPTY = new Uint8Array(0);

/** Encodes a client-side interceptor frame. */
export function encodeClientFrame(f: ClientFrame): Frame {
  const type = CLIENT_TYPES[f.type];
  if (f.type === 'close' || f.type === 'ping') return { type, flags: 0, body: EMPTY };
  const w = new BodyWriter(16 + ('bytes' in f ? f.bytes.length : 0));
  switch (f.type) {
    case 'open':
    case 'hello':
      w.string(f.session).bytes(f.credentials).varint(f.lastOutSeq).varint(f.lastInSeq);
      if (f.substrate !== undefined) w.string(f.substrate);
      break;
    case 'data':
      w.varint(f.inSeq).varint(f.ackOutSeq).bytes(f.bytes);
      break;
    case 'ack':
      w.varint(f.outSeq);
      break;
    case 'shutdown':
      w.varint(f.inSeq);
      break;
  }
  return { type, flags: 0, body: w.finish() };
}

/** Decodes a client-side interceptor frame; throws `MalformedFrameError` naming what is wrong. */
export function decodeClientFrame(frame: Frame): ClientFrame {
  const r = new BodyReader(frame.body, 'client link frame');
  let f: ClientFrame;
  switch (frame.type) {
    case T.OPEN:
    case T.HELLO: {
      const session = id(r, 'session');
      const credentials = r.bytes('credentials');
      if (credentials.length > 64 * 1024)
        throw new MalformedFrameError(`client link frame: credentials of ${credentials.length} bytes, at most 65536`);
      const lastOutSeq = r.varint('lastOutSeq');
      const lastInSeq = r.varint('lastInSeq');
      f = {
        type: frame.type === T.OPEN ? 'open' : 'hello',
        session,
        credentials,
        lastOutSeq,
        lastInSeq,
        ...(r.remaining > 0 ? { substrate: id(r, 'substrate') } : {}),
      };
      break;
    }
    case T.DATA:
      f = { type: 'data', inSeq: r.varint('inSeq'), ackOutSeq: r.varint('ackOutSeq'), bytes: r.bytes('bytes') };
      break;
    case T.ACK:
      f = { type: 'ack', outSeq: r.varint('outSeq') };
      break;
    case T.CLOSE:
      f = { type: 'close' };
      break;
    case T.CLIENT_PING:
      f = { type: 'ping' };
      break;
    case T.SHUTDOWN:
      f = { type: 'shutdown', inSeq: r.varint('inSeq') };
      break;
    default:
      throw new MalformedFrameError(`client link frame: unknown type 0x${frame.type.toString(16)}`);
  }
  r.end();
  return f;
}

/** Encodes a service-side interceptor frame. */
export function encodeMemberFrame(f: MemberFrame): Frame {
  const type = MEMBER_TYPES[f.type];
  if (f.type === 'closed' || f.type === 'ping') return { type, flags: 0, body: EMPTY };
  const w = new BodyWriter(16 + (f.type === 'output' ? f.bytes.length : 0));
  switch (f.type) {
    case 'welcome':
      w.varint(f.lastInSeq);
      writeMembers(w, f.view, f.members);
      break;
    case 'members':
      writeMembers(w, f.view, f.members);
      break;
    case 'ordered':
      w.varint(f.inSeq);
      break;
    case 'output':
      w.varint(f.from).bytes(f.bytes);
      break;
    case 'end':
      w.varint(f.outSeq);
      break;
    case 'error':
      w.string(f.code).string(f.message).bool(f.fatal);
      break;
  }
  return { type, flags: 0, body: w.finish() };
}

/** Decodes a service-side interceptor frame; throws `MalformedFrameError` naming what is wrong. */
export function decodeMemberFrame(frame: Frame): MemberFrame {
  const r = new BodyReader(frame.body, 'member link frame');
  let f: MemberFrame;
  switch (frame.type) {
    case T.WELCOME: {
      const lastInSeq = r.varint('lastInSeq');
      f = { type: 'welcome', lastInSeq, ...readMembers(r) };
      break;
    }
    case T.MEMBERS:
      f = { type: 'members', ...readMembers(r) };
      break;
    case T.ORDERED:
      f = { type: 'ordered', inSeq: r.varint('inSeq') };
      break;
    case T.OUTPUT:
      f = { type: 'output', from: r.varint('from'), bytes: r.bytes('bytes') };
      break;
    case T.END:
      f = { type: 'end', outSeq: r.varint('outSeq') };
      break;
    case T.ERROR:
      f = { type: 'error', code: r.string('code'), message: r.string('message'), fatal: r.bool('fatal') };
      break;
    case T.CLOSED:
      f = { type: 'closed' };
      break;
    case T.MEMBER_PING:
      f = { type: 'ping' };
      break;
    default:
      throw new MalformedFrameError(`member link frame: unknown type 0x${frame.type.toString(16)}`);
  }
  r.end();
  return f;
}

function writeMembers(w: BodyWriter, view: number, members: readonly MemberAddress[]): void {
  w.varint(view).varint(members.length);
  for (const m of members) w.string(m.id).string(m.host).u16(m.port);
}

function readMembers(r: BodyReader): { view: number; members: MemberAddress[] } {
  const view = r.varint('view');
  const n = r.varint('members');
  if (n > 1024) throw new MalformedFrameError(`member link frame: ${n} members, at most 1024 allowed`);
  const members: MemberAddress[] = [];
  for (let i = 0; i < n; i++)
    members.push({
      id: id(r, `members[${i}].id`),
      host: id(r, `members[${i}].host`),
      port: r.u16(`members[${i}].port`),
    });
  return { view, members };
}
