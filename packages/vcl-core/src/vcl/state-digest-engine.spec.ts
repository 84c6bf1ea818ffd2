import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Clock } from '../contracts/clock';
import type { MemberId } from '../contracts/network';
import type { Delivery, Ordered, OrderingProtocol, OrderingStatus, StateTransfer, View } from '../contracts/ordering';
import type { RecoveryMode } from '../config/stack';
import { StoppedError } from '../errors';
import { Simulator } from '../testing/sim/simulator';
import { lineSubstrate } from '../testing/vcl/line-substrate';
import { MemoryLinkTransport } from '../testing/vcl/memory-link';
import { RecordingLogger, type LogLine } from '../testing/vcl/recording-logger';
import { handlerBackend } from './backend';
import { STATE_DIGEST_SESSION } from './divergence';
import { EventLog } from './recovery/event-log';
import { Recovery } from './recovery/recovery';
import { ServiceInterceptor } from './service-interceptor';
import { encodeSessionEvent, type SessionEvent } from './session-events';

// State digests on the seeded simulator: three real ServiceInterceptors over a small total-order
// group that also does what the ordering plugins do for a restarted member (a view with it at a
// cut, the donor's capture, the joiner's install before anything after the cut), sessions driven
// straight through the total order, and a counter whose answers take random virtual time, whose
// digest takes time too, and which keeps a hidden value that only its state digest shows.

const enc = new TextEncoder();
const dec = new TextDecoder();
const substrate = lineSubstrate('request-response');

/** A counter with a hidden value: `drift` changes the hidden value after `driftAfter` requests, never an answer. */
class HiddenCounter {
  total = 0;
  applied = 0;
  hidden = 0;
  driftAfter = Infinity;
  /** Requests applied when each state digest was read. */
  readonly digestsAt: number[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly delay: () => number,
  ) {}

  handle = (request: Uint8Array): Promise<Uint8Array> =>
    new Promise((resolve) =>
      this.clock.setTimer(this.delay(), () => {
        const [tag = '', k = '0'] = dec.decode(request).trim().split(' ');
        this.total += Number(k);
        this.applied++;
        this.hidden += Number(k) % 3;
        if (this.applied > this.driftAfter) this.hidden += 1;
        resolve(enc.encode(`${tag} ${this.total}\n`));
      }),
    );

  /** The digest reads the state after a delay: requests applied meanwhile would show. */
  stateDigest = (): Promise<Uint8Array> =>
    new Promise((resolve) =>
      this.clock.setTimer(this.delay(), () => {
        this.digestsAt.push(this.applied);
        resolve(enc.encode(`${this.total}:${this.applied}:${this.hidden}`));
      }),
    );

  snapshot = {
    save: async (): Promise<Uint8Array> => enc.encode(JSON.stringify([this.total, this.applied, this.hidden])),
    load: async (b: Uint8Array): Promise<void> => {
      [this.total, this.applied, this.hidden] = JSON.parse(dec.decode(b)) as [number, number, number];
    },
    reset: async (): Promise<void> => {
      this.total = this.applied = this.hidden = 0;
    },
  };
}

/** One incarnation's handle on the group. */
class Handle implements OrderingProtocol {
  dead = false;
  hook: StateTransfer | undefined;
  current: View | undefined;
  /** Deliveries after the cut held back until the joiner has installed the state. */
  held: Delivery[] | undefined;
  private onD: ((d: Delivery) => void) | undefined;
  private onV: ((v: View) => void) | undefined;

  constructor(
    readonly self: MemberId,
    private readonly group: Group,
  ) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  broadcast(payload: Uint8Array): Promise<Ordered> {
    if (this.dead) return Promise.reject(new StoppedError(`${this.self} is dead`));
    return this.group.submit(this, payload);
  }
  onDeliver(h: (d: Delivery) => void): void {
    this.onD = h;
  }
  onView(h: (v: View) => void): void {
    this.onV = h;
  }
  setStateTransfer(hook: StateTransfer): void {
    this.hook = hook;
  }
  view(): View | undefined {
    return this.current;
  }
  status(): OrderingStatus {
    return { role: 'member', pending: 0, delivered: 0 };
  }
  install(v: View): void {
    if (this.dead) return;
    this.current = v;
    this.onV?.(v);
  }
  deliver(d: Delivery): void {
    if (this.dead) return;
    if (this.held) this.held.push(d);
    else this.onD?.(d);
  }
}

