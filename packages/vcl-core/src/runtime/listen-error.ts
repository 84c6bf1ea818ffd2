import type { Endpoint } from '../contracts/substrate';
import { ListenError } from '../errors';

/** What an operator can do about each bind failure. */
const REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use (EADDRINUSE): another process holds the port; stop it or choose another port',
  EADDRNOTAVAIL: "address not available (EADDRNOTAVAIL): the host is not one of this machine's addresses",
  EACCES: 'permission denied (EACCES): ports below 1024 need privileges',
};

/**
 * `error` as a one-line `ListenError` naming the address and the stack field that chose it, when it
 * is a failed bind (a Node `listen` error, or a `ListenError` from a transport); else `error` as is.
 * The raw Node error carries a stack trace through `Server.setupListenHandle` that says neither.
 */
export function explainListenError(error: unknown, what: string, field: string, at: Endpoint): unknown {
  const e = error as NodeJS.ErrnoException | undefined;
  const errno = (error instanceof ListenError ? (e?.cause as NodeJS.ErrnoException | undefined) : e) ?? undefined;
  if (!(error instanceof ListenError) && errno?.syscall !== 'listen') return error;
  const why = (errno?.code && REASONS[errno.code]) ?? errno?.message ?? (error as Error).message;
  const host = at.host ?? '127.0.0.1';
  return new ListenError(`${what} cannot listen on ${host}:${at.port ?? 0} (${field}): ${why}`, { cause: error });
}

/** Runs `start` (which binds `at`), turning a failed bind into `explainListenError`'s one-line error. */
export async function bindOrExplain<T>(start: () => Promise<T>, what: string, field: string, at: Endpoint): Promise<T> {
  try {
    return await start();
  } catch (error) {
    throw explainListenError(error, what, field, at);
  }
}
