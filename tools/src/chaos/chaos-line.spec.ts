import { chaosClean, chaosLine, type ChaosReport } from './chaos';

const clean: ChaosReport = {
  ordering: 'sequencer',
  seed: 7,
  requests: 1200,
  failovers: 3,
  lost: 0,
  duplicated: 0,
  reordered: 0,
  disconnected: 0,
  diverged: 0,
  linearizable: 'yes',
  clients: [],
  faults: [],
  digests: {},
  excluded: {},
  registerOps: 700,
  seconds: 70,
};

describe('chaosLine', () => {
  it('a clean run ends with exactly the line the issue asks for', () => {
    expect(chaosClean(clean)).toBe(true);
    expect(chaosLine(clean)).toBe(
      'chaos: ordering=sequencer requests=1200 failovers=3 lost=0 duplicated=0 reordered=0 diverged=0 linearizable=yes',
    );
  });

  it('a failed run shows the counts and the seed to replay', () => {
    const bad = { ...clean, lost: 2, linearizable: 'no' as const, disconnected: 1 };
    expect(chaosClean(bad)).toBe(false);
    expect(chaosLine(bad)).toBe(
      'chaos: ordering=sequencer requests=1200 failovers=3 lost=2 duplicated=0 reordered=0 diverged=0 linearizable=no disconnected=1 seed=7',
    );
  });

  it('a run whose linearizability check ran out of budget is not clean', () => {
    expect(chaosClean({ ...clean, linearizable: 'unknown' })).toBe(false);
  });
});
