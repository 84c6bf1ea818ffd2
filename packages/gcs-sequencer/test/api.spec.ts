import { StoppedError } from '@vcl/core';
import { SimGroup } from './harness';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('sequencer broadcast API', () => {
  it('an aborted broadcast that still waits for room is withdrawn; one already submitted may still be delivered', async () => {
    const g = new SimGroup({ seed: 41, size: 3, options: { maxPending: 1 } });
    await g.start();
    await g.sim.runFor(1000);
    g.crash('n2');
    g.crash('n3');
    await g.sim.runFor(1500);
    const n1 = g.live('n1')!.member;
    const first = new AbortController();
    const second = new AbortController();
    const p1 = n1.broadcast(bytes('n1#1#x'), first.signal);
    const p2 = n1.broadcast(bytes('n1#1#y'), second.signal);
    const outcomes = Promise.allSettled([p1, p2]);
    expect(n1.status().details).toMatchObject({ outbox: 1, waiting: 1 });
    first.abort(new Error('gave up on x'));
    second.abort(new Error('gave up on y'));
    const [r1, r2] = await outcomes;
    expect(r1).toMatchObject({ status: 'rejected', reason: new Error('gave up on x') });
    expect(r2).toMatchObject({ status: 'rejected', reason: new Error('gave up on y') });
    expect(n1.status().details).toMatchObject({ outbox: 1, waiting: 0 });
    await g.restart('n2');
    await g.restart('n3');
    await g.sim.runUntil(() => n1.status().pending === 0, 10_000);
    const delivered = [...g.global.values()].map((x) => x.key);
    expect(delivered).toContain('n1#1#x');
    expect(delivered).not.toContain('n1#1#y');
  });

  it('rejects pending and later broadcasts with StoppedError once stopped', async () => {
    const g = new SimGroup({ seed: 42, size: 3 });
    await g.start();
    await g.sim.runFor(1000);
    g.crash('n2');
    g.crash('n3');
    const n1 = g.live('n1')!.member;
    const pending = n1.broadcast(bytes('n1#1#z'));
    await n1.stop();
    await expect(pending).rejects.toBeInstanceOf(StoppedError);
    await expect(n1.broadcast(bytes('n1#1#w'))).rejects.toBeInstanceOf(StoppedError);
    await expect(n1.start()).rejects.toThrow('sequencer member n1 is stopped');
    await n1.stop();
    expect(n1.status().role).toBe('stopped');
  });

  it("copies the payload: changing the caller's buffer after broadcast changes nothing", async () => {
    const g = new SimGroup({ seed: 43, size: 3 });
    await g.start();
    await g.sim.runFor(1000);
    const buf = bytes('n1#1#1');
    const sent = g.live('n1')!.member.broadcast(buf);
    g.live('n1')!.sent++;
    buf.fill(0);
    await g.sim.runFor(500);
    expect(await sent).toMatchObject({ seq: 1 });
    expect(g.global.get(1)?.key).toBe('n1#1#1');
  });
});
