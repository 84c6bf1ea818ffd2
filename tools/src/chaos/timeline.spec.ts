import { episodes, longestDeliveryGap, majorityUp, refusedWithoutMajority, viewsPerFault } from './timeline';

const m3 = ['n1', 'n2', 'n3'];

describe('majorityUp', () => {
  it('one member down keeps the majority; two down lose it until one is back', () => {
    const up = majorityUp(
      [
        { at: 100, member: 'n1', up: false },
        { at: 200, member: 'n2', up: false },
        { at: 500, member: 'n1', up: true },
        { at: 900, member: 'n2', up: true },
      ],
      m3,
      0,
      1000,
    );
    expect(up).toEqual([
      [0, 200],
      [500, 1000],
    ]);
  });
});

describe('longestDeliveryGap', () => {
  it('measures the longest silence, counting only the time a majority was up', () => {
    const up = [[0, 200] as const, [500, 1000] as const];
    // 150..800 is silent: 150..200 and 500..800 had a majority: the longest part is 300 ms from 500.
    expect(longestDeliveryGap([50, 100, 150, 800, 850], up, 0, 1000)).toEqual({ ms: 300, at: 500 });
    // Silence to the end of the run counts too.
    expect(longestDeliveryGap([50, 100, 150, 600], up, 0, 1000)).toEqual({ ms: 400, at: 600 });
  });
});

describe('episodes and viewsPerFault', () => {
  it('tells stalls from long freezes and kills, and charges each primary view once to the episode before it', () => {
    const eps = episodes([
      { at: 1000, kind: 'freeze', member: 'n1' },
      { at: 1100, kind: 'thaw', member: 'n1' },
      { at: 3000, kind: 'freeze', member: 'n2' },
      { at: 5000, kind: 'thaw', member: 'n2' },
      { at: 8000, kind: 'kill', member: 'n3' },
      { at: 10000, kind: 'restart', member: 'n3' },
    ]);
    expect(eps.map((e) => e.kind)).toEqual(['stall', 'long-freeze', 'kill']);
    const v = viewsPerFault(eps, [
      { at: 10, view: 1 },
      { at: 3500, view: 2 },
      { at: 3600, view: 2 },
      { at: 5500, view: 3 },
      { at: 8500, view: 4 },
      { at: 11000, view: 5 },
    ]);
    expect(v).toEqual({
      stall: { faults: 1, views: 0 },
      'long-freeze': { faults: 1, views: 2 },
      kill: { faults: 1, views: 2 },
    });
  });
});

describe('refusedWithoutMajority', () => {
  it('a client that gave up while no majority existed was refused; one that gave up beside a majority lost its requests', () => {
    const up = [[0, 2000] as const, [14000, 20000] as const];
    expect(refusedWithoutMajority(up, 14500, 10000, 5000)).toBe(true);
    expect(refusedWithoutMajority(up, 25000, 10000, 5000)).toBe(false);
  });
});
