import { SimGroup } from './harness';

describe('sequencer on the simulator: steady state', () => {
  it.each([3, 5])('orders bursts from every member of %i identically, nothing lost or repeated', async (size) => {
    const g = new SimGroup({ seed: 11, size });
    await g.start();
    await g.sim.runFor(1000);
    for (const me of g.lives()) expect(me.member.view()?.members).toHaveLength(size);
    g.load(5, 500, 3);
    await g.settle();
    expect(g.check()).toEqual([]);
    expect(g.global.size).toBe(size * 3 * 101);
    const seqLeader = g.lives().find((me) => me.member.status().role === 'sequencer');
    expect(seqLeader?.id).toBe('n1');
  });
});