/** A total order over handles; views after crashes and joins, with state transfer at the join's cut. */
class Group {
  readonly log: Delivery[] = [];
  members: Handle[] = [];
  private viewId = 1;
  private blockedUntil = 0;

  constructor(private readonly clock: Clock) {}

  view(): View {
    return { id: this.viewId, members: this.members.map((h) => h.self), primary: true, cut: this.log.length };
  }

  submit(from: Handle | undefined, payload: Uint8Array): Promise<Ordered> {
    return new Promise((resolve, reject) =>
      this.clock.setTimer(1 + Math.max(0, this.blockedUntil - this.clock.now()), () => {
        if (from && (from.dead || !this.members.includes(from))) return reject(new StoppedError('not in the view'));
        const d: Delivery = { view: this.viewId, seq: this.log.length + 1, sender: from?.self ?? 'c', payload };
        this.log.push(d);
        for (const h of this.members) h.deliver(d);
        resolve({ view: d.view, seq: d.seq });
      }),
    );
  }

  crash(h: Handle): void {
    h.dead = true;
    this.blockedUntil = this.clock.now() + 30;
    this.clock.setTimer(30, () => {
      this.members = this.members.filter((m) => m !== h);
      this.viewId++;
      const v = this.view();
      for (const m of this.members) m.install(v);
    });
  }

  /** Admits `joiner` at the current cut: the first member captures, the joiner installs, then gets the rest. */
  async join(joiner: Handle, atCut: () => void): Promise<void> {
    // Like a real group, the restarted member is admitted only after its old incarnation left.
    while (this.members.some((h) => h.self === joiner.self))
      await new Promise<void>((r) => this.clock.setTimer(5, () => r()));
    const donor = this.members[0]!;
    this.members = [...this.members, joiner];
    this.viewId++;
    const v = this.view();
    joiner.held = [];
    for (const m of this.members) m.install(v);
    atCut();
    const state = await donor.hook!.capture(v.cut);
    await joiner.hook!.install(state, v.cut);
    const held = joiner.held;
    joiner.held = undefined;
    for (const d of held) joiner.deliver(d);
  }
}

interface Member {
  readonly id: MemberId;
  readonly handle: Handle;
  readonly service: ServiceInterceptor;
  readonly replica: HiddenCounter;
}

interface Setup {
  readonly sim: Simulator;
  readonly group: Group;
  readonly logger: RecordingLogger;
  readonly members: Map<MemberId, Member>;
  readonly dir: string;
  incarnation: number;
}

function start(
  s: Setup,
  id: MemberId,
  mode: RecoveryMode,
  every: number,
  node = s.sim.node(id),
  compactAtBytes?: number,
): Member {
  const replica = new HiddenCounter(node.clock, () => 1 + Math.floor(node.random.next() * 8));
  const handle = new Handle(id, s.group);
  const recovery = new Recovery({
    self: id,
    mode,
    ...(mode === 'replay'
      ? { log: new EventLog({ dir: path.join(s.dir, `${id}-${s.incarnation}`), logger: s.logger }) }
      : {}),
    ...(compactAtBytes !== undefined ? { compactAtBytes } : {}),
    service: replica.snapshot,
    clock: node.clock,
    logger: s.logger,
  });
  const port = 7000 + s.incarnation++;
  const service = new ServiceInterceptor({
    self: id,
    ordering: handle,
    substrate,
    backend: handlerBackend(() => substrate.requestFramer(), replica.handle),
    transport: new MemoryLinkTransport({ clock: node.clock, delayMs: 1 }),
    listen: { host: id, port },
    members: ['n1', 'n2', 'n3'].map((m) => ({ id: m, host: m, port })),
    clock: node.clock,
    logger: s.logger.child({ member: id }),
    recovery,
    divergence: { policy: 'report' },
    stateDigest: { every, digest: replica.stateDigest },
  });
  const m = { id, handle, service, replica };
  s.members.set(id, m);
  return m;
}

