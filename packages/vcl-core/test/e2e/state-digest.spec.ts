import { runCli } from '../../src/cli/run';
import { buildForProcesses, Deployment, divergenceReports, httpGet, responses, waitUntil } from './harness';

// State digests end to end: three `vcl service` members in front of a counter that keeps a hidden
// per-process value no answer shows (external mode, real TCP, ports below 32768), the stack's
// `service.stateDigest.command` asking each replica for its state digest every 20 requests, one
// `vcl client` and one load client. Mid-stream one replica's hidden value starts to drift while
// its answers stay right: only the state digest can tell.

jest.setTimeout(60_000);

beforeAll(() => buildForProcesses(), 240_000);

const N = 120;
const EVERY = 20;

describe('service.stateDigest, 3 members, onDivergence: report', () => {
  let d: Deployment;

  beforeEach(async () => {
    d = new Deployment({
      mode: 'external',
      members: 3,
      serviceScript: 'hidden-state-counter-server.cjs',
      stateDigest: { script: 'state-digest-cmd.cjs', every: EVERY },
      onDivergence: 'report',
      lowPorts: true,
    });
    await d.start();
  });

  afterEach(async () => {
    await d.stop();
  });

  it('a replica whose hidden state drifts while every answer stays right is named at the first state digest after the drift', async () => {
    const started = performance.now();
    const load = d.loadClient('a', 1, N, 1);
    await load.waitFor((l) => l.startsWith('R a0 a0:30 '), 30_000, 'response 30');
    const victim = d.members[1]!;
    expect(await d.serviceCommand(victim, '?drift-state')).toBe('drifting');
    await load.waitFor((l) => l === 'DONE', 40_000, 'all responses');

    // The client saw every answer once, in order, right: the drift never shows in the output.
    expect(load.lines.filter((l) => l.startsWith('E '))).toEqual([]);
    expect(responses(load, 'a0')).toEqual(
      Array.from({ length: N }, (_, i) => [`a0:${i + 1}`, ((i + 1) * (i + 2)) / 2]),
    );
    await waitUntil('reports at every member', () => d.members.every((m) => divergenceReports(m).length > 0), 15_000);
    const first = divergenceReports(d.members[0]!)[0]!;
    const point = first['inSeq'] as number;
    // The digest after request 20 was taken before the drift (30 answers were in), so it matched.
    expect(point % EVERY).toBe(0);
    expect(point).toBeGreaterThanOrEqual(40);
    expect(point).toBeLessThanOrEqual(N);
    for (const m of d.members) {
      const rs = divergenceReports(m);
      // Only the state digest differed (no output report), at the same point everywhere.
      expect(rs).toHaveLength(1);
      expect(rs[0]).toMatchObject({
        level: 50,
        diverged: victim.id,
        session: 'vcl:state',
        unit: 'state',
        inSeq: point,
        seq: first['seq'],
        msg: `replica ${victim.id} diverged from the majority at state digest after request ${point}`,
      });
      expect([...(rs[0]!['majority'] as string[])].sort()).toEqual(
        d.members.filter((x) => x !== victim).map((x) => x.id),
      );
    }

    const other = d.members[0]!;
    type Status = {
      divergence: {
        diverged: { member: string; unit: string; inSeq: number }[];
        stateDigest: { every: number; requests: number; taking: boolean; open: number };
        counters: { stateDigests: number; stateDigestErrors: number };
      };
    };
    // The digest after the last request may still be running when its answer reached the client.
    let status = JSON.parse(await httpGet(other.adminPort, '/status')) as Status;
    for (let i = 0; i < 100 && status.divergence.counters.stateDigests < N / EVERY; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = JSON.parse(await httpGet(other.adminPort, '/status')) as Status;
    }
    expect(status.divergence.diverged.map((x) => [x.member, x.unit, x.inSeq])).toEqual([[victim.id, 'state', point]]);
    expect(status.divergence.stateDigest).toMatchObject({ every: EVERY, requests: N, taking: true });
    expect(status.divergence.counters).toMatchObject({ stateDigests: N / EVERY, stateDigestErrors: 0 });
    const metrics = await httpGet(other.adminPort, '/metrics');
    expect(metrics).toMatch(new RegExp(`^vcl_divergence_state_digests_total ${N / EVERY}$`, 'm'));
    expect(metrics).toMatch(
      new RegExp(`^vcl_diverged\\{member="${victim.id}",session="vcl:state",unit="state",seq="${point}"\\} 1$`, 'm'),
    );
    let out = '';
    const code = await runCli(['status', '--config', d.stackFile], {
      out: (t) => void (out += t),
      err: () => undefined,
      stopSignal: () => new Promise(() => undefined),
    });
    expect(code).toBe(0);
    expect(out).toContain(`${victim.id} diverged at state digest after request ${point} (majority`);
    console.log(
      `state digest e2e: drift after answer 30, named at the digest after request ${point} (every ${EVERY}); test ${(performance.now() - started).toFixed(0)} ms`,
    );
  });
});
