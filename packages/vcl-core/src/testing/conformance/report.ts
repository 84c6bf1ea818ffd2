import { countByGuarantee } from './check';
import { incarnationName, type OrderingHistory, type Violation } from './history';

/**
 * One line per violation (`[agreement] n2#1 ...`), at most `limit`, then how many more. The first
 * violation of each guarantee comes first, so one flood does not hide another kind.
 */
export function formatViolations(violations: readonly Violation[], limit = 20): string {
  const seen = new Set<string>();
  const firsts = violations.filter((v) => !seen.has(v.guarantee) && seen.add(v.guarantee));
  const ordered = [...firsts, ...violations.filter((v) => !firsts.includes(v))];
  const lines = ordered.slice(0, limit).map((v) => `  [${v.guarantee}] ${v.message}`);
  if (violations.length > limit) lines.push(`  ... and ${violations.length - limit} more`);
  const counts = Object.entries(countByGuarantee(violations))
    .map(([g, n]) => `${g}=${n}`)
    .join(' ');
  return `${violations.length} violation(s) (${counts})\n${lines.join('\n')}`;
}

const ms = (t: number) => t.toFixed(1).padStart(8);

/**
 * A readable timeline of a run: faults, view installs, state transfers, crashes, and deliveries
 * folded into ranges per view, ordered by virtual time. For replaying a failing seed.
 */
export function formatTimeline(history: OrderingHistory): string {
  const lines: { at: number; order: number; text: string }[] = [];
  let order = 0;
  const add = (at: number, text: string) => lines.push({ at, order: order++, text });
  for (const f of history.faults) add(f.at, `fault    ${f.action}`);
  for (const h of history.incarnations) {
    const name = incarnationName(h).padEnd(6);
    add(h.startedAt, `${name} started${h.startError ? ` (start failed: ${h.startError})` : ''}`);
    for (const v of h.views)
      add(v.at, `${name} view ${v.id} {${v.members.join(',')}} cut ${v.cut}${v.primary ? '' : ' non-primary'}`);
    for (const s of h.stateInstalls) add(s.at, `${name} installed state at cut ${s.cut} (${s.digest})`);
    for (const s of h.stateCaptures) add(s.at, `${name} captured state at cut ${s.cut} (${s.digest})`);
    const ds = h.deliveries;
    for (let start = 0, i = 1; i <= ds.length; i++) {
      const first = ds[start]!;
      const contiguous = i < ds.length && ds[i]!.view === first.view && ds[i]!.seq === ds[i - 1]!.seq + 1;
      if (contiguous) continue;
      const last = ds[i - 1]!;
      add(
        first.at,
        `${name} delivered seq ${first.seq}..${last.seq} in view ${first.view} (${i - start} msg, until t=${last.at.toFixed(1)})`,
      );
      start = i;
    }
    const unresolved = h.broadcasts.filter((b) => !b.resolved && !b.rejected).length;
    if (h.crashedAt !== undefined) add(h.crashedAt, `${name} crashed (${unresolved} broadcast(s) unresolved)`);
  }
  if (history.faultsEndedAt !== undefined) add(history.faultsEndedAt, 'faults ended');
  if (history.endedAt !== undefined) add(history.endedAt, 'run ended');
  lines.sort((a, b) => a.at - b.at || a.order - b.order);
  return lines.map((l) => `${ms(l.at)}  ${l.text}`).join('\n');
}
