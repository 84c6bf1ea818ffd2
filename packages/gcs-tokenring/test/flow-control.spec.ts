import type { MemberId, Network } from '@vcl/core';
import { Cluster, errors } from './harness';
import { Kind, decode } from '../src/wire';

afterEach(() => {
  // A logged protocol error fails the test that produced it (and only that one).
  expect(errors.splice(0)).toEqual([]);
});

/**
 * Sniffs every member's sends: each token hop a member sends closes that member's visit, and the
 * ordered messages it sent for the first time since its previous hop were stamped on that visit.
 */
function sniffer() {
  const stamped = new Set<number>();
  const pending = new Map<MemberId, number>();
  const visits: { member: MemberId; hop: number; stamped: number }[] = [];
  const wrapNetwork = (id: MemberId, net: Network): Network => ({
    ...net,
    start: () => net.start(),
    stop: () => net.stop(),
    onMessage: (h) => net.onMessage(h),
    onPeerDown: (h) => net.onPeerDown(h),
    send: (to, bytes) => {
      const msg = decode(bytes, 3);
      if (msg.kind === Kind.Data && !stamped.has(msg.seq) && msg.sender === Number(id.slice(1)) - 1) {
        stamped.add(msg.seq);
        pending.set(id, (pending.get(id) ?? 0) + 1);
      }
      if (msg.kind === Kind.Token && !visits.some((v) => v.hop === msg.tokenSeq)) {
        visits.push({ member: id, hop: msg.tokenSeq, stamped: pending.get(id) ?? 0 });
        pending.set(id, 0);
      }
      net.send(to, bytes);
    },
  });
  return { wrapNetwork, visits, stamped };
}

describe('flow control', () => {
  it('stamps at most maxPerVisit per visit and window per rotation, and every waiting broadcast completes', async () => {
    const s = sniffer();
    const c = new Cluster({ seed: 31, members: 3, wrapNetwork: s.wrapNetwork, options: { window: 6, maxPerVisit: 3 } });
    await c.startAll();
    expect(await c.settle(5000)).toBe(true);
    for (let i = 0; i < 90; i++) c.broadcast(c.ids[i % 3]!);
    // The window is full: most broadcasts wait in the backlog.
    await c.run(5);
    expect(c.ids.reduce((n, id) => n + c.member(id).status().pending, 0)).toBeGreaterThan(60);
    expect(await c.settle(20000)).toBe(true);
    expect(s.stamped.size).toBe(90);
    const visits = s.visits.sort((a, b) => a.hop - b.hop);
    expect(Math.max(...visits.map((v) => v.stamped))).toBe(3);
    let fullest = 0;
    for (let i = 0; i + 3 <= visits.length; i++) {
      const rotation = visits.slice(i, i + 3).reduce((n, v) => n + v.stamped, 0);
      fullest = Math.max(fullest, rotation);
    }
    expect(fullest).toBe(6);
    expect(c.report({ faultsEndedAt: 0 })).toBe('');
  });

  it('shares the window by backlog: a small sender is not starved by a large one', async () => {
    const c = new Cluster({ seed: 32, members: 3, options: { window: 8, maxPerVisit: 8 } });
    await c.startAll();
    expect(await c.settle(5000)).toBe(true);
    for (let i = 0; i < 60; i++) c.broadcast('n1');
    for (let i = 0; i < 3; i++) c.broadcast('n2');
    expect(await c.settle(20000)).toBe(true);
    const order = c.deliveredIds('n3');
    const lastSmall = order.lastIndexOf('n2#1:3');
    expect(lastSmall).toBeGreaterThanOrEqual(0);
    expect(lastSmall).toBeLessThan(30);
    expect(c.report({ faultsEndedAt: 0 })).toBe('');
  });
});
