import { formatViolations, runOrderingSweep, type FaultProfile } from '@vcl/core/testing';
import { tokenRing } from '../src';

// The shared conformance kit over seeded fault schedules. CI runs a few dozen short seeds per
// profile (about a minute in all on a loaded 2-core machine); long sweeps of thousands of seeds
// run from the command line: `npm run sim -- --ordering tokenring --seeds 2000 --faults chaos`.
const PROFILES: readonly [FaultProfile, number, number][] = [
  // profile, members, seeds
  ['none', 3, 10],
  ['drops', 3, 40],
  ['crashes', 3, 40],
  ['partitions', 3, 40],
  ['chaos', 3, 60],
  ['chaos', 5, 20],
];

describe('token ring conformance (runOrderingSweep)', () => {
  it.each(PROFILES)(
    '%s, %i members, %i seeds: no violations',
    async (faults, members, seeds) => {
      const result = await runOrderingSweep({
        plugin: tokenRing(),
        seeds,
        firstSeed: 1,
        members,
        faults,
        durationMs: 3000,
        keepFailures: 1,
      });
      const first = result.failures[0];
      expect(
        first
          ? `seed ${first.seed}: ${formatViolations(first.violations, 5)}`
          : `seeds with violations: ${result.failingSeeds.join(', ')}`,
      ).toBe('seeds with violations: ');
      expect(result.seedsRun).toBe(seeds);
      expect(result.totals.deliveries).toBeGreaterThan(seeds * 50);
    },
    120000,
  );
});
