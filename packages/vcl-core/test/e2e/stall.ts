import type { Proc } from './harness';

/**
 * The client-visible stall at a failure: the longest wait for a response from the failure on (the
 * responses already in flight at the failure arrive first, then the stream stops until the
 * fail-over completes).
 */
export function stallAfter(load: Proc, failedAt: number): number {
  const times = [failedAt, ...load.times.filter((t, i) => t > failedAt && load.lines[i]!.startsWith('R '))];
  let worst = 0;
  for (let i = 1; i < times.length; i++) worst = Math.max(worst, times[i]! - times[i - 1]!);
  return worst;
}
