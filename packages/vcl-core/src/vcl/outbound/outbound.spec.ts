import type { MemberId } from '../../contracts/network';
import type { Conversation, Endpoint } from '../../contracts/substrate';
import { Simulator } from '../../testing/sim/simulator';
import { VclHarness } from '../../testing/vcl/engine-harness';
import { FakeTotalOrder } from '../../testing/vcl/fake-total-order';
import { lineSubstrate } from '../../testing/vcl/line-substrate';
import { RecordingLogger } from '../../testing/vcl/recording-logger';
import { conversationPair } from '../conversation-pair';
import { decodeSessionEvent, encodeSessionEvent, isOutboundEvent } from '../session-events';
import { SessionTable } from '../session-table';
import { splitOrdering } from './ordering-split';
import { OutboundInterceptor, type DependencySpec } from './outbound-interceptor';
import { outboundSessionId, parseOutboundSessionId } from './session-id';

const enc = new TextEncoder();
const dec = new TextDecoder();

describe('outboundSessionId', () => {
  it('is a pure function of group, dependency and ordinal, the same at every member', () => {
    const a = outboundSessionId('svc-a', 'counter', 3);
    expect(outboundSessionId('svc-a', 'counter', 3)).toBe(a);
    expect(a).toBe('vcl-dep:svc-a:counter:3');
    expect(outboundSessionId('svc-a', 'counter', 4)).not.toBe(a);
    expect(outboundSessionId('svc-b', 'counter', 3)).not.toBe(a);
    expect(outboundSessionId('svc-a', 'other', 3)).not.toBe(a);
    expect(parseOutboundSessionId(a)).toEqual({ dependency: 'counter', ordinal: 3 });
    expect(parseOutboundSessionId('a-random-client-session')).toBeUndefined();
  });

  it('refuses what would make ids ambiguous', () => {
    expect(() => outboundSessionId('g', 'a:b', 1)).toThrow(/no ':'/);
    expect(() => outboundSessionId('g', 'dep', 0)).toThrow(/ordinal/);
  });

  it('outbound events round-trip and are routed apart from session events; the session table ignores them', () => {
    const events = [
      { type: 'dep-call', session: 'vcl-dep:g:d:1', index: 7, caller: 'n2' },
      { type: 'dep-response', session: 'vcl-dep:g:d:1', index: 7, bytes: enc.encode('x 1\n') },
      { type: 'dep-failed', session: 'vcl-dep:g:d:1', index: 8, reason: 'caller failed' },
    ] as const;
    const table = new SessionTable();
    for (const e of events) {
      const bytes = encodeSessionEvent(e);
      expect(isOutboundEvent(bytes)).toBe(true);
      expect(decodeSessionEvent(bytes)).toEqual(e);
      expect(table.apply(e, 1).kind).toBe('ignored');
    }
    const open = encodeSessionEvent({ type: 'open', session: 's', origin: 'n1', attempt: 1, principal: 'p' });
    expect(isOutboundEvent(open)).toBe(false);
  });
});

/** A plain, non-replicated counter reached by dialing: applies each request on arrival, answers after a delay. */
class PlainTarget {
  /** Request tags in the order they were applied (a repeated call shows twice). */
  readonly applied: string[] = [];
  total = 0;
  /** Conversations whose member is down: responses to them are lost, like to a killed process. */
  readonly down = new Set<MemberId>();
  /** Tags it applies but never answers (a server that hangs on them). */
  readonly swallow = new Set<string>();
  /** Refuses every connection (the server is down). */
  unreachable = false;
  onApplied: ((tag: string, from: MemberId) => void) | undefined;

  constructor(
    private readonly sim: Simulator,
    private readonly delayMs: () => number,
  ) {}

