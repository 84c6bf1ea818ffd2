import { Cluster, errors } from './harness';

afterEach(() => {
  // A logged protocol error fails the test that produced it (and only that one).
  expect(errors.splice(0)).toEqual([]);
});

/** Simulator events per virtual second over `seconds` of an idle, settled group. */
async function idleRate(n: number, holdMs?: number, seconds = 10): Promise<{ rate: number; c: Cluster }> {
  const c = new Cluster({ seed: 41, members: n, options: holdMs === undefined ? {} : { holdMs } });
  await c.startAll();
  expect(await c.settle(5000)).toBe(true);
  for (let i = 0; i < 5; i++) c.broadcast(c.ids[i % n]!);
  expect(await c.settle(5000)).toBe(true);
  await c.run(1000);
  const before = c.sim.stats.events;
  await c.run(seconds * 1000);
  return { rate: (c.sim.stats.events - before) / seconds, c };
}

describe('idle ring', () => {
  it.each([3, 5])('holds the token instead of spinning: few events per virtual second, %i members', async (n) => {
    const { rate, c } = await idleRate(n);
    // Holding 100 ms per hop: ~10 hops per second, each a token, an acknowledgement and a hold
    // timer, plus each member's token-loss check once per second (measured: 32/s for 3, 38/s for 5).
    expect(rate).toBeLessThanOrEqual(45);
    expect(rate).toBeGreaterThan(5);
    expect(c.member('n1').view()!.id).toBe(1);
    // A spinning ring (the hold all but disabled) does over twenty times the work (~1000/s).
    const spinning = await idleRate(n, 0.01, 1);
    expect(spinning.rate).toBeGreaterThan(20 * rate);
  });

  it('still detects a crash while idle and serves a broadcast without waiting for the hold', async () => {
    const c = new Cluster({ seed: 42, members: 5 });
    await c.startAll();
    expect(await c.settle(5000)).toBe(true);
    await c.run(2000);
    c.crash('n3');
    const crashed = c.sim.now;
    expect(await c.sim.runUntil(() => c.member('n1').view()!.members.length === 4, 3000)).toBe(true);
    expect(c.sim.now - crashed).toBeLessThan(1500);
    await c.run(2000);
    const b = c.broadcast('n4');
    const t0 = c.sim.now;
    expect(await c.sim.runUntil(() => b.resolved !== undefined, 1000)).toBe(true);
    // Two rotations of 4 members at 1-5 ms per hop, not hundreds of ms of holding.
    expect(c.sim.now - t0).toBeLessThan(60);
  });
});
