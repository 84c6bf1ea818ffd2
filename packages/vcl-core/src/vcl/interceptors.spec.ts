import { LineClient, VclHarness, type VclHarnessOptions } from '../testing/vcl/engine-harness';

interface Scenario {
  readonly clients: number;
  readonly requests: number;
  /** Requests a client keeps outstanding. */
  readonly window: number;
  /** Faults: after `afterResponses` responses at client 0, hit the member it is attached to. */
  readonly faults?: readonly { readonly afterResponses: number; readonly kind: 'crash' | 'freeze' }[];
}

interface Outcome {
  readonly h: VclHarness;
  readonly clients: LineClient[];
  readonly done: boolean;
  readonly hit: string[];
}

/** Runs `scenario` and returns what every client saw. */
async function run(options: VclHarnessOptions, scenario: Scenario): Promise<Outcome> {
  const h = new VclHarness(options);
  await h.start();
  await h.sim.runFor(5);
  const clients: LineClient[] = [];
  const sent: number[] = [];
  const hit: string[] = [];
  const faults = [...(scenario.faults ?? [])];
  for (let c = 0; c < scenario.clients; c++) {
    const client = new LineClient(h.client.connect());
    clients.push(client);
    sent.push(0);
    const pump = (): void => {
      while (sent[c]! < scenario.requests && sent[c]! - client.responses.length < scenario.window) {
        const i = ++sent[c]!;
        client.send(`c${c}:${i}`, i);
      }
    };
    client.onResponse = () => {
      pump();
      if (c === 0 && faults.length > 0 && client.responses.length >= faults[0]!.afterResponses) {
        const f = faults.shift()!;
        const target = h.client.status().sessions.find((s) => s.state === 'open')?.member;
        if (target && h.live().includes(target)) {
          hit.push(target);
          if (f.kind === 'crash') h.crash(target);
          else h.freeze(target);
        }
      }
    };
    pump();
  }
  await h.settle();
  const done = await h.sim.runUntil(() => clients.every((c) => c.responses.length >= scenario.requests), 60_000);
  await h.sim.runFor(300); // let acks and trims settle
  return { h, clients, done, hit };
}

function expectExactlyOnceInOrder(o: Outcome, scenario: Scenario): void {
  expect(o.done).toBe(true);
  for (const [c, client] of o.clients.entries()) {
    expect(client.error).toBeUndefined();
    expect(client.ended).toBe(false);
    expect(client.responses.map((r) => r.split(' ')[0])).toEqual(
      Array.from({ length: scenario.requests }, (_, i) => `c${c}:${i + 1}`),
    );
  }
}

function expectReplicasAlike(o: Outcome, scenario: Scenario): void {
  const digests = o.h.digests();
  expect(new Set(digests).size).toBe(1);
  const perClient = (scenario.requests * (scenario.requests + 1)) / 2;
  for (const m of o.h.live()) {
    const r = o.h.replicas.get(m)!;
    expect(r.total).toBe(perClient * scenario.clients);
    expect(new Set(r.applied).size).toBe(r.applied.length); // every request applied exactly once
    expect(r.applied).toHaveLength(scenario.requests * scenario.clients);
  }
}