  dial(from: MemberId): (endpoint: Endpoint) => Promise<Conversation> {
    return async () => {
      if (this.unreachable) throw new Error('connection refused');
      const [mine, theirs] = conversationPair({ remote: `target<-${from}` });
      let held = '';
      mine.onData((bytes) => {
        held += dec.decode(bytes);
        const lines = held.split('\n');
        held = lines.pop()!;
        for (const line of lines) {
          const [tag = '', k = '0'] = line.split(' ');
          this.total += Number(k);
          this.applied.push(tag);
          const answer = `${tag} ${this.total}\n`;
          this.onApplied?.(tag, from);
          if (this.swallow.has(tag)) continue;
          this.sim.schedule(this.delayMs(), () => {
            if (!this.down.has(from)) mine.write(enc.encode(answer));
          });
        }
      });
      mine.onEnd(() => undefined);
      return theirs;
    };
  }
}

/**
 * A deterministic replica that is a client of one dependency: it opens one outbound connection
 * and sends request i+1 once it has read the response to request i (after some think time).
 */
class CallingReplica {
  readonly responses: string[] = [];
  ended: Error | undefined | null = null;
  private sent = 0;

  constructor(
    private readonly conversation: Conversation,
    private readonly calls: number,
    private readonly schedule: (ms: number, fn: () => void) => void,
    private readonly thinkMs: () => number,
  ) {
    let held = '';
    conversation.onData((bytes) => {
      held += dec.decode(bytes);
      const lines = held.split('\n');
      held = lines.pop()!;
      for (const line of lines) {
        this.responses.push(line);
        this.schedule(this.thinkMs(), () => this.next());
      }
    });
    conversation.onEnd((error) => (this.ended = error));
    this.next();
  }

  private next(): void {
    if (this.sent >= this.calls || this.ended !== null) return;
    this.sent++;
    this.conversation.write(enc.encode(`q${this.sent} ${this.sent}\n`));
  }
}

interface Group {
  readonly sim: Simulator;
  readonly order: FakeTotalOrder;
  readonly members: MemberId[];
  readonly outbound: Map<MemberId, OutboundInterceptor>;
  readonly replicas: Map<MemberId, CallingReplica>;
  readonly down: Set<MemberId>;
  crash(id: MemberId): Promise<void>;
}

/** Three members of a calling group on the simulator, each with a `CallingReplica` behind its outbound engine. */
async function callingGroup(
  seed: number,
  dependency: DependencySpec,
  calls: number,
  wire: (sim: Simulator, id: MemberId) => { dial?: (e: Endpoint) => Promise<Conversation> } & Record<string, unknown>,
  sim = new Simulator({ seed, members: ['n1', 'n2', 'n3'] }),
  /** Members; without their own simulator nodes (sharing another group's simulator) they use its global clock. */
  members = ['n1', 'n2', 'n3'],
  ownNodes = true,
): Promise<Group> {
  const clockOf = (id: MemberId) => (ownNodes ? sim.node(id).clock : sim.clock);
  const order = new FakeTotalOrder({ clock: sim.clock, members, orderDelayMs: 1, detectMs: 50 });
  const logger = new RecordingLogger();
  const outbound = new Map<MemberId, OutboundInterceptor>();
  const replicas = new Map<MemberId, CallingReplica>();
  const down = new Set<MemberId>();
  const substrate = lineSubstrate('request-response');
  for (const id of members) {
    // Members order at different speeds, so the caller is not always the first to hold a request.
    order.setOrderDelay(id, 1 + Math.floor(sim.random.next() * 4));
    const split = splitOrdering(order.member(id));
    outbound.set(
      id,
      new OutboundInterceptor({
        self: id,
        group: 'a',
        ordering: split.outbound,
        substrate,
        dependencies: [dependency],
        clock: clockOf(id),
        logger: logger.child({ member: id }),
        heartbeatMs: 50,
        linkTimeoutMs: 300,
        retryDelayMs: 20,
        ...wire(sim, id),
      }),
    );
  }
  for (const id of members) await order.member(id).start();
  for (const o of outbound.values()) await o.start();
  for (const id of members) {
    const clock = clockOf(id);
    const think = 1 + Math.floor(sim.random.next() * 5);
    replicas.set(
      id,
      new CallingReplica(
        outbound.get(id)!.connect(dependency.name),
        calls,
        (ms, fn) => clock.setTimer(ms, fn),
        () => think,
      ),
    );
  }
  return {
    sim,
    order,
    members,
    outbound,
    replicas,
    down,
    async crash(id) {
      down.add(id);
      order.crash(id);
      if (ownNodes) sim.crash(id);
      await outbound.get(id)!.stop();
    },
  };
}

