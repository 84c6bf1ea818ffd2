import { buildForProcesses } from '../src/bench/processes';
import { ATTACHED, chaosLine, runChaos } from '../src/chaos/chaos';

// A short chaos run in CI: 3 real `vcl service` members, 2 clients through `vcl client`, a fixed
// seed; the member most sessions are attached to is frozen (SIGSTOP) and thawed, then the busiest
// member is killed (SIGKILL). Every answer is checked, and the register history must linearize.

jest.setTimeout(120_000);

beforeAll(() => buildForProcesses(), 240_000);

describe.each(['sequencer', 'tokenring'] as const)('chaos with %s', (ordering) => {
  it('a freeze and a kill of the attached member: nothing lost, duplicated or reordered, connections up, survivors equal, register linearizable', async () => {
    const report = await runChaos({
      ordering,
      durationS: 9,
      clients: 2,
      members: 3,
      seed: 20261126,
      restarts: false,
      recovery: 'replay',
      window: 2,
      schedule: [
        { at: 1500, kind: 'freeze', member: ATTACHED },
        { at: 3500, kind: 'thaw', member: ATTACHED },
        { at: 6000, kind: 'kill', member: ATTACHED },
      ],
    });
    console.log(chaosLine(report));
    expect(report.faults.map((f) => f.kind)).toEqual(['freeze', 'thaw', 'kill']);
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
    // At least the member never frozen nor killed is compared.
    expect(Object.keys(report.digests).length).toBeGreaterThanOrEqual(1);
    expect(chaosLine(report)).toBe(
      `chaos: ordering=${ordering} requests=${report.requests} failovers=${report.failovers} lost=0 duplicated=0 reordered=0 diverged=0 linearizable=yes`,
    );
  });
});
