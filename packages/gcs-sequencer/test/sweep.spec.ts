import { runSeed, type Profile } from './chaos';

// CI runs a few seeds per profile; set SEQ_SWEEP_SEEDS (and SEQ_SWEEP_FIRST) for long sweeps:
//   SEQ_SWEEP_SEEDS=2000 npx jest -c packages/gcs-sequencer/jest.config.cjs test/sweep
const SEEDS = Number(process.env.SEQ_SWEEP_SEEDS ?? 2);
const FIRST = Number(process.env.SEQ_SWEEP_FIRST ?? 1);
const PROFILES = (process.env.SEQ_SWEEP_PROFILES ?? 'none,drops,crashes,partitions,chaos').split(',') as Profile[];
const SIZES = (process.env.SEQ_SWEEP_SIZES ?? '3,5').split(',').map(Number);

describe('sequencer seeded sweep', () => {
  for (const size of SIZES)
    for (const profile of PROFILES)
      it(`${size} members, ${profile}: ${SEEDS} seeds without violations`, async () => {
        const failures: string[] = [];
        let delivered = 0;
        for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
          const r = await runSeed(seed, size, profile);
          delivered += r.delivered;
          if (r.violations.length) {
            failures.push(`seed ${seed}: ${r.violations.slice(0, 3).join(' | ')}`);
            if (process.env.SEQ_SWEEP_VERBOSE) console.log(r.faults.join('\n'));
          }
        }
        if (process.env.SEQ_SWEEP_SEEDS)
          console.log(`${size} members ${profile}: ${SEEDS} seeds, ${failures.length} failing, ${delivered} delivered`);
        expect(failures).toEqual([]);
        expect(delivered).toBeGreaterThan(0);
      }, 600_000);
});