function live(g: Group): MemberId[] {
  return g.members.filter((m) => !g.down.has(m));
}

/** Every live replica read the same responses, all `calls` of them. */
function expectReplicasAlike(g: Group, calls: number): string[] {
  const seen = live(g).map((m) => g.replicas.get(m)!.responses);
  for (const r of seen) expect(r).toEqual(seen[0]);
  expect(seen[0]).toHaveLength(calls);
  return seen[0]!;
}

function count(list: readonly string[], x: string): number {
  return list.filter((y) => y === x).length;
}

describe('exclusive dependency (one caller through the group, simulator)', () => {
  const spec = (idempotent: boolean): DependencySpec => ({
    name: 'plain',
    mode: 'exclusive',
    target: { host: 'target', port: 1 },
    idempotent,
    failureResponse: enc.encode('ERR dependency call failed\n'),
  });

  it.each([1, 2, 3, 4, 5])(
    'without faults each call is applied once and every replica reads the same answers (seed %i)',
    async (seed) => {
      const sim = new Simulator({ seed, members: ['n1', 'n2', 'n3'] });
      const target = new PlainTarget(sim, () => 1 + Math.floor(sim.random.next() * 10));
      const calls = 20;
      const g = await callingGroup(seed, spec(false), calls, (_s, id) => ({ dial: target.dial(id) }), sim);
      expect(await sim.runUntil(() => live(g).every((m) => g.replicas.get(m)!.responses.length >= calls), 30_000)).toBe(
        true,
      );
      const answers = expectReplicasAlike(g, calls);
      expect(target.applied).toEqual(Array.from({ length: calls }, (_, i) => `q${i + 1}`));
      expect(answers.map((a) => Number(a.split(' ')[1]))).toEqual(
        Array.from({ length: calls }, (_, i) => ((i + 1) * (i + 2)) / 2),
      );
      // Only the caller (lowest id) called.
      expect(g.outbound.get('n1')!.counters.callsSent).toBe(calls);
      expect(g.outbound.get('n2')!.counters.callsSent + g.outbound.get('n3')!.counters.callsSent).toBe(0);
    },
  );

  it.each([1, 2, 3])(
    'a call the server never answers is reported failed after the call timeout, and the connection goes on (seed %i)',
    async (seed) => {
      const sim = new Simulator({ seed, members: ['n1', 'n2', 'n3'] });
      const target = new PlainTarget(sim, () => 1 + Math.floor(sim.random.next() * 10));
      target.swallow.add('q3');
      const g = await callingGroup(
        seed,
        spec(true),
        6,
        (_s, id) => ({ dial: target.dial(id), callTimeoutMs: 200 }),
        sim,
      );
      expect(await sim.runUntil(() => g.members.every((m) => g.replicas.get(m)!.responses.length >= 6), 30_000)).toBe(
        true,
      );
      const answers = expectReplicasAlike(g, 6);
      expect(answers.map((a) => a.split(' ')[0])).toEqual(['q1', 'q2', 'ERR', 'q4', 'q5', 'q6']);
      // Timed out, not repeated (even though idempotent): applied once.
      expect(target.applied).toEqual(['q1', 'q2', 'q3', 'q4', 'q5', 'q6']);
    },
  );

  it('an unreachable server: calls are retried until the call timeout, then reported failed; none is applied', async () => {
    const sim = new Simulator({ seed: 7, members: ['n1', 'n2', 'n3'] });
    const target = new PlainTarget(sim, () => 1);
    target.unreachable = true;
    const g = await callingGroup(7, spec(false), 3, (_s, id) => ({ dial: target.dial(id), callTimeoutMs: 200 }), sim);
    expect(await sim.runUntil(() => g.members.every((m) => g.replicas.get(m)!.responses.length >= 3), 30_000)).toBe(
      true,
    );
    expect(expectReplicasAlike(g, 3)).toEqual(Array.from({ length: 3 }, () => 'ERR dependency call failed'));
    expect(target.applied).toEqual([]);
  });

  /** Kills the caller right after the target applied call `at` (before its answer leaves). */
  async function killMidCall(
    seed: number,
    idempotent: boolean,
  ): Promise<{ g: Group; target: PlainTarget; at: number }> {
    const sim = new Simulator({ seed, members: ['n1', 'n2', 'n3'] });
    const target = new PlainTarget(sim, () => 5 + Math.floor(sim.random.next() * 10));
    const calls = 15;
    const at = 2 + (seed % 10);
    const g = await callingGroup(seed, spec(idempotent), calls, (_s, id) => ({ dial: target.dial(id) }), sim);
    target.onApplied = (tag, from) => {
      if (tag === `q${at}` && from === 'n1' && !g.down.has('n1')) {
        target.down.add('n1');
        void g.crash('n1');
      }
    };
    expect(await sim.runUntil(() => live(g).every((m) => g.replicas.get(m)!.responses.length >= calls), 30_000)).toBe(
      true,
    );
    return { g, target, at };
  }

  it.each(Array.from({ length: 12 }, (_, i) => i + 10))(
    'not idempotent: the caller dies mid-call, the call is reported failed at the same point to every replica and never repeated (seed %i)',
    async (seed) => {
      const { g, target, at } = await killMidCall(seed, false);
      const answers = expectReplicasAlike(g, 15);
      expect(answers[at - 1]).toBe('ERR dependency call failed');
      expect(answers.filter((a) => a.startsWith('ERR'))).toHaveLength(1);
      for (let i = 1; i <= 15; i++) expect(count(target.applied, `q${i}`)).toBe(1);
      expect(g.outbound.get('n2')!.counters.callsFailed).toBe(1);
    },
  );

  it.each(Array.from({ length: 12 }, (_, i) => i + 30))(
    'idempotent: the caller dies mid-call, the next member repeats the call and every replica reads its answer (seed %i)',
    async (seed) => {
      const { g, target, at } = await killMidCall(seed, true);
      const answers = expectReplicasAlike(g, 15);
      expect(answers.filter((a) => a.startsWith('ERR'))).toHaveLength(0);
      expect(answers[at - 1]!.split(' ')[0]).toBe(`q${at}`);
      expect(count(target.applied, `q${at}`)).toBe(2);
      for (let i = 1; i <= 15; i++) if (i !== at) expect(count(target.applied, `q${i}`)).toBe(1);
      expect(g.outbound.get('n2')!.counters.callsRepeated).toBe(1);
    },
  );

  it.each(Array.from({ length: 12 }, (_, i) => i + 50))(
    'the caller dies at a random moment: replicas stay alike, no call is applied twice, at most one is reported failed (seed %i)',
    async (seed) => {
      const sim = new Simulator({ seed, members: ['n1', 'n2', 'n3'] });
      const target = new PlainTarget(sim, () => 1 + Math.floor(sim.random.next() * 10));
      const calls = 15;
      const g = await callingGroup(seed, spec(false), calls, (_s, id) => ({ dial: target.dial(id) }), sim);
      const at = 5 + Math.floor(sim.random.next() * 120);
      sim.schedule(at, () => {
        target.down.add('n1');
        void g.crash('n1');
      });
      expect(await sim.runUntil(() => live(g).every((m) => g.replicas.get(m)!.responses.length >= calls), 30_000)).toBe(
        true,
      );
      const answers = expectReplicasAlike(g, calls);
      const failed = answers.filter((a) => a.startsWith('ERR')).length;
      expect(failed).toBeLessThanOrEqual(1);
      for (let i = 1; i <= calls; i++) expect(count(target.applied, `q${i}`)).toBeLessThanOrEqual(1);
      // A call reported failed may or may not have been applied; every other one was, exactly once.
      expect(target.applied.length).toBeGreaterThanOrEqual(calls - failed);
    },
  );
});

