// The shared conformance kit (six guarantees + liveness) over seeded fault schedules. CI runs a
// short sweep per profile; long sweeps: `npm run sim -- --ordering sequencer --seeds 2000 --faults chaos`.
import { FAULT_PROFILES, formatViolations, runOrderingSweep, type FaultProfile } from '@vcl/core/testing';
import { sequencer } from '../src';

const SEEDS = Number(process.env.SEQ_CONFORMANCE_SEEDS ?? 40);

describe('sequencer conformance (shared kit, seeded simulator)', () => {
  it.each(FAULT_PROFILES.map((f) => [f]))('%s: 3 members, short runs, no violations', async (faults) => {
    const result = await runOrderingSweep({
      plugin: sequencer(),
      seeds: SEEDS,
      firstSeed: 1,
      members: 3,
      faults: faults as FaultProfile,
      durationMs: 3000,
      tailMs: 500,
    });
    const first = result.failures[0];
    expect(first ? `seed ${first.seed}:\n${formatViolations(first.violations)}` : '').toBe('');
    expect(result.seedsRun).toBe(SEEDS);
    expect(result.totals.deliveries).toBeGreaterThan(SEEDS * 10);
  });

  it('chaos: 5 members, no violations', async () => {
    const result = await runOrderingSweep({
      plugin: sequencer(),
      seeds: Math.max(1, SEEDS >> 2),
      firstSeed: 1,
      members: 5,
      faults: 'chaos',
      durationMs: 3000,
      tailMs: 500,
    });
    const first = result.failures[0];
    expect(first ? `seed ${first.seed}:\n${formatViolations(first.violations)}` : '').toBe('');
    expect(result.totals.deliveries).toBeGreaterThan(0);
  });
});
