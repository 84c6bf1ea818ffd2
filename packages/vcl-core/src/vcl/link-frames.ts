import { MalformedFrameError, UnsupportedVersionError } from '../errors';
import type { SessionId } from './session-events';
import { WireReader, WireWriter } from './wire';

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
    }
  /** Resumes a session after a fail-over. */
  | {
      readonly type: 'hello';
      readonly session: SessionId;
      readonly credentials: Uint8Array;
      readonly lastOutSeq: number;
      readonly lastInSeq: number;
    }
  /** One request (framed substrates) or chunk (streams). */
  | { readonly type: 'data'; readonly inSeq: number; readonly ackOutSeq: number; readonly bytes: Uint8Array }
  /** Acknowledges output up to `outSeq` (sent when idle; otherwise piggybacked on `data`). */
  | { readonly type: 'ack'; readonly outSeq: number }
  /** The client closed its connection: close the session everywhere. */
  | { readonly type: 'close' }
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

const MAGIC = 0x4c; // 'L'
const VERSION = 1;
const CLIENT_TYPES = ['open', 'hello', 'data', 'ack', 'close', 'ping'] as const;
const MEMBER_TYPES = ['welcome', 'ordered', 'output', 'end', 'members', 'error', 'closed', 'ping'] as const;

/** Encodes a client-side interceptor frame. */
export function encodeClientFrame(f: ClientFrame): Uint8Array {
  const w = new WireWriter(16 + ('bytes' in f ? f.bytes.length : 0));
  w.u8(MAGIC).u8(VERSION).u8(CLIENT_TYPES.indexOf(f.type));
  switch (f.type) {
    case 'open':
    case 'hello':
      w.string(f.session).bytes(f.credentials).u53(f.lastOutSeq).u53(f.lastInSeq);
      break;
    case 'data':
      w.u53(f.inSeq).u53(f.ackOutSeq).bytes(f.bytes);
      break;
    case 'ack':
      w.u53(f.outSeq);
      break;
    case 'close':
    case 'ping':
      break;
  }
  return w.finish();
}

/** Decodes a client-side interceptor frame; throws `MalformedFrameError` naming what is wrong. */
export function decodeClientFrame(bytes: Uint8Array): ClientFrame {
  const r = new WireReader(bytes, 'client link frame');
  const type = CLIENT_TYPES[header(r, 'client link frame')];
  let f: ClientFrame;
  switch (type) {
    case 'open':
    case 'hello':
      f = {
        type,
        session: sessionId(r.string('session', 256)),
        credentials: r.bytes('credentials', 64 * 1024),
        lastOutSeq: r.u53('lastOutSeq'),
        lastInSeq: r.u53('lastInSeq'),
      };
      break;
    case 'data':
      f = { type, inSeq: r.u53('inSeq'), ackOutSeq: r.u53('ackOutSeq'), bytes: r.bytes('bytes') };
      break;
    case 'ack':
      f = { type, outSeq: r.u53('outSeq') };
      break;
    case 'close':
    case 'ping':
      f = { type };
      break;
    default:
      throw new MalformedFrameError(`client link frame: unknown type ${bytes[2]}`);
  }
  r.end();
  return f;
}

/** Encodes a service-side interceptor frame. */
export function encodeMemberFrame(f: MemberFrame): Uint8Array {
  const w = new WireWriter(16 + (f.type === 'output' ? f.bytes.length : 0));
  w.u8(MAGIC).u8(VERSION).u8(MEMBER_TYPES.indexOf(f.type));
  switch (f.type) {
    case 'welcome':
      w.u53(f.lastInSeq);
      writeMembers(w, f.view, f.members);
      break;
    case 'members':
      writeMembers(w, f.view, f.members);
      break;
    case 'ordered':
      w.u53(f.inSeq);
      break;
    case 'output':
      w.u53(f.from).bytes(f.bytes);
      break;
    case 'end':
      w.u53(f.outSeq);
      break;
    case 'error':
      w.string(f.code)
        .string(f.message)
        .u8(f.fatal ? 1 : 0);
      break;
    case 'closed':
    case 'ping':
      break;
  }
  return w.finish();
}

/** Decodes a service-side interceptor frame; throws `MalformedFrameError` naming what is wrong. */
export function decodeMemberFrame(bytes: Uint8Array): MemberFrame {
  const r = new WireReader(bytes, 'member link frame');
  const type = MEMBER_TYPES[header(r, 'member link frame')];
  let f: MemberFrame;
  switch (type) {
    case 'welcome': {
      const lastInSeq = r.u53('lastInSeq');
      f = { type, lastInSeq, ...readMembers(r) };
      break;
    }
    case 'members':
      f = { type, ...readMembers(r) };
      break;
    case 'ordered':
      f = { type, inSeq: r.u53('inSeq') };
      break;
    case 'output':
      f = { type, from: r.u53('from'), bytes: r.bytes('bytes') };
      break;
    case 'end':
      f = { type, outSeq: r.u53('outSeq') };
      break;
    case 'error':
      f = { type, code: r.string('code', 64), message: r.string('message', 4096), fatal: r.u8('fatal') === 1 };
      break;
    case 'closed':
    case 'ping':
      f = { type };
      break;
    default:
      throw new MalformedFrameError(`member link frame: unknown type ${bytes[2]}`);
  }
  r.end();
  return f;
}

function header(r: WireReader, what: string): number {
  const magic = r.u8('magic');
  if (magic !== MAGIC) throw new MalformedFrameError(`${what}: bad magic 0x${magic.toString(16)}`);
  const version = r.u8('version');
  if (version !== VERSION)
    throw new UnsupportedVersionError(`${what}: version ${version}, this build speaks ${VERSION}`);
  return r.u8('type');
}

function sessionId(id: string): string {
  if (id.length === 0) throw new MalformedFrameError('client link frame: empty session id');
  return id;
}

function writeMembers(w: WireWriter, view: number, members: readonly MemberAddress[]): void {
  w.u53(view).u32(members.length);
  for (const m of members) w.string(m.id).string(m.host).u32(m.port);
}

function readMembers(r: WireReader): { view: number; members: MemberAddress[] } {
  const view = r.u53('view');
  const n = r.u32('members');
  if (n > 1024) throw new MalformedFrameError(`member link frame: ${n} members, at most 1024 allowed`);
  const members: MemberAddress[] = [];
  for (let i = 0; i < n; i++)
    members.push({
      id: r.string(`members[${i}].id`, 256),
      host: r.string(`members[${i}].host`, 256),
      port: r.u32(`members[${i}].port`),
    });
  return { view, members };
}
