import type { MemberId } from '../contracts/network';
import type { Substrate } from '../contracts/substrate';
import { Simulator } from '../testing/sim/simulator';
import { CounterService } from '../testing/vcl/counter-service';
import { LineClient } from '../testing/vcl/engine-harness';
import { FakeTotalOrder } from '../testing/vcl/fake-total-order';
import { lineSubstrate } from '../testing/vcl/line-substrate';
import { MemoryLinkTransport } from '../testing/vcl/memory-link';
import { RecordingLogger } from '../testing/vcl/recording-logger';
import { handlerBackend } from './backend';
import { decodeMemberFrame, encodeClientFrame, type MemberFrame } from './link-frames';
import { ClientInterceptor } from './client-interceptor';
import { ServiceInterceptor } from './service-interceptor';
import { shortSessionId } from './session-id';

// Several substrates in one stack, on the simulator: every member serves a `plain` and an `ops`
// substrate in front of the same replica (the ops backend marks its answers), two client-side
// interceptors (one per substrate) interleave requests, a member is crashed mid-way.

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A line substrate under another name, so the two substrates are told apart. */
function named(name: string): Substrate {
  const base = lineSubstrate('request-response');
  return { ...base, name, errorResponse: (e) => enc.encode(`${name.toUpperCase()}-ERR ${e.message}\n`) };
}

class World {
  readonly sim: Simulator;
  readonly order: FakeTotalOrder;
  readonly links: MemoryLinkTransport;
  readonly members = ['n1', 'n2', 'n3'];
  readonly replicas = new Map<MemberId, CounterService>();
  readonly services = new Map<MemberId, ServiceInterceptor>();
  readonly clients: Record<'plain' | 'ops' | 'bogus', ClientInterceptor>;
  readonly down = new Set<MemberId>();
  readonly logger = new RecordingLogger();

  constructor(seed: number) {
    this.sim = new Simulator({ seed, members: [...this.members, 'client'] });
    this.order = new FakeTotalOrder({ clock: this.sim.clock, members: this.members, orderDelayMs: 1, detectMs: 50 });
    this.links = new MemoryLinkTransport({ clock: this.sim.clock, delayMs: 1 });
    const addresses = this.members.map((id, i) => ({ id, host: id, port: 7000 + i }));
    const plain = named('plain');
    const ops = named('ops');
    for (const [i, id] of this.members.entries()) {
      const replica = new CounterService();
      this.replicas.set(id, replica);
      const mark = handlerBackend(
        () => ops.requestFramer(),
        (request) => enc.encode(`ops:${dec.decode(replica.handle(request))}`),
      );
      this.services.set(
        id,
        new ServiceInterceptor({
          self: id,
          ordering: this.order.member(id),
          substrates: [
            { name: 'plain', substrate: plain, backend: replica.backend(plain) },
            { name: 'ops', substrate: ops, backend: mark },
          ],
          transport: this.links,
          listen: { host: id, port: 7000 + i },
          members: addresses,
          clock: this.sim.node(id).clock,
          logger: this.logger.child({ member: id }),
        }),
      );
    }
    const node = this.sim.node('client');
    const client = (substrate: Substrate, substrateName: string): ClientInterceptor =>
      new ClientInterceptor({
        members: addresses,
        transport: this.links,
        substrate,
        substrateName,
        clock: node.clock,
        random: node.random,
        logger: this.logger.child({ side: substrateName }),
      });
    this.clients = { plain: client(plain, 'plain'), ops: client(ops, 'ops'), bogus: client(plain, 'bogus') };
  }

  async start(): Promise<void> {
    for (const id of this.members) await this.order.member(id).start();
    for (const s of this.services.values()) await s.start();
    for (const c of Object.values(this.clients)) await c.start();
  }

  live(): MemberId[] {
    return this.members.filter((m) => !this.down.has(m));
  }

