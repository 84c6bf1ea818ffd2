import { randomBytes } from 'node:crypto';
import type { SessionId } from './session-events';

/** Hex digits of a session id shown in logs, `/status` and the audit trail. */
const SHOWN = 8;

/**
 * A new session id: 128 random bits from the operating system's CSPRNG, as 32 hex digits. A
 * session id is a capability (whoever holds it may resume the session if also its principal), so
 * it must not be guessable.
 */
export function newSessionId(): SessionId {
  return randomBytes(16).toString('hex');
}

/**
 * A session id as it may be printed at info level: a random id (16 or more hex digits, or a UUID)
 * becomes its first 8 characters and `…`. Other ids (short ones from older clients, named
 * outbound sessions such as `vcl-dep:a:b:1`) are shown whole: they name a session, they are not
 * the unguessable secret a client resumes its session with.
 */
export function shortSessionId(id: SessionId): string {
  return RANDOM_ID.test(id) ? `${id.slice(0, SHOWN)}…` : id;
}

const RANDOM_ID = /^[0-9a-f-]{16,}$/i;
