import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  AuthenticationError,
  ConfigError,
  IntegrityError,
  type LinkFrame,
  type LinkHandshake,
  type LinkSecurity,
  type SecuredLink,
} from '@vcl/core';
import { readSecretFile } from './key-file';

/** Options of `hmacLinkSecurity`. */
export interface HmacLinkOptions {
  /** The shared group key file (mode 0600 or stricter); its bytes, trailing whitespace trimmed, are the key. Required unless `key` is given. */
  readonly keyFile?: string;
  /** The key itself (tests, or a key from a secret store); takes precedence over `keyFile`. */
  readonly key?: Uint8Array;
  /** Shortest key accepted, in bytes. Default 32. */
  readonly minKeyBytes?: number;
}

/** Bytes of each handshake nonce. */
const NONCE_BYTES = 32;
/** Bytes of the HMAC-SHA256 tag appended to every frame body. */
export const HMAC_TAG_BYTES = 32;

const enc = new TextEncoder();

/**
 * Shared-key link security: a challenge-response handshake with a fresh nonce from each end, then
 * HMAC-SHA256 on every frame over a per-direction sequence number, the frame type, flags, body
 * length and body.
 *
 * Handshake: each end sends a 32-byte random nonce; each then sends
 * `HMAC(K, "vcl-hmac-proof" | own role | transcript | dialer nonce | acceptor nonce | own id | peer id)`.
 * The proof binds both hellos, both ids and both nonces, and the sender's role so a proof cannot
 * be reflected back; the verifier's own fresh nonce makes a recorded session useless. The link key
 * is then `HMAC(K, "vcl-hmac-link" | transcript | nonces)`, one sub-key per direction.
 *
 * Frames: the sequence number is implicit (both ends count), so a replayed, dropped, reordered or
 * truncated frame fails its tag and `open` throws `IntegrityError`; the network closes the link.
 */
export function hmacLinkSecurity(options: HmacLinkOptions): LinkSecurity {
  const groupKey = loadKey(options);
  return {
    name: 'hmac',
    handshake: (link) => handshake(groupKey, link),
  };
}

function loadKey(options: HmacLinkOptions): Buffer {
  const min = options.minKeyBytes ?? 32;
  let key: Buffer;
  if (options.key) key = Buffer.from(options.key);
  else if (options.keyFile) key = trimEnd(readSecretFile(options.keyFile, 'link.keyFile'));
  else
    throw new ConfigError('aaa', [{ path: 'link.keyFile', message: 'missing; hmac link security needs a key file' }]);
  if (key.length < min)
    throw new ConfigError('aaa', [
      {
        path: 'link.keyFile',
        message: `group key is ${key.length} bytes, needs at least ${min}`,
        hint: 'head -c 48 /dev/urandom | base64 > group.key; chmod 600 group.key',
      },
    ]);
  return key;
}

function trimEnd(buf: Buffer): Buffer {
  let end = buf.length;
  while (end > 0 && (buf[end - 1] === 0x0a || buf[end - 1] === 0x0d || buf[end - 1] === 0x20)) end--;
  return buf.subarray(0, end);
}

function mac(key: Uint8Array, ...parts: (Uint8Array | string)[]): Buffer {
  const h = createHmac('sha256', key);
  for (const p of parts) {
    const bytes = typeof p === 'string' ? enc.encode(p) : p;
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(bytes.length);
    h.update(len).update(bytes);
  }
  return h.digest();
}

async function handshake(groupKey: Buffer, link: LinkHandshake): Promise<SecuredLink> {
  const mine = randomBytes(NONCE_BYTES);
  link.send(mine);
  const theirs = await link.receive();
  if (theirs.length !== NONCE_BYTES)
    throw new AuthenticationError(
      `hmac handshake from ${link.claimedId}: nonce is ${theirs.length} bytes, expected ${NONCE_BYTES}`,
    );
  if (timingSafeEqual(mine, theirs))
    throw new AuthenticationError(`hmac handshake from ${link.claimedId}: our own nonce came back (reflection)`);
  const dialer = link.role === 'dialer';
  const [nD, nA] = dialer ? [mine, theirs] : [theirs, mine];
  const peerRole = dialer ? 'acceptor' : 'dialer';
  const proof = (role: string, from: string, to: string): Buffer =>
    mac(groupKey, 'vcl-hmac-proof', role, link.transcript, nD, nA, from, to);
  link.send(proof(link.role, link.localId, link.claimedId));
  const got = await link.receive();
  const expected = proof(peerRole, link.claimedId, link.localId);
  if (got.length !== expected.length || !timingSafeEqual(got, expected))
    throw new AuthenticationError(`hmac handshake: ${link.claimedId} did not prove the group key`);
  const linkKey = mac(groupKey, 'vcl-hmac-link', link.transcript, nD, nA);
  const d2a = mac(linkKey, 'dialer->acceptor');
  const a2d = mac(linkKey, 'acceptor->dialer');
  return hmacFraming(dialer ? d2a : a2d, dialer ? a2d : d2a, link.claimedId);
}

/**
 * The per-frame protection of one link end: `sealKey` for frames it sends, `openKey` for frames it
 * receives. Exported for tests and benchmarks; `hmacLinkSecurity` builds it after the handshake.
 */
export function hmacFraming(sealKey: Uint8Array, openKey: Uint8Array, peerId: string): SecuredLink {
  let sendSeq = 0n;
  let recvSeq = 0n;
  const header = Buffer.alloc(14);
  const tag = (key: Uint8Array, seq: bigint, frame: LinkFrame, body: Uint8Array): Buffer => {
    header.writeBigUInt64BE(seq, 0);
    header.writeUInt8(frame.type, 8);
    header.writeUInt8(frame.flags, 9);
    header.writeUInt32BE(body.length, 10);
    return createHmac('sha256', key).update(header).update(body).digest();
  };
  return {
    peerId,
    seal(frame) {
      const t = tag(sealKey, sendSeq++, frame, frame.body);
      const body = new Uint8Array(frame.body.length + HMAC_TAG_BYTES);
      body.set(frame.body);
      body.set(t, frame.body.length);
      return { type: frame.type, flags: frame.flags, body };
    },
    open(frame) {
      const n = frame.body.length - HMAC_TAG_BYTES;
      if (n < 0) throw new IntegrityError(`frame ${recvSeq} from ${peerId} is too short to carry its HMAC`);
      const body = frame.body.subarray(0, n);
      const expected = tag(openKey, recvSeq, frame, body);
      if (!timingSafeEqual(expected, frame.body.subarray(n)))
        throw new IntegrityError(
          `frame ${recvSeq} from ${peerId} failed its HMAC check (tampered, replayed, reordered or truncated)`,
        );
      recvSeq++;
      return { type: frame.type, flags: frame.flags, body };
    },
  };
}
