#!/usr/bin/env node
/**
 * The reaper of the multi-process ordering harness: a small process that holds an IPC channel to
 * the harness and the pids of its member processes, and SIGKILLs them all when the harness goes
 * away without stopping them. Members watch their own IPC channel too, but a member frozen with
 * SIGSTOP runs no code, so only a process that is never frozen can clean it up.
 */
const pids = new Set<number>();
const parent = process.ppid;

function reap(): never {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  process.exit(0);
}

process.on('message', (raw: unknown) => {
  const m = raw as { type?: string; pid?: unknown };
  if (typeof m.pid !== 'number' || !Number.isSafeInteger(m.pid) || m.pid <= 1) return;
  if (m.type === 'watch') pids.add(m.pid);
  else if (m.type === 'unwatch') pids.delete(m.pid);
});
process.on('disconnect', reap);
// Belt and braces: a host killed with SIGKILL may leave the channel open for a moment.
setInterval(() => {
  if (process.ppid !== parent) reap();
}, 500);
