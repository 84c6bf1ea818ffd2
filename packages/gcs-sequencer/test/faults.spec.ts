import { SimGroup } from './harness';

async function started(size: number, seed: number, extra: Partial<ConstructorParameters<typeof SimGroup>[0]> = {}) {
  const g = new SimGroup({ seed, size, ...extra });
  await g.start();
  await g.sim.runFor(1000);
  return g;
}

describe('sequencer on the simulator: failures', () => {
  it.each([3, 5])('survives a sequencer crash under load (%i members)', async (size) => {
    const g = await started(size, 21);
    g.load(5, 1500, 2);
    await g.sim.runFor(400);
    g.crash('n1');
    await g.settle();
    expect(g.check()).toEqual([]);
    const v = g.live('n2')!.member.view()!;
    expect(v.members).not.toContain('n1');
    expect(v.members[0]).toBe('n2');
  });

  it.each([3, 5])(
    'delivers everywhere what the sequencer delivered right before crashing (%i members)',
    async (size) => {
      const g = await started(size, 29);
      g.load(5, 1500, 2);
      await g.sim.runFor(300);
      g.crashAfterDelivery.add('n1');
      await g.sim.runFor(100);
      expect(g.live('n1')).toBeUndefined();
      const dead = g.incs.find((x) => x.id === 'n1')!;
      await g.settle();
      expect(g.check()).toEqual([]);
      for (const me of g.lives()) expect(me.last).toBeGreaterThanOrEqual(dead.last);
    },
  );

  it.each([3, 5])('survives a non-sequencer crash under load (%i members)', async (size) => {
    const g = await started(size, 22);
    g.load(5, 1500, 2);
    await g.sim.runFor(400);
    g.crash(`n${size}`);
    await g.settle();
    expect(g.check()).toEqual([]);
    expect(g.live('n1')!.member.view()!.members).toHaveLength(size - 1);
  });

  it('blocks a minority partition, keeps the majority going, and rejoins the minority', async () => {
    const g = await started(5, 23);
    g.load(5, 3000, 1);
    await g.sim.runFor(300);
    g.sim.partition([
      ['n1', 'n2'],
      ['n3', 'n4', 'n5'],
    ]);
    await g.sim.runFor(1500);
    const minorityBefore = g.live('n1')!.last;
    const majorityBefore = g.live('n3')!.last;
    await g.sim.runFor(1000);
    expect(g.live('n1')!.last).toBe(minorityBefore);
    expect(g.live('n3')!.last).toBeGreaterThan(majorityBefore);
    expect(g.live('n3')!.member.view()!.members).toEqual(['n3', 'n4', 'n5']);
    expect(g.live('n1')!.member.status().pending).toBeGreaterThan(0);
    g.sim.heal();
    await g.settle();
    expect(g.check()).toEqual([]);
    expect(g.live('n1')!.member.view()!.members).toHaveLength(5);
  });

  it.each([3, 5])('rejoins a restarted member with state transfer at the cut (%i members)', async (size) => {
    const g = await started(size, 24);
    g.load(5, 3000, 1);
    await g.sim.runFor(500);
    g.crash('n2');
    await g.sim.runFor(1000);
    await g.restart('n2');
    await g.settle();
    expect(g.check()).toEqual([]);
    const joiner = g.live('n2')!;
    expect(joiner.events.some((e) => e.t === 'install' && e.cut > 0)).toBe(true);
    expect(joiner.member.view()!.members).toHaveLength(size);
  });

  it('restarts the sequencer and brings it back as the first member', async () => {
    const g = await started(3, 25);
    g.load(5, 3000, 1);
    await g.sim.runFor(500);
    g.crash('n1');
    await g.sim.runFor(800);
    await g.restart('n1');
    await g.settle();
    expect(g.check()).toEqual([]);
    expect(g.live('n1')!.member.status().role).toBe('sequencer');
  });

  it.each([3, 5])(
    'delivers everything exactly once over lossy, duplicating, reordering links (%i members)',
    async (size) => {
      const g = await started(size, 26, { faults: { drop: 0.05, duplicate: 0.05, fifo: false, maxDelayMs: 20 } });
      g.load(5, 2000, 2);
      await g.settle(60_000);
      expect(g.check()).toEqual([]);
    },
  );

  it('keeps going alone in a 2-member fail-stop group and takes the peer back', async () => {
    const g = await started(2, 27, { partition: 'fail-stop' });
    g.load(5, 2000, 1);
    await g.sim.runFor(300);
    g.crash('n2');
    await g.sim.runFor(1000);
    expect(g.live('n1')!.member.view()!.members).toEqual(['n1']);
    await g.restart('n2');
    await g.settle();
    expect(g.check()).toEqual([]);
  });

  it('blocks a 2-member primary-component group when one member fails', async () => {
    const g = await started(2, 28);
    g.crash('n2');
    await g.sim.runFor(1000);
    const before = g.live('n1')!.last;
    g.send('n1');
    await g.sim.runFor(2000);
    expect(g.live('n1')!.last).toBe(before);
    expect(g.live('n1')!.member.status().role).toMatch(/blocked|coordinator/);
    await g.restart('n2');
    await g.settle();
    expect(g.check()).toEqual([]);
  });
});
