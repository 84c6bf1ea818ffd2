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

  it('forms a new group only when every member is up, unless bootstrapQuorum is majority', async () => {
    const strict = new SimGroup({ seed: 12, size: 3 });
    await strict.start(['n1', 'n2']);
    await strict.sim.runFor(3000);
    expect(strict.live('n1')!.member.view()).toBeUndefined();
    await strict.start(['n3']);
    await strict.settle();
    expect(strict.check()).toEqual([]);

    const lenient = new SimGroup({ seed: 12, size: 3, options: { bootstrapQuorum: 'majority' } });
    await lenient.start(['n1', 'n2']);
    await lenient.sim.runFor(3000);
    expect(lenient.live('n1')!.member.view()?.members).toEqual(['n1', 'n2']);
    await lenient.start(['n3']);
    lenient.send('n3');
    await lenient.settle();
    expect(lenient.check()).toEqual([]);
    expect(lenient.live('n3')!.member.view()?.members).toEqual(['n1', 'n2', 'n3']);
  });
});
