import { formatViolations, runOrderingSweep } from '@vcl/core/testing';
import { sequencer } from '../src';

// Progress under churn (issue #24): members crash and restart, and every state transfer takes
// real (virtual) time — the provider's capture 200 ms, the joiner's install 1.5 s — yet whenever a
// primary component exists with work pending, the group delivers within 3 s: a joiner is not
// excluded again while it installs, and the view changes of the churn do not starve the group.
// (The sequencer's group waits for a joiner's install: a joiner acknowledges nothing before it has
// the state, so installs longer than the bound fail this check; docs/recovery.md, Limits.)

describe('sequencer progress under churn with slow state transfers', () => {
  it('crashes and restarts, 3 members, 25 seeds, 1.5 s installs: a primary component always delivers within 3 s', async () => {
    const result = await runOrderingSweep({
      plugin: sequencer(),
      seeds: 25,
      firstSeed: 1,
      members: 3,
      faults: 'crashes',
      durationMs: 6000,
      stateTransferMs: { capture: 200, install: 1500 },
      progressBoundMs: 3000,
      quietMs: 10_000,
      keepFailures: 1,
    });
    const first = result.failures[0];
    expect(
      first
        ? `seed ${first.seed}: ${formatViolations(first.violations, 8)}`
        : `seeds with violations: ${result.failingSeeds.join(', ')}`,
    ).toBe('seeds with violations: ');
    expect(result.totals.deliveries).toBeGreaterThan(25 * 50);
  }, 60_000);
});