describe('replicated dependency (derived session at a VCL-replicated service, simulator)', () => {
  /**
   * Over the fault seeds, both kinds of interrupted call must occur: one B had not ordered (sent
   * again) and one B had applied (its answer replayed from B's cache to the new caller).
   */
  let resent = 0;
  let replayed = 0;
  afterAll(() => {
    expect(resent).toBeGreaterThan(0);
    expect(replayed).toBeGreaterThan(0);
  });
  /** B: three members with counter replicas (VclHarness); A: three calling members on B's simulator. */
  async function setup(seed: number): Promise<{ b: VclHarness; g: Group }> {
    const b = new VclHarness({ seed, members: 3, service: { heartbeatMs: 50, linkTimeoutMs: 300 } });
    await b.start();
    const spec: DependencySpec = { name: 'b', mode: 'replicated', members: b.addresses };
    const g = await callingGroup(seed, spec, 20, () => ({ transport: b.links }), b.sim, ['a1', 'a2', 'a3'], false);
    return { b, g };
  }

  async function finish(b: VclHarness, g: Group, calls: number): Promise<string[]> {
    expect(await b.sim.runUntil(() => live(g).every((m) => g.replicas.get(m)!.responses.length >= calls), 30_000)).toBe(
      true,
    );
    await b.sim.runFor(200);
    return expectReplicasAlike(g, calls);
  }

  function expectAppliedOnce(b: VclHarness, calls: number): void {
    for (const m of b.live()) {
      const r = b.replicas.get(m)!;
      expect(r.applied).toEqual(Array.from({ length: calls }, (_, i) => `q${i + 1}`));
    }
    expect(new Set(b.digests()).size).toBe(1);
  }

  it.each([1, 2, 3, 4])(
    'every call applied once at every replica of B; every replica of A reads the answers (seed %i)',
    async (seed) => {
      const { b, g } = await setup(seed);
      const answers = await finish(b, g, 20);
      expect(answers.map((a) => Number(a.split(' ')[1]))).toEqual(
        Array.from({ length: 20 }, (_, i) => ((i + 1) * (i + 2)) / 2),
      );
      expectAppliedOnce(b, 20);
    },
  );

  it.each(Array.from({ length: 10 }, (_, i) => i + 10))(
    'the calling member of A dies, then the member of B it used: still exactly once (seed %i)',
    async (seed) => {
      const { b, g } = await setup(seed);
      const first = 2 + (seed % 7);
      await b.sim.runUntil(() => g.replicas.get('a2')!.responses.length >= first, 30_000);
      // Kill the caller with a call in flight: even seeds once B applied it (its answer not yet
      // ordered in A), odd seeds right after the caller sent it.
      await b.sim.runUntil(
        () =>
          seed % 2 === 0
            ? b.live().some((m) => b.replicas.get(m)!.applied.length > first)
            : g.outbound.get('a1')!.connection('b', 1)!.requests > first,
        30_000,
      );
      await g.crash('a1');
      await b.sim.runUntil(() => g.replicas.get('a2')!.responses.length >= first + 5, 30_000);
      const session = outboundSessionId('a', 'b', 1);
      const used = b.attachedTo(session);
      expect(used).toBeDefined();
      b.crash(used!);
      const answers = await finish(b, g, 20);
      expect(answers.map((a) => a.split(' ')[0])).toEqual(Array.from({ length: 20 }, (_, i) => `q${i + 1}`));
      expectAppliedOnce(b, 20);
      expect(b.attachedTo(session)).not.toBe(used);
      const c = g.outbound.get('a2')!.snapshot();
      resent += c.callsResent;
      replayed += c.responsesReplayed;
    },
  );
});
