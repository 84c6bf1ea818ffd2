import * as path from 'node:path';
import { ensureBuilt, killFreezeScenario, killRestartScenario, scenarioVerdict } from '@vcl/core/testing';

// The plugin's defaults: token loss after 1 s without the token, 300 ms to agree on a membership.
const OPTIONS = { tokenLossMs: 1000, consensusMs: 300, joinMs: 50, mergeMs: 500 };

// The members are separate Node processes running the built JavaScript, so build it first.
beforeAll(() => ensureBuilt([path.join(__dirname, '..', 'tsconfig.lib.json')]), 300_000);

describe('token ring over real TCP, each member a separate process', () => {
  // Failed up to 7b314c9 (0 of 3 runs: after the SIGSTOP the survivors needed 3 to 19 s for a new
  // view, after the thaw a live member stayed in an old view): at the consensus timeout live members
  // gave up on each other and fragmented into non-primary rings. Passes since the gather gives up on
  // silent members only. `npm run bench:ordering -- --ordering tokenring --scenario kill-freeze
  // --runs 3` runs it from the command line.
  it('5 members: SIGKILL the token holder, SIGSTOP the next one; survivors deliver identical logs with every resolved broadcast, no duplicate', async () => {
    const result = await killFreezeScenario({ plugin: 'tokenring', pluginOptions: OPTIONS });
    expect(result.faults.map((f) => f.action)).toEqual(['SIGKILL', 'SIGSTOP', 'SIGCONT']);
    expect(result.survivors).toHaveLength(3);
    expect(result.resolved.size).toBeGreaterThan(100);
    expect(result.finalSeq).toBeGreaterThan(result.faults[2]!.atSeq);
    expect(scenarioVerdict(result)).toBe('ok');
  }, 120_000);

  it('3 members: SIGKILL the token holder, restart it; it rejoins by state transfer and delivers again', async () => {
    const result = await killRestartScenario({ plugin: 'tokenring', pluginOptions: OPTIONS });
    expect(result.faults.map((f) => f.action)).toEqual(['SIGKILL', 'restart']);
    expect(result.faults[1]!.member).toBe(result.faults[0]!.member);
    expect(result.rejoinedDeliveries).toBeGreaterThan(0);
    expect(result.rejoinedResolved).toBeGreaterThanOrEqual(10);
    expect(result.rejoinedStateCuts).toHaveLength(1); // one state transfer, at the cut of its first view
    expect(scenarioVerdict(result)).toBe('ok');
  }, 120_000);
});
