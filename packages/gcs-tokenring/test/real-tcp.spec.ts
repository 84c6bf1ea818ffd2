import * as path from 'node:path';
import { ensureBuilt, killRestartScenario, scenarioVerdict } from '@vcl/core/testing';

// The plugin's defaults: token loss after 1 s without the token, 300 ms to agree on a membership.
const OPTIONS = { tokenLossMs: 1000, consensusMs: 300, joinMs: 50, mergeMs: 500 };

// The members are separate Node processes running the built JavaScript, so build it first.
beforeAll(() => ensureBuilt([path.join(__dirname, '..', 'tsconfig.lib.json')]), 300_000);

// The shared 5-member kill/freeze scenario (killFreezeScenario, as in gcs-sequencer's real-tcp spec)
// does not pass yet: after the SIGKILL the four survivors' gathers fragment into singleton and
// two-member non-primary rings, and a live member can be left behind in an old view. Reproduce
// with `npm run bench:ordering -- --ordering tokenring --scenario kill-freeze --runs 3`.
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
