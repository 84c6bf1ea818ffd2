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
 * A session id as it may be printed at info level: its first 8 characters and `…` when longer
 * than 12. Short ids (older clients, named outbound sessions) are shown whole; they name a
 * session, they do not grant it.
 */
export function shortSessionId(id: SessionId): string {
  return id.length > SHOWN + 4 ? `${id.slice(0, SHOWN)}…` : id;
}