/** Sessions `s0..s<n-1>` opened, then `requests` requests spread over them at random moments. */
function drive(s: Setup, sessions: number, requests: number, onRequest: (k: number) => void): void {
  const r = s.sim.random;
  const send = (e: SessionEvent): void => void s.group.submit(undefined, encodeSessionEvent(e));
  for (let i = 0; i < sessions; i++)
    send({ type: 'open', session: `s${i}`, origin: 'n1', attempt: i + 1, principal: 'p' });
  const inSeq = new Array<number>(sessions).fill(0);
  let at = 5;
  for (let k = 1; k <= requests; k++) {
    at += Math.floor(r.next() * 4);
    s.sim.clock.setTimer(at, () => {
      const i = Math.floor(r.next() * sessions);
      const n = ++inSeq[i]!;
      send({
        type: 'data',
        session: `s${i}`,
        inSeq: n,
        ackOutSeq: Math.max(0, n - 2),
        bytes: enc.encode(`s${i}:${n} ${k}\n`),
      });
      onRequest(k);
    });
  }
}

async function setup(seed: number, mode: RecoveryMode, every: number, compactAtBytes?: number): Promise<Setup> {
  const sim = new Simulator({ seed, members: ['n1', 'n2', 'n3'] });
  const s: Setup = {
    sim,
    group: new Group(sim.clock),
    logger: new RecordingLogger(),
    members: new Map(),
    dir: fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-state-digest-')),
    incarnation: 0,
  };
  for (const id of ['n1', 'n2', 'n3']) {
    const m = start(s, id, mode, every, sim.node(id), compactAtBytes);
    await m.service.start();
    s.group.members.push(m.handle);
  }
  const v = s.group.view();
  for (const h of s.group.members) h.install(v);
  return s;
}

const reports = (s: Setup): LogLine[] => s.logger.find('error', 'diverged from the majority');
const stateReports = (s: Setup): LogLine[] => reports(s).filter((l) => l.fields['unit'] === 'state');

async function finish(s: Setup, requests: number): Promise<void> {
  const live = (): Member[] => [...s.members.values()].filter((m) => !m.handle.dead);
  await s.sim.runUntil(() => live().every((m) => m.replica.applied === requests), 120_000);
  await s.sim.runFor(500);
  fs.rmSync(s.dir, { recursive: true, force: true });
}

const points = (from: number, to: number, every: number): number[] =>
  Array.from(
    { length: Math.floor(to / every) - Math.floor(from / every) },
    (_, i) => (Math.floor(from / every) + i + 1) * every,
  );

