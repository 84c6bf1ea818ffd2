import * as path from 'node:path';
import { ensureBuilt, killFreezeScenario, killRestartScenario, scenarioVerdict } from '@vcl/core/testing';

// Failure detection in ~1.5 s (suspect after 1 s of silence, confirm after 0.5 s more): short
// enough for a quick test, long enough that a loaded 2-core machine raises no false suspicion.
const OPTIONS = { heartbeatMs: 100, suspectTimeoutMs: 1000, confirmTimeoutMs: 500, viewChangeTimeoutMs: 2000 };

// The members are separate Node processes running the built JavaScript, so build it first.
beforeAll(() => ensureBuilt([path.join(__dirname, '..', 'tsconfig.lib.json')]), 300_000);

describe('sequencer over real TCP, each member a separate process', () => {
  it('5 members: SIGKILL the sequencer, SIGSTOP the next one; survivors deliver identical logs with every resolved broadcast, no duplicate', async () => {
    const result = await killFreezeScenario({ plugin: 'sequencer', pluginOptions: OPTIONS });
    expect(result.faults.map((f) => f.action)).toEqual(['SIGKILL', 'SIGSTOP', 'SIGCONT']);
    expect(result.faults[0]!.member).toBe('n1'); // the first sequencer is the view's first member
    expect(result.survivors).toHaveLength(3);
    expect(result.resolved.size).toBeGreaterThan(100);
    expect(result.finalSeq).toBeGreaterThan(result.faults[2]!.atSeq);
    expect(scenarioVerdict(result)).toBe('ok');
  }, 120_000);

  it('3 members: SIGKILL the sequencer, restart it; it rejoins by state transfer and delivers again', async () => {
    const result = await killRestartScenario({ plugin: 'sequencer', pluginOptions: OPTIONS });
    expect(result.faults.map((f) => `${f.action} ${f.member}`)).toEqual(['SIGKILL n1', 'restart n1']);
    expect(result.rejoinedDeliveries).toBeGreaterThan(0);
    expect(result.rejoinedResolved).toBeGreaterThanOrEqual(10);
    expect(result.rejoinedStateCuts).toHaveLength(1); // one state transfer, at the cut of its first view
    expect(scenarioVerdict(result)).toBe('ok');
  }, 120_000);
});