  crash(id: MemberId): void {
    this.down.add(id);
    this.links.crash(id, 7000 + this.members.indexOf(id));
    this.order.crash(id);
    this.sim.crash(id);
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('one member group serving two substrates (simulator)', () => {
  it.each(Array.from({ length: 20 }, (_, i) => i + 600))(
    'interleaved sessions of both substrates share one total order; a crash mid-way loses and repeats nothing (seed %i)',
    async (seed) => {
      const w = new World(seed);
      await w.start();
      await w.sim.runFor(5);
      const requests = 20;
      const kinds = ['plain', 'ops', 'plain', 'ops'] as const;
      const sessions = kinds.map((kind) => new LineClient(w.clients[kind].connect()));
      const sent = sessions.map(() => 0);
      let crashed: MemberId | undefined;
      sessions.forEach((client, c) => {
        const pump = (): void => {
          while (sent[c]! < requests && sent[c]! - client.responses.length < 2) {
            const i = ++sent[c]!;
            client.send(`c${c}:${i}`, i);
          }
        };
        client.onResponse = () => {
          pump();
          if (c === 1 && !crashed && client.responses.length === 5 + (seed % 9)) {
            const target = w.clients.ops.status().sessions.find((s) => s.state === 'open')?.member;
            if (target) {
              crashed = target;
              w.crash(target);
            }
          }
        };
        pump();
      });
      await settle();
      const done = await w.sim.runUntil(() => sessions.every((s) => s.responses.length >= requests), 60_000);
      await w.sim.runFor(300);
      expect(done).toBe(true);
      expect(crashed).toBeDefined();
      sessions.forEach((client, c) => {
        expect(client.error).toBeUndefined();
        // Exactly once, in order, each from its own substrate's backend.
        expect(client.responses.map((r) => r.split(' ')[0])).toEqual(
          Array.from({ length: requests }, (_, i) => `${kinds[c] === 'ops' ? 'ops:' : ''}c${c}:${i + 1}`),
        );
      });
      // One order for all: every surviving replica applied every request once, in the same order,
      // and each response's running total is the one at that request's place in that order.
      const live = w.live().map((m) => w.replicas.get(m)!);
      expect(new Set(live.map((r) => r.digest())).size).toBe(1);
      const order = live[0]!.applied;
      expect(order).toHaveLength(requests * sessions.length);
      expect(new Set(order).size).toBe(order.length);
      const totals = new Map<string, number>();
      let total = 0;
      for (const tag of order) totals.set(tag, (total += Number(tag.split(':')[1])));
      sessions.forEach((client) => {
        for (const r of client.responses) {
          const [tag, t] = r.replace(/^ops:/, '').split(' ');
          expect(Number(t)).toBe(totals.get(tag!));
        }
      });
      // Sessions of both substrates were interleaved in that order, not run one substrate after the other.
      const kindOf = (tag: string): string => kinds[Number(tag.slice(1, tag.indexOf(':')))]!;
      const switches = order.filter((t, i) => i > 0 && kindOf(t) !== kindOf(order[i - 1]!)).length;
      expect(switches).toBeGreaterThan(4);
      expect(
        w.services
          .get(w.live()[0]!)!
          .status()
          .sessions.map((s) => s.substrate),
      ).toEqual(['plain', 'ops', 'plain', 'ops']);
    },
  );

  it('a session naming an unknown substrate gets a typed error naming it; the member keeps serving the others', async () => {
    const w = new World(7);
    await w.start();
    await w.sim.runFor(5);
    const bogus = new LineClient(w.clients.bogus.connect());
    const ok = new LineClient(w.clients.ops.connect());
    bogus.send('x', 1);
    ok.send('y', 2);
    await settle();
    await w.sim.runUntil(() => bogus.ended && ok.responses.length === 1, 10_000);
    expect(bogus.error?.message).toMatch(
      /^VCL_UNKNOWN_SUBSTRATE: session \w+…?: unknown substrate "bogus"; member n\d serves plain, ops$/,
    );
    expect(ok.responses).toEqual(['ops:y 2']);
    expect(w.replicas.get('n1')!.applied).toEqual(['y']);
    const refused = w.logger.lines.filter(
      (r) => r.msg === 'client link refused' && r.fields['code'] === 'VCL_UNKNOWN_SUBSTRATE',
    );
    expect(refused.length).toBeGreaterThanOrEqual(1);
  });

  it('a HELLO naming another substrate than the session was opened with is refused; the session goes on', async () => {
    const w = new World(8);
    await w.start();
    await w.sim.runFor(5);
    const ops = new LineClient(w.clients.ops.connect());
    ops.send('a', 1);
    await settle();
    await w.sim.runUntil(() => ops.responses.length === 1, 10_000);
    const [session] = w.clients.ops.status().sessions;
    const link = await w.links.connect({ id: 'n2', host: 'n2', port: 7001 });
    const frames: MemberFrame[] = [];
    link.onFrame((b) => frames.push(decodeMemberFrame(b)));
    const credentials = new Uint8Array();
    link.send(
      encodeClientFrame({
        type: 'hello',
        session: session!.id,
        credentials,
        lastOutSeq: 1,
        lastInSeq: 1,
        substrate: 'plain',
      }),
    );
    await settle();
    await w.sim.runFor(50);
    expect(frames).toEqual([
      {
        type: 'error',
        code: 'VCL_UNKNOWN_SUBSTRATE',
        message: `session ${shortSessionId(session!.id)} belongs to substrate "ops", not "plain"`,
        fatal: true,
      },
    ]);
    ops.send('b', 2);
    await settle();
    await w.sim.runUntil(() => ops.responses.length === 2, 10_000);
    expect(ops.responses).toEqual(['ops:a 1', 'ops:b 3']);
    expect(w.clients.ops.counters.failovers).toBe(0);
    expect(
      w.services
        .get('n1')!
        .status()
        .sessions.map((s) => s.attached),
    ).toEqual([session!.member]);
  });
});
