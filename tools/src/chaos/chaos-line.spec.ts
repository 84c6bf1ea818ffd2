import { chaosClean, chaosLine, type ChaosReport } from './chaos';

const clean: ChaosReport = {
  ordering: 'sequencer',
  seed: 7,
  requests: 1200,
  failovers: 3,
  lost: 0,
  refused: 0,
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
  longestGap: { ms: 800, at: 12.5 },
  maxGapMs: 5000,
  views: 4,
  viewsPerFault: {
    kill: { faults: 1, views: 2 },
    'long-freeze': { faults: 1, views: 2 },
    stall: { faults: 2, views: 0 },
  },
  rejoins: [],
  stuck: [],
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

  it('requests refused while no majority existed are told apart from lost ones, and fail the run', () => {
    const refused = { ...clean, refused: 2, disconnected: 1 };
    expect(chaosClean(refused)).toBe(false);
    expect(chaosLine(refused)).toBe(
      'chaos: ordering=sequencer requests=1200 failovers=3 lost=0 duplicated=0 reordered=0 diverged=0 linearizable=yes refused=2 disconnected=1 seed=7',
    );
  });

  it('a delivery gap past the bound while a majority was up fails the run and says when', () => {
    const stalled = { ...clean, longestGap: { ms: 120_000, at: 475.2 } };
    expect(chaosClean(stalled)).toBe(false);
    expect(chaosLine(stalled)).toBe(
      'chaos: ordering=sequencer requests=1200 failovers=3 lost=0 duplicated=0 reordered=0 diverged=0 linearizable=yes gap=120000ms@475.2s seed=7',
    );
  });

  it('a run whose linearizability check ran out of budget is not clean', () => {
    expect(chaosClean({ ...clean, linearizable: 'unknown' })).toBe(false);
  });
});
