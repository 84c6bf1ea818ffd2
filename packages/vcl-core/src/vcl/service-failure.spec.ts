import type { MemberId } from '../contracts/network';
import { LineClient, VclHarness } from '../testing/vcl/engine-harness';

// A failed service is a failed replica: when the service process behind a member dies, that
// member can no longer apply what the group orders, so it leaves and its clients fail over to
// members whose replicas applied everything.

async function run(seed: number): Promise<{ h: VclHarness; clients: LineClient[]; victim: MemberId; done: boolean }> {
  const h = new VclHarness({ seed, client: { linkTimeoutMs: 300, heartbeatMs: 50 } });
  // What `ServiceMember` does when its service failed: stop, i.e. leave the group.
  for (const m of h.members) void h.services.get(m)!.serviceFailed.then(() => h.crash(m));
  await h.start();
  await h.sim.runFor(5);
  const requests = 30;
  const clients: LineClient[] = [];
  let victim: MemberId | undefined;
  for (let c = 0; c < 3; c++) {
    const client = new LineClient(h.client.connect());
    clients.push(client);
    let sent = 0;
    const window = 1 + ((seed + c) % 4);
    const pump = (): void => {
      while (sent < requests && sent - client.responses.length < window) client.send(`c${c}:${++sent}`, sent);
    };
    client.onResponse = () => {
      pump();
      if (c === 0 && victim === undefined && client.responses.length >= 5 + (seed % 11)) {
        victim = h.client.status().sessions.find((s) => s.state === 'open')?.member;
        if (victim) h.killService(victim);
      }
    };
    pump();
  }
  await h.settle();
  const done = await h.sim.runUntil(() => clients.every((c) => c.responses.length >= requests), 60_000);
  await h.sim.runFor(300);
  return { h, clients, victim: victim!, done };
}

describe('a failed service is a failed replica (simulator)', () => {
  it.each(Array.from({ length: 20 }, (_, i) => i + 400))(
    'the service behind the serving member dies mid-run: the member leaves, every client sees every reply once, in order, the survivors agree (seed %i)',
    async (seed) => {
      const { h, clients, victim, done } = await run(seed);
      expect(victim).toBeDefined();
      expect(done).toBe(true);
      for (const [c, client] of clients.entries()) {
        expect(client.error).toBeUndefined();
        expect(client.ended).toBe(false);
        expect(client.responses.map((r) => r.split(' ')[0])).toEqual(
          Array.from({ length: 30 }, (_, i) => `c${c}:${i + 1}`),
        );
      }
      expect(h.live()).not.toContain(victim);
      expect(h.live()).toHaveLength(2);
      expect(new Set(h.digests()).size).toBe(1);
      for (const m of h.live()) expect(h.replicas.get(m)!.applied).toHaveLength(90);
      expect(h.logger.find('error', 'service failed: this replica leaves the group').length).toBeGreaterThanOrEqual(1);
      expect(h.client.counters.unavailable).toBe(0);
    },
  );

  it('a service that closes a conversation on purpose (it still accepts new ones) is an ordinary end', async () => {
    const h = new VclHarness({ seed: 3 });
    let failed = false;
    for (const m of h.members) void h.services.get(m)!.serviceFailed.then(() => (failed = true));
    await h.start();
    const client = new LineClient(h.client.connect());
    client.send('a', 1);
    await h.settle();
    expect(await h.sim.runUntil(() => client.responses.length === 1, 5000)).toBe(true);
    // Every replica's service ends this session's conversation (it is still up for others).
    for (const m of h.members) for (const c of h.serviceConversationsOf(m)) c.end();
    await h.settle();
    expect(await h.sim.runUntil(() => client.ended, 5000)).toBe(true);
    expect(client.error).toBeUndefined();
    await h.sim.runFor(200);
    expect(failed).toBe(false);
    expect(h.live()).toHaveLength(3);
  });
});
