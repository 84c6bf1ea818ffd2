import { SimGroup } from './harness';

describe('sequencer flow control', () => {
  it('bounds every buffer under a burst over slow links; senders wait and nothing is lost', async () => {
    const windowMessages = 64;
    const maxPending = 16;
    const g = new SimGroup({ seed: 31, size: 3, options: { windowMessages, maxPending } });
    await g.start();
    await g.sim.runFor(1000);
    g.sim.setFaults({ minDelayMs: 20, maxDelayMs: 60 });
    for (const id of g.ids) for (let i = 0; i < 600; i++) g.send(id);
    let maxStored = 0;
    let maxOutbox = 0;
    let maxQueued = 0;
    let maxWaiting = 0;
    const sample = (): boolean => {
      for (const me of g.lives()) {
        const d = me.member.status().details!;
        maxStored = Math.max(maxStored, d.stored as number);
        maxOutbox = Math.max(maxOutbox, d.outbox as number);
        maxQueued = Math.max(maxQueued, d.queuedAtSequencer as number);
        maxWaiting = Math.max(maxWaiting, d.waiting as number);
      }
      return g.settled();
    };
    if (!(await g.sim.runUntil(sample, 120_000))) await g.settle(1);
    expect(g.check()).toEqual([]);
    expect(g.global.size).toBe(1800);
    expect(maxStored).toBeLessThanOrEqual(windowMessages);
    expect(maxOutbox).toBeLessThanOrEqual(maxPending);
    expect(maxQueued).toBeLessThanOrEqual(3 * maxPending);
    expect(maxWaiting).toBeGreaterThan(500);
  });

  it('bounds the window in bytes too', async () => {
    const g = new SimGroup({ seed: 32, size: 3, options: { windowBytes: 4096, maxMessageBytes: 4096 } });
    await g.start();
    await g.sim.runFor(1000);
    g.sim.setFaults({ minDelayMs: 10, maxDelayMs: 30 });
    for (let i = 0; i < 300; i++) g.send('n2');
    let maxBytes = 0;
    const sample = (): boolean => {
      for (const me of g.lives()) maxBytes = Math.max(maxBytes, me.member.status().details!.storedBytes as number);
      return g.settled();
    };
    if (!(await g.sim.runUntil(sample, 120_000))) await g.settle(1);
    expect(g.check()).toEqual([]);
    expect(maxBytes).toBeGreaterThan(0);
    expect(maxBytes).toBeLessThanOrEqual(4096);
  });

  it('rejects a payload above maxMessageBytes with a typed error and keeps serving', async () => {
    const g = new SimGroup({ seed: 33, size: 3, options: { maxMessageBytes: 100 } });
    await g.start();
    await g.sim.runFor(1000);
    const me = g.live('n1')!;
    await expect(me.member.broadcast(new Uint8Array(101))).rejects.toThrow(
      'broadcast payload of 101 bytes exceeds maxMessageBytes (100)',
    );
    await expect(me.member.broadcast('text' as unknown as Uint8Array)).rejects.toMatchObject({
      code: 'VCL_BROADCAST_REJECTED',
    });
    g.send('n1');
    await g.settle();
    expect(g.check()).toEqual([]);
  });
});
