import { formatViolations, runOrderingSweep } from '@vcl/core/testing';
import { tokenRing } from '../src';

// Progress under churn (issue #24): members crash and restart, and every state transfer takes
// real (virtual) time — the donor's capture 200 ms, the joiner's install 8 s, as a large state
// replayed through a service does — yet whenever a primary component exists with work pending, the
// group delivers within 6 s. Before a joiner counted as ready once its state had arrived, the ring
// waited for every install (every seed failed); a joiner excluded again while it installs would
// fail it too.

describe('token ring progress under churn with slow state transfers', () => {
  it('crashes and restarts, 3 members, 25 seeds, 8 s installs: a primary component always delivers within 6 s', async () => {
    const result = await runOrderingSweep({
      plugin: tokenRing(),
      seeds: 25,
      firstSeed: 1,
      members: 3,
      faults: 'crashes',
      durationMs: 6000,
      stateTransferMs: { capture: 200, install: 8000 },
      progressBoundMs: 6000,
      // Long enough for the last joiners' installs to finish before the history is checked.
      quietMs: 20_000,
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
