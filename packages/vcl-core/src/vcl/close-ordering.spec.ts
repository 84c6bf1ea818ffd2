import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { MemberId } from '../contracts/network';
import type { Delivery, Ordered, OrderingProtocol, OrderingStatus, StateTransfer, View } from '../contracts/ordering';
import { Simulator } from '../testing/sim/simulator';
import { CounterService } from '../testing/vcl/counter-service';
import { LineClient, VclHarness } from '../testing/vcl/engine-harness';
import { lineSubstrate } from '../testing/vcl/line-substrate';
import { MemoryLinkTransport } from '../testing/vcl/memory-link';
import { RecordingLogger } from '../testing/vcl/recording-logger';
import type { ServiceBackend } from './backend';
import { ServiceInterceptor } from './service-interceptor';
import { encodeSessionEvent, type SessionEvent } from './session-events';
import { EventLog } from './recovery/event-log';
import { Recovery } from './recovery/recovery';

// Close and half-close are ordered events after the data: every member hands the service every
// byte ordered before them, live and in replay, and the service's output after a half-close still
// reaches the client.

describe('half-close and close, ordered after the data (simulator)', () => {
  it.each(Array.from({ length: 20 }, (_, i) => i + 1))(
    'a stream client that half-closes gets every reply and the end, then the session closes everywhere (seed %i)',
    async (seed) => {
      const h = new VclHarness({ seed, pattern: 'stream', openDelayMs: seed % 2 ? 40 : 0 });
      await h.start();
      const client = new LineClient(h.client.connect());
      for (let i = 1; i <= 5; i++) {
        client.send(`h:${i}`, 1);
        await h.sim.runFor(1 + (seed % 3));
      }
      client.conversation.end(); // shutdown(SHUT_WR), like nc -N
      await h.settle();
      expect(await h.sim.runUntil(() => client.ended, 10_000)).toBe(true);
      expect(client.error).toBeUndefined();
      expect(client.responses).toEqual(Array.from({ length: 5 }, (_, i) => `h:${i + 1} ${i + 1}`));
      await h.sim.runFor(100);
      for (const m of h.members) {
        expect(h.replicas.get(m)!.total).toBe(5);
        expect(h.services.get(m)!.status().sessions).toEqual([]);
      }
      expect(new Set(h.digests()).size).toBe(1);
    },
  );

  it.each(Array.from({ length: 10 }, (_, i) => i + 50))(
    'send-and-close stream clients lose no write when the close is ordered before the service conversation is open (seed %i)',
    async (seed) => {
      // The members' dials to the service take up to 60 ms; each client sends one line and is
      // gone a few ms later (a reset: no half-close), so its CLOSE is ordered before the dial ends.
      const h = new VclHarness({ seed, pattern: 'stream', openDelayMs: 60 });
      await h.start();
      const clients: LineClient[] = [];
      for (let c = 0; c < 20; c++) {
        const client = new LineClient(h.client.connect());
        clients.push(client);
        client.send(`c${c}`, 1);
      }
      await h.settle();
      await h.sim.runFor(4);
      for (const c of clients) c.conversation.destroy();
      await h.settle();
      await h.sim.runFor(500);
      for (const m of h.members) {
        expect(h.replicas.get(m)!.total).toBe(20);
        expect([...h.replicas.get(m)!.applied].sort()).toEqual(Array.from({ length: 20 }, (_, c) => `c${c}`).sort());
        expect(h.services.get(m)!.status().sessions).toEqual([]);
      }
    },
  );

  it('a request-response client that half-closes still gets its replies from a slow-to-open service', async () => {
    const h = new VclHarness({ seed: 5, openDelayMs: 50 });
    await h.start();
    const client = new LineClient(h.client.connect());
    for (let i = 1; i <= 3; i++) client.send(`r:${i}`, 2);
    client.conversation.end();
    await h.settle();
    expect(await h.sim.runUntil(() => client.ended, 10_000)).toBe(true);
    expect(client.responses).toEqual(['r:1 2', 'r:2 4', 'r:3 6']);
    await h.sim.runFor(100);
    expect(new Set(h.digests()).size).toBe(1);
  });
});

/** An ordering member the test drives by hand. */
class ManualOrder implements OrderingProtocol {
  deliverTo: ((d: Delivery) => void) | undefined;
  viewTo: ((v: View) => void) | undefined;
  hook: StateTransfer | undefined;
  installed: View | undefined;
  constructor(readonly self: MemberId) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  broadcast(): Promise<Ordered> {
    return new Promise(() => undefined);
  }
  onDeliver(h: (d: Delivery) => void): void {
    this.deliverTo = h;
  }
  onView(h: (v: View) => void): void {
    this.viewTo = h;
  }
  setStateTransfer(hook: StateTransfer): void {
    this.hook = hook;
  }
  view(): View | undefined {
    return this.installed;
  }
  status(): OrderingStatus {
    return { role: 'member', pending: 0, delivered: 0 };
  }
  install(v: View): void {
    this.installed = v;
    this.viewTo!(v);
  }
}

