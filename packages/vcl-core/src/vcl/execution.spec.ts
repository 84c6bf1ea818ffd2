import type { Conversation, RequestPlan, Substrate } from '../contracts/substrate';
import { CounterService } from '../testing/vcl/counter-service';
import { LineClient, VclHarness } from '../testing/vcl/engine-harness';
import type { Clock } from '../contracts/clock';
import { handlerBackend, type ServiceBackend } from './backend';

// Execution traits: pipelining (consecutive requests of one session go to the service without
// waiting for each answer, still in the total order) and planned requests (`refuse`: answered with
// the substrate's error reply at every member, never applied).

/** A counter that records how many requests it had received and not yet answered, at most. */
class PeekCounter extends CounterService {
  maxOutstanding = 0;
  constructor(private readonly clock: () => Clock) {
    super();
  }
  override backend(substrate: Pick<Substrate, 'requestFramer'>): ServiceBackend {
    // Each answer takes 3 ms of virtual time, so a pipelined request arrives before it.
    const inner = handlerBackend(
      () => substrate.requestFramer(),
      (request) => new Promise<Uint8Array>((resolve) => this.clock().setTimer(3, () => resolve(this.handle(request)))),
    );
    return {
      open: async (session, signal) => {
        const c = await inner.open(session, signal);
        let outstanding = 0;
        const write = c.write.bind(c);
        const wrapped: Conversation = Object.assign(Object.create(c) as Conversation, {
          write: (bytes: Uint8Array) => {
            outstanding += new TextDecoder().decode(bytes).split('\n').length - 1;
            this.maxOutstanding = Math.max(this.maxOutstanding, outstanding);
            return write(bytes);
          },
          onData: (h: (b: Uint8Array) => void) =>
            c.onData((b) => {
              outstanding -= new TextDecoder().decode(b).split('\n').length - 1;
              h(b);
            }),
        });
        return wrapped;
      },
    };
  }
}

const plan = (request: Uint8Array): RequestPlan =>
  new TextDecoder().decode(request).startsWith('random')
    ? { kind: 'refuse', reason: 'random is not deterministic' }
    : { kind: 'write' };

async function run(seed: number, pipelining: boolean) {
  const replicas = new Map<string, PeekCounter>();
  const h: VclHarness = new VclHarness({
    seed,
    execution: { pipelining, planner: () => ({ plan }) },
    replica: (m) => {
      const r = new PeekCounter(() => h.sim.node(m).clock);
      replicas.set(m, r);
      return r;
    },
  });
  await h.start();
  await h.sim.runFor(5);
  const clients: LineClient[] = [];
  for (let c = 0; c < 3; c++) {
    const client = new LineClient(h.client.connect());
    clients.push(client);
    // A pipelining client: 20 requests at once, every fifth a refused one.
    for (let i = 1; i <= 20; i++) client.send(i % 5 === 0 ? `random${c}:${i}` : `c${c}:${i}`, i);
  }
  await h.settle();
  const done = await h.sim.runUntil(() => clients.every((c) => c.responses.length === 20), 20_000);
  await h.sim.runFor(200);
  return { h, clients, done, replicas };
}

describe('execution traits (simulator)', () => {
  it.each(Array.from({ length: 20 }, (_, i) => i + 600))(
    'pipelines the requests of a session to the service and answers refused ones at every member alike (seed %i)',
    async (seed) => {
      const { h, clients, done, replicas } = await run(seed, true);
      expect(done).toBe(true);
      for (const [c, client] of clients.entries())
        expect(client.responses.map((r) => r.split(' ')[0])).toEqual(
          Array.from({ length: 20 }, (_, i) => ((i + 1) % 5 === 0 ? 'ERR' : `c${c}:${i + 1}`)),
        );
      expect(clients[0]!.responses[4]).toMatch(/^ERR random is not deterministic/);
      expect(new Set(h.digests()).size).toBe(1);
      for (const m of h.members) {
        expect(h.replicas.get(m)!.applied).toHaveLength(48);
        expect(h.replicas.get(m)!.applied.some((t) => t.startsWith('random'))).toBe(false);
      }
      expect(Math.max(...[...replicas.values()].map((r) => r.maxOutstanding))).toBeGreaterThan(1);
    },
  );

  it('without pipelining a session has one request at the service at a time', async () => {
    const { done, replicas, h } = await run(7, false);
    expect(done).toBe(true);
    for (const r of replicas.values()) expect(r.maxOutstanding).toBe(1);
    expect(new Set(h.digests()).size).toBe(1);
  });
});
