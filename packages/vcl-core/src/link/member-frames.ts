import { MalformedFrameError } from '../errors';
import { BodyReader, BodyWriter } from './body';

/**
 * Frame types of a `TcpNetwork` member link. A link opens with a HELLO from each end (the dialer's
 * first), then HANDSHAKE frames of the security hook, then DATA frames both ways. An ERROR frame
 * says why a link is being closed; it is data for the log, never a throw in the peer.
 */
export const MemberFrameType = {
  /** Identifies the sender: `MemberHello`. */
  HELLO: 1,
  /** One message of the link security hook's handshake. */
  HANDSHAKE: 2,
  /** One `Network.send` payload, as is. */
  DATA: 3,
  /** Why the sender is closing the link: `LinkErrorInfo`. */
  ERROR: 4,
} as const;

/** What each end of a member link says first. */
export interface MemberHello {
  /** The sender's member id. */
  readonly from: string;
  /** The member id the sender believes it is talking to. */
  readonly to: string;
  /** The sender's incarnation (grows at every restart). */
  readonly incarnation: number;
  /** The sender's link security hook (`none`, `hmac`, ...); both ends must match. */
  readonly security: string;
}

const KIND_MEMBER = 1;

/** Encodes a hello body. */
export function encodeMemberHello(hello: MemberHello): Uint8Array {
  return new BodyWriter(64)
    .u8(KIND_MEMBER)
    .string(hello.from)
    .string(hello.to)
    .u64(hello.incarnation)
    .string(hello.security)
    .finish();
}

/** Decodes a hello body; throws `MalformedFrameError` naming the bad field. */
export function decodeMemberHello(body: Uint8Array): MemberHello {
  const r = new BodyReader(body, 'hello frame');
  const kind = r.u8('kind');
  if (kind !== KIND_MEMBER) throw new MalformedFrameError(`hello frame: kind ${kind} is not a member link (1)`);
  const hello = {
    from: r.string('from'),
    to: r.string('to'),
    incarnation: r.u64('incarnation'),
    security: r.string('security'),
  };
  r.end();
  return hello;
}

/** The body of an ERROR frame. */
export interface LinkErrorInfo {
  /** The `VclError` code (`VCL_AUTHENTICATION`, `VCL_MALFORMED_FRAME`, ...). */
  readonly code: string;
  /** What was wrong. */
  readonly message: string;
}

/** Encodes an error body. */
export function encodeLinkError(error: LinkErrorInfo): Uint8Array {
  return new BodyWriter(64).string(error.code).string(error.message).finish();
}

/** Decodes an error body; throws `MalformedFrameError` naming the bad field. */
export function decodeLinkError(body: Uint8Array): LinkErrorInfo {
  const r = new BodyReader(body, 'error frame');
  const info = { code: r.string('code'), message: r.string('message') };
  r.end();
  return info;
}
