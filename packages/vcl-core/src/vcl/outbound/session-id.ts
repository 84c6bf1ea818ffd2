import { VclError } from '../../errors';
import type { SessionId } from '../session-events';

const PREFIX = 'vcl-dep';

/**
 * The session id of outbound connection `ordinal` (1-based, in the order the replica opened its
 * connections to `dependency`) of the replicas of `group`. A pure function: every member of the
 * group derives the same id for the same connection, with no randomness, so a member that takes
 * over a call continues the same session at the dependency.
 *
 * Assumption (documented in docs/dependent-services.md): the replicated service opens its
 * connections to one dependency one after the other in a deterministic order, so the k-th
 * connection accepted at every member is the same logical connection.
 */
export function outboundSessionId(group: string, dependency: string, ordinal: number): SessionId {
  if (!Number.isSafeInteger(ordinal) || ordinal < 1)
    throw new VclError(`outbound connection ordinal must be an integer >= 1, got ${ordinal}`);
  if (dependency.includes(':') || dependency.length === 0)
    throw new VclError(`dependency name "${dependency}" must be non-empty and contain no ':'`);
  return `${PREFIX}:${group}:${dependency}:${ordinal}`;
}

/** The dependency name and ordinal of a derived id, or undefined for any other session id. */
export function parseOutboundSessionId(id: SessionId): { dependency: string; ordinal: number } | undefined {
  if (!id.startsWith(`${PREFIX}:`)) return undefined;
  const parts = id.split(':');
  if (parts.length < 4) return undefined;
  const ordinal = Number(parts[parts.length - 1]);
  const dependency = parts[parts.length - 2]!;
  if (!Number.isSafeInteger(ordinal) || ordinal < 1 || dependency.length === 0) return undefined;
  return { dependency, ordinal };
}