describe('a rejoined member of a stream stack (replay)', () => {
  const substrate = lineSubstrate('stream');
  const enc = (e: SessionEvent): Uint8Array => encodeSessionEvent(e);
  const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

  it.each([1, 2, 3, 4, 5])(
    'replays open, data, half-close and close at once and its service ends holding every byte (seed %i)',
    async (seed) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-close-order-'));
      try {
        const sim = new Simulator({ seed, members: ['n1', 'n2'] });
        const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
        const logger = new RecordingLogger();
        const make = (id: MemberId): { order: ManualOrder; counter: CounterService; svc: ServiceInterceptor } => {
          const node = sim.node(id);
          const counter = new CounterService();
          const direct = counter.backend(substrate);
          // A slow dial: every conversation opens after the replayed close was applied.
          const backend: ServiceBackend = {
            open: (session, signal) =>
              new Promise<void>((r) => node.clock.setTimer(5 + Math.floor(node.random.next() * 30), r)).then(() =>
                direct.open(session, signal),
              ),
          };
          const order = new ManualOrder(id);
          const recovery = new Recovery({
            self: id,
            mode: 'replay',
            log: new EventLog({ dir: path.join(dir, id), logger }),
            service: { save: async () => new Uint8Array(), load: async () => undefined, reset: async () => undefined },
            clock: node.clock,
            logger,
            onFatal: () => undefined,
          });
          const svc = new ServiceInterceptor({
            self: id,
            ordering: order,
            substrate,
            backend,
            transport: links,
            listen: { host: id, port: 7000 },
            members: [
              { id: 'n1', host: 'n1', port: 7000 },
              { id: 'n2', host: 'n2', port: 7000 },
            ],
            clock: node.clock,
            logger: logger.child({ member: id }),
            recovery,
          });
          return { order, counter, svc };
        };
        const events: Uint8Array[] = [];
        for (let s = 0; s < 6; s++) {
          const session = `s${s}`;
          events.push(enc({ type: 'open', session, origin: 'n1', attempt: s + 1, principal: 'p' }));
          events.push(enc({ type: 'data', session, inSeq: 1, ackOutSeq: 0, bytes: bytes(`${session} ${s + 1}\n`) }));
          // Half the sessions half-close first (nc -N), the others just close (sent and gone).
          if (s % 2) events.push(enc({ type: 'shutdown', session, inSeq: 1 }));
          events.push(enc({ type: 'close', session, reason: 'client', ifLastEvent: 0 }));
        }
        const donor = make('n1');
        await donor.svc.start();
        donor.order.install({ id: 1, members: ['n1'], primary: true, cut: 0 });
        events.forEach((payload, i) => donor.order.deliverTo!({ view: 1, seq: i + 1, sender: 'n1', payload }));
        const cut = events.length;
        let state: Uint8Array | undefined;
        void Promise.resolve(donor.order.hook!.capture(cut)).then((b) => (state = b));
        expect(await sim.runUntil(() => state !== undefined, 10_000)).toBe(true);
        await sim.runFor(200);
        expect(donor.counter.total).toBe(21);
        const joiner = make('n2');
        await joiner.svc.start();
        joiner.order.install({ id: 2, members: ['n1', 'n2'], primary: true, cut });
        let installed = false;
        void Promise.resolve(joiner.order.hook!.install(state!, cut)).then(() => (installed = true));
        expect(await sim.runUntil(() => installed, 10_000)).toBe(true);
        await sim.runFor(200);
        expect(joiner.counter.total).toBe(21);
        expect([...joiner.counter.applied].sort()).toEqual([...donor.counter.applied].sort());
        await donor.svc.stop();
        await joiner.svc.stop();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe('a stream substrate with sessions: one-at-a-time (simulator)', () => {
  it.each(Array.from({ length: 10 }, (_, i) => i + 70))(
    'refuses a second concurrent session at every member alike, in the total order, and serves the next one after the first closed (seed %i)',
    async (seed) => {
      const h = new VclHarness({ seed, pattern: 'stream', sessions: 'one-at-a-time' });
      await h.start();
      const first = new LineClient(h.client.connect());
      first.send('a', 1);
      await h.settle();
      expect(await h.sim.runUntil(() => first.responses.length === 1, 5000)).toBe(true);
      const second = new LineClient(h.client.connect());
      second.send('b', 10);
      await h.settle();
      expect(await h.sim.runUntil(() => second.ended, 5000)).toBe(true);
      expect(second.error?.message).toMatch(/VCL_SESSION_LIMIT.*one session at a time/);
      first.send('a2', 1);
      first.conversation.end();
      await h.settle();
      expect(await h.sim.runUntil(() => first.ended, 5000)).toBe(true);
      expect(first.responses).toEqual(['a 1', 'a2 2']);
      const third = new LineClient(h.client.connect());
      third.send('c', 100);
      third.conversation.end();
      await h.settle();
      expect(await h.sim.runUntil(() => third.ended, 5000)).toBe(true);
      expect(third.error).toBeUndefined();
      expect(third.responses).toEqual(['c 102']);
      await h.sim.runFor(100);
      for (const m of h.members) expect(h.replicas.get(m)!.applied).toEqual(['a', 'a2', 'c']);
      expect(new Set(h.digests()).size).toBe(1);
    },
  );
});