describe('state digests on three service interceptors (simulator)', () => {
  it.each(Array.from({ length: 20 }, (_, i) => [i + 1]))(
    'seed %i: a replica whose state drifts while its answers stay identical is named at the first digest point after the drift, the others never',
    async (seed) => {
      const every = 3 + (seed % 6);
      const requests = 120;
      const s = await setup(seed, 'snapshot', every);
      const ids = ['n1', 'n2', 'n3'];
      const drifter = ids[seed % 3]!;
      const driftAfter = 10 + Math.floor(s.sim.random.next() * 80);
      s.members.get(drifter)!.replica.driftAfter = driftAfter;
      drive(s, 3, requests, () => undefined);
      await finish(s, requests);
      const first = Math.ceil((driftAfter + 1) / every) * every;
      const lines = reports(s);
      // Every member, the drifter too, names it once, at the same point of the order, as a state difference.
      expect(lines.map((l) => l.fields['member']).sort()).toEqual(ids);
      for (const l of lines) {
        expect(l.fields).toMatchObject({
          diverged: drifter,
          session: STATE_DIGEST_SESSION,
          unit: 'state',
          inSeq: first,
          seq: lines[0]!.fields['seq'],
        });
        expect(l.msg).toBe(`replica ${drifter} diverged from the majority at state digest after request ${first}`);
        expect([...(l.fields['majority'] as string[])].sort()).toEqual(ids.filter((m) => m !== drifter));
      }
      for (const m of s.members.values()) {
        // Each digest was read with exactly the requests up to its point applied.
        expect(m.replica.digestsAt).toEqual(points(0, requests, every));
        const st = m.service.status().divergence!;
        expect(st.diverged.map((d) => `${d.member}@${d.unit}#${d.inSeq}`)).toEqual([`${drifter}@state#${first}`]);
        expect(st.counters.stateDigests).toBe(Math.floor(requests / every));
        expect(st.stateDigest).toEqual({ every, requests, taking: true, open: 0 });
        expect(st.open).toBe(0);
      }
    },
  );

  it.each(Array.from({ length: 10 }, (_, i) => [100 + i]))(
    'seed %i: a member killed mid-run is no false positive; the survivors compare every point among themselves',
    async (seed) => {
      const every = 4 + (seed % 4);
      const requests = 100;
      const s = await setup(seed, 'snapshot', every);
      const victim = ['n1', 'n2', 'n3'][seed % 3]!;
      const at = 20 + Math.floor(s.sim.random.next() * 60);
      drive(s, 3, requests, (k) => {
        if (k === at) {
          const m = s.members.get(victim)!;
          s.group.crash(m.handle);
          s.sim.crash(victim);
        }
      });
      await finish(s, requests);
      expect(reports(s)).toEqual([]);
      expect(s.logger.find('error', 'no majority')).toEqual([]);
      for (const m of s.members.values()) {
        if (m.id === victim) continue;
        const st = m.service.status().divergence!;
        expect(m.replica.digestsAt).toEqual(points(0, requests, every));
        expect(st.counters.divergentOutputs).toBe(0);
        expect(st.open).toBe(0);
      }
    },
  );

  it.each(Array.from({ length: 12 }, (_, i) => [200 + i]))(
    'seed %i: a member restarted and rejoined (snapshot, replay, replay from a compacted log) takes digests only after its cut and they compare; no false positive, and a drift of its own after the rejoin is named',
    async (seed) => {
      const mode: RecoveryMode = seed % 2 ? 'replay' : 'snapshot';
      // Replay from a base snapshot plus the events after it: the count comes with the base's table.
      const compactAtBytes = seed % 4 === 3 ? 600 : undefined;
      const every = 4 + (seed % 3);
      const requests = 150;
      const s = await setup(seed, mode, every, compactAtBytes);
      const victim = ['n1', 'n2', 'n3'][seed % 3]!;
      const crashAt = 20 + Math.floor(s.sim.random.next() * 30);
      const rejoinAt = crashAt + 10 + Math.floor(s.sim.random.next() * 20);
      const drifts = seed % 4 === 0;
      let joined: Promise<void> | undefined;
      let cutRequests = 0;
      drive(s, 3, requests, (k) => {
        if (k === crashAt) {
          s.group.crash(s.members.get(victim)!.handle);
          s.sim.crash(victim);
        }
        if (k === rejoinAt) {
          const m = start(s, victim, mode, every, s.sim.restart(victim), compactAtBytes);
          if (drifts) m.replica.driftAfter = 0;
          joined = m.service.start().then(async () => {
            await s.group.join(m.handle, () => {
              const donor = s.members.get(s.group.members[0]!.self)!;
              cutRequests = donor.service.status().divergence!.stateDigest!.requests;
            });
          });
        }
      });
      await s.sim.runUntil(() => joined !== undefined, 60_000);
      await finish(s, requests);
      await joined;
      const joiner = s.members.get(victim)!;
      expect(joiner.service.status().recovery).toMatchObject({ mode, phase: 'live' });
      if (compactAtBytes) {
        // The state came from a base after a compaction: fewer events replayed than the cut.
        const rec = joiner.service.status().recovery!;
        expect(rec.replayed!).toBeLessThan(rec.joinedAtCut!);
      }
      // In replay mode the replay rebuilt the replica from 0 (its count too); in both it ends at the group's.
      expect(joiner.replica.applied).toBe(requests);
      expect(joiner.service.status().divergence!.stateDigest!.requests).toBe(requests);
      // Digests only for points after the cut, each read at exactly its point.
      expect(joiner.replica.digestsAt).toEqual(points(cutRequests, requests, every));
      expect(joiner.replica.digestsAt.length).toBeGreaterThan(0);
      const first = joiner.replica.digestsAt[0]!;
      if (drifts) {
        const lines = stateReports(s);
        expect(lines.length).toBeGreaterThanOrEqual(3);
        for (const l of lines) expect(l.fields).toMatchObject({ diverged: victim, inSeq: first });
        expect(reports(s).filter((l) => l.fields['unit'] !== 'state')).toEqual([]);
      } else {
        expect(reports(s)).toEqual([]);
        expect(s.logger.find('error', 'no majority')).toEqual([]);
      }
      // Every state comparison closed, at the joiner too (output comparisons of requests before the
      // cut may stay open there: the joiner never answered them).
      for (const m of s.members.values())
        if (!m.handle.dead) expect(m.service.status().divergence!.stateDigest!.open).toBe(0);
    },
  );
});
