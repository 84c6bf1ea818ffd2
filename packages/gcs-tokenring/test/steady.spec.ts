import { Cluster, errors } from './harness';

afterEach(() => {
  // A logged protocol error fails the test that produced it (and only that one).
  expect(errors.splice(0)).toEqual([]);
});

describe.each([3, 5])('token ring, %i members, steady state', (n) => {
  it('delivers every broadcast everywhere in one order, each promise resolving at its seq', async () => {
    const c = new Cluster({ seed: 11, members: n });
    await c.startAll();
    await c.settle(5000);
    expect(c.member('n1').view()).toMatchObject({ id: 1, members: c.ids, primary: true, cut: 0 });
    const sent = [];
    for (let i = 0; i < 40; i++) sent.push(c.broadcast(c.ids[i % n]!));
    expect(await c.settle(10000)).toBe(true);
    const start = c.sim.now;
    expect(c.report({ faultsEndedAt: start })).toBe('');
    const order = c.deliveredIds('n1');
    expect(order).toHaveLength(40);
    for (const id of c.ids) expect(c.deliveredIds(id)).toEqual(order);
    expect(sent.every((b) => b.resolved && order[b.resolved.seq - 1] === b.messageId)).toBe(true);
    // Sender FIFO: each member's messages appear in the order it broadcast them.
    for (const id of c.ids) {
      const mine = order.filter((m) => m.startsWith(`${id}#`));
      expect(mine).toEqual([...mine].sort((a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1])));
    }
    expect(c.member('n1').status()).toMatchObject({ delivered: 40, pending: 0 });
  });
});

describe('broadcast', () => {
  it('resolves only once the sender itself has delivered the message', async () => {
    const c = new Cluster({ seed: 3, members: 3 });
    await c.startAll();
    await c.settle(5000);
    const m = c.member('n2');
    const seen: number[] = [];
    m.onDeliver((d) => seen.push(d.seq));
    const out = await Promise.all([
      (async () => {
        const o = await m.broadcast(new TextEncoder().encode('x'));
        return { o, deliveredThen: [...seen] };
      })(),
      c.run(2000),
    ]);
    expect(out[0].deliveredThen).toContain(out[0].o.seq);
  });

  it('stops waiting on abort; an unsent message never enters the order', async () => {
    const c = new Cluster({ seed: 4, members: 3 });
    await c.startAll();
    // Before the first view forms nothing can be stamped, so the abort catches it in the backlog.
    const ac = new AbortController();
    const p = c.member('n1').broadcast(new TextEncoder().encode('never'), ac.signal);
    ac.abort(new Error('gave up'));
    await expect(p).rejects.toThrow('gave up');
    await expect(c.member('n1').broadcast(new Uint8Array([1]), ac.signal)).rejects.toThrow('gave up');
    c.broadcast('n1');
    expect(await c.settle(5000)).toBe(true);
    expect(c.deliveredIds('n3')).toEqual(['n1#1:1']);
    expect(c.report({ faultsEndedAt: 0 })).toBe('');
  });
});