describe('ServiceInterceptor + ClientInterceptor (fake total order, simulator)', () => {
  it('carries a stream of requests with every response exactly once, in order', async () => {
    const scenario = { clients: 2, requests: 40, window: 4 };
    const o = await run({ seed: 1 }, scenario);
    expectExactlyOnceInOrder(o, scenario);
    expectReplicasAlike(o, scenario);
    // A single client's responses carry the running total it implies.
    const single = await run({ seed: 2 }, { clients: 1, requests: 10, window: 3 });
    expect(single.clients[0]!.responses.map((r) => Number(r.split(' ')[1]))).toEqual(
      Array.from({ length: 10 }, (_, i) => ((i + 1) * (i + 2)) / 2),
    );
  });

  it.each(Array.from({ length: 25 }, (_, i) => i + 100))(
    'fails over transparently when the member is killed (seed %i)',
    async (seed) => {
      const scenario: Scenario = {
        clients: 3,
        requests: 30,
        window: 1 + (seed % 5),
        faults: [{ afterResponses: 5 + (seed % 17), kind: 'crash' }],
      };
      const o = await run({ seed }, scenario);
      expect(o.hit).toHaveLength(1);
      expectExactlyOnceInOrder(o, scenario);
      expectReplicasAlike(o, scenario);
      expect(o.h.client.counters.failovers).toBeGreaterThanOrEqual(1);
      expect(o.h.client.counters.unavailable).toBe(0);
    },
  );

  it.each(Array.from({ length: 25 }, (_, i) => i + 200))(
    'fails over transparently when the member is frozen (seed %i)',
    async (seed) => {
      const scenario: Scenario = {
        clients: 3,
        requests: 30,
        window: 1 + (seed % 5),
        faults: [{ afterResponses: 5 + (seed % 17), kind: 'freeze' }],
      };
      const o = await run({ seed, client: { linkTimeoutMs: 300, heartbeatMs: 50 } }, scenario);
      expect(o.hit).toHaveLength(1);
      expectExactlyOnceInOrder(o, scenario);
      expectReplicasAlike(o, scenario);
    },
  );

  it.each(Array.from({ length: 10 }, (_, i) => i + 300))(
    'survives two successive failures of five members (seed %i)',
    async (seed) => {
      const scenario: Scenario = {
        clients: 6,
        requests: 25,
        window: 3,
        faults: [
          { afterResponses: 6, kind: seed % 2 ? 'crash' : 'freeze' },
          { afterResponses: 15, kind: 'crash' },
        ],
      };
      const o = await run({ seed, members: 5, client: { linkTimeoutMs: 300, heartbeatMs: 50 } }, scenario);
      expect(o.hit).toHaveLength(2);
      expect(o.h.live()).toHaveLength(3);
      expectExactlyOnceInOrder(o, scenario);
      expectReplicasAlike(o, scenario);
    },
  );

  it('resends a request that was sent just before the failure and not yet ordered, applied exactly once', async () => {
    // Ordering is slow (20 ms) and links fast: the request is on its way to the total order when
    // the member dies, so the group loses it and the client-side interceptor must resend it.
    const h = new VclHarness({ seed: 7, orderDelayMs: 20, linkDelayMs: 1 });
    await h.start();
    await h.sim.runFor(5);
    const client = new LineClient(h.client.connect());
    client.send('c0:1', 1);
    await h.sim.runUntil(() => client.responses.length === 1, 5000);
    client.send('c0:2', 2);
    await h.settle();
    await h.sim.runFor(5); // at the member, broadcast, not ordered
    const target = h.client.status().sessions[0]!.member!;
    h.crash(target);
    expect(await h.sim.runUntil(() => client.responses.length === 2, 10_000)).toBe(true);
    await h.sim.runFor(100);
    expect(client.responses).toEqual(['c0:1 1', 'c0:2 3']);
    expect(h.client.counters.resent).toBeGreaterThanOrEqual(1);
    for (const m of h.live()) expect(h.replicas.get(m)!.applied).toEqual(['c0:1', 'c0:2']);
  });

  it('drops the duplicate when the old member gets its copy ordered after the resend', async () => {
    // The member the client used is slow to reach the total order and loses its client link: the
    // client resends through another member, whose copy is ordered first; the old member's copy
    // comes later and every member drops it alike.
    const h = new VclHarness({ seed: 8, orderDelayMs: 1, linkDelayMs: 2 });
    await h.start();
    const client = new LineClient(h.client.connect());
    await h.settle();
    await h.sim.runFor(50);
    const first = h.client.status().sessions[0]!.member!;
    h.order.setOrderDelay(first, 100);
    client.send('c0:1', 1);
    await h.settle();
    await h.sim.runFor(10); // at the member, on its slow way to the total order
    h.cutClientLinks(first);
    expect(await h.sim.runUntil(() => client.responses.length === 1, 10_000)).toBe(true);
    await h.sim.runFor(300);
    expect(client.responses).toEqual(['c0:1 1']);
    expect(h.client.counters.resent).toBe(1);
    const dropped = h.members.map((m) => h.services.get(m)!.counters.duplicatesDropped);
    expect(dropped).toEqual([1, 1, 1]);
    for (const m of h.members) expect(h.replicas.get(m)!.applied).toEqual(['c0:1']);
    expect(new Set(h.digests()).size).toBe(1);
  });

  it('keeps a link alive through a handshake that waits long for the total order', async () => {
    // Ordering takes longer than the member's link timeout: the client's keep-alives must hold the
    // link open while its OPEN waits, so no fail-over happens.
    const h = new VclHarness({
      seed: 9,
      orderDelayMs: 800,
      service: { linkTimeoutMs: 300, heartbeatMs: 50 },
      client: { heartbeatMs: 50 },
    });
    await h.start();
    const client = new LineClient(h.client.connect());
    client.send('c0:1', 1);
    await h.settle();
    expect(await h.sim.runUntil(() => client.responses.length === 1, 10_000)).toBe(true);
    expect(client.responses).toEqual(['c0:1 1']);
    expect(h.client.counters.failovers).toBe(0);
    expect(h.logger.find('info', 'client link silent')).toHaveLength(0);
  });

  it('trims every member cache at the same point, through acks in the total order', async () => {
    const scenario = { clients: 2, requests: 30, window: 5 };
    const o = await run({ seed: 11, client: { ackIntervalMs: 20 } }, scenario);
    expectExactlyOnceInOrder(o, scenario);
    const caches = o.h.members.map((m) =>
      o.h.services
        .get(m)!
        .status()
        .sessions.map((s) => [s.id, s.ackedOut, s.produced, s.cacheBytes]),
    );
    for (const c of caches) expect(c).toEqual(caches[0]);
    for (const [, acked, produced, bytes] of caches[0]!) {
      expect(acked).toBe(produced);
      expect(bytes).toBe(0);
    }
  });

  it('closes the session on every replica when the client closes, and frees the caches', async () => {
    const h = new VclHarness({ seed: 13 });
    await h.start();
    await h.sim.runFor(5);
    const client = new LineClient(h.client.connect());
    client.send('c0:1', 1);
    await h.sim.runUntil(() => client.responses.length === 1, 5000);
    expect(h.services.get('n2')!.status().sessions).toHaveLength(1);
    client.conversation.end();
    await h.sim.runFor(100);
    for (const m of h.members) {
      expect(h.services.get(m)!.status().sessions).toHaveLength(0);
      expect(h.services.get(m)!.status().cacheBytes).toBe(0);
    }
    expect(h.client.status().sessions).toHaveLength(0);
  });

  it('lets a client half-close after its requests: it still gets every response, then the session closes everywhere', async () => {
    const h = new VclHarness({ seed: 16 });
    await h.start();
    const client = new LineClient(h.client.connect());
    for (let i = 1; i <= 20; i++) client.send(`h:${i}`, 1);
    client.conversation.end();
    await h.settle();
    expect(await h.sim.runUntil(() => client.ended, 10_000)).toBe(true);
    expect(client.error).toBeUndefined();
    expect(client.responses).toEqual(Array.from({ length: 20 }, (_, i) => `h:${i + 1} ${i + 1}`));
    await h.sim.runFor(50);
    for (const m of h.members) expect(h.services.get(m)!.status().sessions).toEqual([]);
  });

  it('carries a byte stream with byte-offset numbering across a fail-over', async () => {
    const h = new VclHarness({ seed: 14, pattern: 'stream' });
    await h.start();
    await h.sim.runFor(5);
    const client = new LineClient(h.client.connect());
    for (let i = 1; i <= 10; i++) client.send(`s:${i}`, i);
    await h.sim.runUntil(() => client.responses.length >= 5, 5000);
    h.crash(h.client.status().sessions[0]!.member!);
    for (let i = 11; i <= 20; i++) client.send(`s:${i}`, i);
    expect(await h.sim.runUntil(() => client.responses.length >= 20, 10_000)).toBe(true);
    await h.sim.runFor(100);
    expect(client.responses.map((r) => r.split(' ')[0])).toEqual(Array.from({ length: 20 }, (_, i) => `s:${i + 1}`));
    expect(new Set(h.digests()).size).toBe(1);
  });

  it('closes the client connection with a logged reason when no member is reachable in time', async () => {
    const h = new VclHarness({ seed: 15, client: { failoverTimeoutMs: 500 } });
    await h.start();
    await h.sim.runFor(5);
    const client = new LineClient(h.client.connect());
    client.send('c0:1', 1);
    await h.sim.runUntil(() => client.responses.length === 1, 5000);
    for (const m of h.members) h.crash(m);
    await h.sim.runFor(2000);
    expect(client.ended).toBe(true);
    expect(client.error?.message).toMatch(/no member reachable/);
    expect(h.client.counters.unavailable).toBe(1);
    expect(h.logger.find('error', 'giving up')).toHaveLength(1);
  });
});
