// Every seed that ever failed, kept as a regression test (shared conformance runner, default run).
// The runner's fault schedule depends on the run, and the runner itself has changed since some of
// these failed, so a seed may no longer replay the exact failure; the shapes of the failures are
// pinned down in view-decision.spec.ts.
import { formatViolations, runOrderingSeed, type FaultProfile } from '@vcl/core/testing';
import { sequencer } from '../src';

const FAILED_ONCE: { seed: number; members: number; faults: FaultProfile; why: string }[] = [
  {
    seed: 32,
    members: 5,
    faults: 'chaos',
    why: 'a flush delivered messages only the lone survivor held, which then crashed; the others could not form a view',
  },
  {
    seed: 126,
    members: 3,
    faults: 'chaos',
    why: 'the newest view was installed only by a joiner still without state; the group must continue from the older view',
  },
  {
    seed: 1829,
    members: 3,
    faults: 'chaos',
    why: 'a member installed an older decision after promising a newer ballot; its stale report made the coordinator cut below a delivery',
  },
  {
    seed: 1027,
    members: 3,
    faults: 'chaos',
    why: 'a member installed a view decided under a lower ballot than it had promised, then could not survive the view it had reported',
  },
  {
    seed: 2166,
    members: 3,
    faults: 'chaos',
    why: 'the newest installed view never took hold and a skipped sibling went one message further: continue from the older view',
  },
  {
    seed: 3602,
    members: 3,
    faults: 'chaos',
    why: 'a decided view was known only as the base of a later accepted proposal; members now report every proposal accepted since their install',
  },
];

describe('sequencer regression seeds', () => {
  it.each(FAILED_ONCE)('seed $seed ($members members, $faults): $why', async ({ seed, members, faults }) => {
    const r = await runOrderingSeed({ plugin: sequencer(), seed, members, faults });
    expect(formatViolations(r.violations)).toBe(formatViolations([]));
    expect(r.stats.deliveries).toBeGreaterThan(0);
  });
});
