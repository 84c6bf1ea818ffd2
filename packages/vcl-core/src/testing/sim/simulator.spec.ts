import { Simulator } from './simulator';

async function exchange(seed: number, faults = { drop: 0.2, duplicate: 0.2, fifo: false }) {
  const sim = new Simulator({ seed, members: ['a', 'b', 'c'], faults });
  const got: string[] = [];
  for (const id of sim.members) {
    const node = sim.node(id);
    node.network.onMessage((from, bytes) => {
      got.push(`${sim.now.toFixed(3)} ${from}>${id} ${bytes[0]}`);
      if (bytes[0]! < 50) node.network.send(from, new Uint8Array([bytes[0]! + 1]));
    });
    await node.network.start();
  }
  for (let i = 0; i < 10; i++) sim.node('a').network.send(i % 2 ? 'b' : 'c', new Uint8Array([i]));
  await sim.runFor(1000);
  return { got, fingerprint: sim.fingerprint(), stats: { ...sim.stats } };
}

describe('Simulator', () => {
  it('replays the same run bit for bit from the same seed', async () => {
    const one = await exchange(7);
    const two = await exchange(7);
    expect(two.got).toEqual(one.got);
    expect(two.fingerprint).toBe(one.fingerprint);
    expect(one.stats.dropped).toBeGreaterThan(0);
    expect(one.stats.duplicated).toBeGreaterThan(0);
  });

  it('gives a different run for a different seed', async () => {
    const one = await exchange(7);
    const other = await exchange(8);
    expect(other.fingerprint).not.toBe(one.fingerprint);
  });

  it('keeps links FIFO when asked and delivers everything without faults', async () => {
    const sim = new Simulator({ seed: 1, members: ['a', 'b'], faults: { minDelayMs: 1, maxDelayMs: 50 } });
    const got: number[] = [];
    sim.node('b').network.onMessage((_from, bytes) => got.push(bytes[0]!));
    await sim.node('b').network.start();
    for (let i = 0; i < 100; i++) sim.node('a').network.send('b', new Uint8Array([i]));
    await sim.runFor(100);
    expect(got).toEqual([...Array(100).keys()]);
  });

  it('reorders a link when FIFO is off', async () => {
    const sim = new Simulator({ seed: 1, members: ['a', 'b'], faults: { maxDelayMs: 50, fifo: false } });
    const got: number[] = [];
    sim.node('b').network.onMessage((_from, bytes) => got.push(bytes[0]!));
    await sim.node('b').network.start();
    for (let i = 0; i < 100; i++) sim.node('a').network.send('b', new Uint8Array([i]));
    await sim.runFor(100);
    expect([...got].sort((x, y) => x - y)).toEqual([...Array(100).keys()]);
    expect(got).not.toEqual([...Array(100).keys()]);
  });

  it('cuts partitioned links and restores them on heal', async () => {
    const sim = new Simulator({ seed: 3, members: ['a', 'b', 'c'] });
    const got: string[] = [];
    for (const id of sim.members) {
      sim.node(id).network.onMessage((from) => got.push(`${from}>${id}`));
      await sim.node(id).network.start();
    }
    sim.partition([['a', 'b'], ['c']]);
    for (const to of ['b', 'c']) sim.node('a').network.send(to, new Uint8Array([1]));
    await sim.runFor(10);
    expect(got).toEqual(['a>b']);
    sim.heal();
    sim.node('a').network.send('c', new Uint8Array([1]));
    await sim.runFor(10);
    expect(got).toEqual(['a>b', 'a>c']);
  });

  it('silences a crashed member, fires none of its timers, and restarts it as a new incarnation', async () => {
    const sim = new Simulator({ seed: 4, members: ['a', 'b'] });
    const fired: string[] = [];
    const old = sim.node('a');
    old.clock.setTimer(10, () => fired.push('old timer'));
    const down: string[] = [];
    sim.node('b').network.onPeerDown((p) => down.push(p));
    sim.node('b').network.onMessage((from) => fired.push(`msg from ${from}`));
    await sim.node('b').network.start();
    sim.crash('a');
    old.network.send('b', new Uint8Array([1]));
    await sim.runFor(20);
    expect(fired).toEqual([]);
    expect(down).toEqual(['a']);
    expect(old.up).toBe(false);
    const fresh = sim.restart('a');
    expect(fresh.incarnation).toBe(2);
    expect(fresh.network.incarnation).toBe(2);
    fresh.network.send('b', new Uint8Array([1]));
    old.network.send('b', new Uint8Array([1]));
    await sim.runFor(20);
    expect(fired).toEqual(['msg from a']);
  });

  it("holds a paused member's timers and arrivals until it resumes, in the order they came due", async () => {
    const sim = new Simulator({ seed: 9, members: ['a', 'b'], faults: { minDelayMs: 1, maxDelayMs: 1 } });
    const seen: string[] = [];
    const a = sim.node('a');
    a.network.onMessage((_from, bytes) => seen.push(`msg ${bytes[0]} at ${sim.now}`));
    const down: string[] = [];
    sim.node('b').network.onPeerDown((p) => down.push(p));
    await a.network.start();
    a.clock.setTimer(10, () => seen.push(`timer at ${sim.now}`));
    const cancelled = a.clock.setTimer(12, () => seen.push('cancelled timer'));
    sim.schedule(5, () => sim.pause('a'));
    sim.schedule(15, () => sim.node('b').network.send('a', new Uint8Array([1])));
    sim.schedule(20, () => cancelled.cancel());
    sim.schedule(50, () => sim.resume('a'));
    await sim.runFor(40);
    expect(sim.paused('a')).toBe(true);
    expect(seen).toEqual([]);
    await sim.runFor(20);
    expect(seen).toEqual(['timer at 50', 'msg 1 at 50']);
    expect(down).toEqual([]);
    expect(sim.paused('a')).toBe(false);
  });

  it('drops what a paused member held when it crashes before resuming', async () => {
    const sim = new Simulator({ seed: 10, members: ['a', 'b'] });
    const seen: string[] = [];
    const a = sim.node('a');
    a.network.onMessage(() => seen.push('msg'));
    await a.network.start();
    sim.pause('a');
    a.clock.setTimer(1, () => seen.push('timer'));
    sim.node('b').network.send('a', new Uint8Array([1]));
    await sim.runFor(20);
    sim.crash('a');
    sim.resume('a');
    await sim.runFor(20);
    expect(seen).toEqual([]);
  });

  it('runs promise continuations between events, in virtual time', async () => {
    const sim = new Simulator({ seed: 5, members: ['a'] });
    const seen: number[] = [];
    const wait = (ms: number) => new Promise<void>((r) => sim.clock.setTimer(ms, r));
    void (async () => {
      await wait(10);
      seen.push(sim.now);
      await wait(5);
      seen.push(sim.now);
    })();
    await sim.runFor(100);
    expect(seen).toEqual([10, 15]);
  });

  it('rejects misuse with a clear error', () => {
    const sim = new Simulator({ seed: 6, members: ['a'] });
    expect(() => sim.node('zz')).toThrow('unknown member zz; members are a');
    expect(() => sim.restart('a')).toThrow('member a is up; crash it before restarting it');
    expect(() => new Simulator({ seed: 1, members: ['a', 'a'] })).toThrow('member ids must be unique');
  });
});
