import { buildForProcesses } from '../src/bench/processes';
import { ATTACHED, chaosLine, runChaos, SAME } from '../src/chaos/chaos';

// A short chaos run in CI: 3 real `vcl service` members, 2 clients through `vcl client`, a fixed
// seed; the member most sessions are attached to is frozen (SIGSTOP) past failure detection, then
// killed (SIGKILL) while frozen, then restarted (it rejoins by state transfer, `replay`); then the
// busiest member stalls for 100 ms (SIGSTOP/SIGCONT). Every answer is checked, all three digests
// compared, the register history must linearize.

jest.setTimeout(120_000);

beforeAll(() => buildForProcesses(), 240_000);

describe.each(['sequencer', 'tokenring'] as const)('chaos with %s', (ordering) => {
  it('freeze, kill and restart of the attached member, a stall: nothing lost, duplicated or reordered, connections up, all three replicas equal, register linearizable', async () => {
    const report = await runChaos({
      ordering,
      durationS: 11,
      clients: 2,
      members: 3,
      seed: 20261126,
      restarts: true,
      recovery: 'replay',
      window: 2,
      schedule: [
        { at: 1500, kind: 'freeze', member: ATTACHED },
        { at: 3500, kind: 'kill', member: SAME },
        { at: 5000, kind: 'restart', member: SAME },
        { at: 8000, kind: 'freeze', member: ATTACHED },
        { at: 8100, kind: 'thaw', member: SAME },
      ],
    });
    console.log(chaosLine(report));
    expect(report.faults.map((f) => f.kind)).toEqual(['freeze', 'kill', 'restart', 'freeze', 'thaw']);
    // The frozen member is the one killed and restarted.
    expect(report.faults[1]!.member).toBe(report.faults[0]!.member);
    expect(report.faults[2]!.member).toBe(report.faults[0]!.member);
    expect(report.failovers).toBeGreaterThanOrEqual(1);
    expect(report.requests).toBeGreaterThan(100);
    expect(report.registerOps).toBeGreaterThan(50);
    expect({
      lost: report.lost,
      duplicated: report.duplicated,
      reordered: report.reordered,
      disconnected: report.disconnected,
      diverged: report.diverged,
      linearizable: report.linearizable,
    }).toEqual({ lost: 0, duplicated: 0, reordered: 0, disconnected: 0, diverged: 0, linearizable: 'yes' });
    // All three (one restarted and rejoined, one stalled for 100 ms) are compared, and agree.
    expect(Object.keys(report.digests)).toHaveLength(3);
    expect(new Set(Object.values(report.digests)).size).toBe(1);
    expect(chaosLine(report)).toBe(
      `chaos: ordering=${ordering} requests=${report.requests} failovers=${report.failovers} lost=0 duplicated=0 reordered=0 diverged=0 linearizable=yes`,
    );
  });
});
