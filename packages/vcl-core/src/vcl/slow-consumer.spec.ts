import { conversationPair } from './conversation-pair';
import { LineClient, VclHarness } from '../testing/vcl/engine-harness';

// Slow consumers never stall anyone: a client that does not read its output makes its own
// session's cache pass the bound, and the group closes that session at one point of the total
// order (reason overflow); the dispatcher never waits for it, so the other sessions go on.

async function run(seed: number, maxCacheBytes: number) {
  const h = new VclHarness({ seed, service: { maxCacheBytes }, client: { ackIntervalMs: 10 } });
  await h.start();
  await h.sim.runFor(5);
  // The slow client: its connection buffers 16 bytes and it never reads.
  const [engineSide, app] = conversationPair({ highWaterMark: 16 });
  h.client.serve(engineSide);
  const slow = new LineClient(app);
  app.pause();
  for (let i = 1; i <= 80; i++) slow.send(`slow:${i}`, 1);
  const requests = 40;
  const clients: LineClient[] = [];
  for (let c = 0; c < 4; c++) {
    const client = new LineClient(h.client.connect());
    clients.push(client);
    let sent = 0;
    const pump = (): void => {
      while (sent < requests && sent - client.responses.length < 3) client.send(`c${c}:${++sent}`, 1);
    };
    client.onResponse = pump;
    pump();
  }
  await h.settle();
  const done = await h.sim.runUntil(() => clients.every((c) => c.responses.length >= requests), 30_000);
  await h.sim.runUntil(() => slow.ended, 10_000);
  await h.sim.runFor(300);
  return { h, slow, clients, done };
}

describe('slow consumers (simulator)', () => {
  it.each(Array.from({ length: 30 }, (_, i) => i + 500))(
    'a client that never reads is closed for overflow at the same point everywhere, while the others finish (seed %i)',
    async (seed) => {
      const { h, slow, clients, done } = await run(seed, 128 + (seed % 5) * 64);
      expect(done).toBe(true);
      for (const [c, client] of clients.entries()) {
        expect(client.error).toBeUndefined();
        expect(client.responses.map((r) => r.split(' ')[0])).toEqual(
          Array.from({ length: 40 }, (_, i) => `c${c}:${i + 1}`),
        );
      }
      expect(slow.ended).toBe(true);
      expect(slow.error?.message).toMatch(/VCL_SESSION_OVERFLOW: .*unread/);
      // Every replica applied the same requests in the same order, the slow session's included
      // up to the one point where the group closed it.
      expect(new Set(h.digests()).size).toBe(1);
      const slowApplied = h.members.map((m) => h.replicas.get(m)!.applied.filter((t) => t.startsWith('slow')).length);
      expect(new Set(slowApplied).size).toBe(1);
      for (const m of h.members) {
        const svc = h.services.get(m)!;
        expect(svc.counters.overflows).toBe(1);
        expect(svc.status().sessions.map((s) => s.id)).not.toContain(undefined);
        expect(svc.status().cacheBytes).toBe(0);
      }
    },
  );

  it('a client that reads its output late but within the bound is not closed', async () => {
    const h = new VclHarness({ seed: 9, service: { maxCacheBytes: 4096 }, client: { ackIntervalMs: 10 } });
    await h.start();
    await h.sim.runFor(5);
    const [engineSide, app] = conversationPair({ highWaterMark: 16 });
    h.client.serve(engineSide);
    const client = new LineClient(app);
    app.pause();
    for (let i = 1; i <= 40; i++) client.send(`c0:${i}`, 1);
    await h.sim.runFor(2000);
    app.resume();
    expect(await h.sim.runUntil(() => client.responses.length === 40, 20_000)).toBe(true);
    expect(client.error).toBeUndefined();
    expect(client.responses.at(-1)).toBe('c0:40 40');
    for (const m of h.members) expect(h.services.get(m)!.counters.overflows).toBe(0);
  });
});
