import * as path from 'node:path';
import { ensureBuilt, killRestartScenario, scenarioVerdict } from '@vcl/core/testing';

// The plugin's defaults: token loss after 1 s without the token, 300 ms to agree on a membership.
const OPTIONS = { tokenLossMs: 1000, consensusMs: 300, joinMs: 50, mergeMs: 500 };

// The members are separate Node processes running the built JavaScript, so build it first.
beforeAll(() => ensureBuilt([path.join(__dirname, '..', 'tsconfig.lib.json')]), 300_000);

// The shared 5-member kill/freeze scenario (killFreezeScenario, as in gcs-sequencer's real-tcp spec)
// does not pass yet (tokenring at 7b314c9: 0 of 3 runs): the SIGKILL fail-over is quick, but after
// the SIGSTOP the survivors need 3 to 19 s for a new view, and after the thaw a live member is left
// in an old view for good, or a never-faulted one is excluded and rejoins by state transfer. No
// safety violation was seen. Reproduce with
// `npm run bench:ordering -- --ordering tokenring --scenario kill-freeze --runs 3`.
describe('token ring over real TCP, each member a separate process', () => {
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
