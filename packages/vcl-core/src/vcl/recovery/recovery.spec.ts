import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Clock } from '../../contracts/clock';
import type { MemberId } from '../../contracts/network';
import type {
  Delivery,
  Ordered,
  OrderingProtocol,
  OrderingStatus,
  StateTransfer,
  View,
} from '../../contracts/ordering';
import type { RecoveryMode } from '../../config/stack';
import { RecoveryRefusedError, type VclError } from '../../errors';
import { Simulator } from '../../testing/sim/simulator';
import { lineSubstrate } from '../../testing/vcl/line-substrate';
import { MemoryLinkTransport } from '../../testing/vcl/memory-link';
import { RecordingLogger } from '../../testing/vcl/recording-logger';
import { handlerBackend } from '../backend';
import { decodeMemberFrame, encodeClientFrame, type MemberFrame } from '../link-frames';
import { ServiceInterceptor } from '../service-interceptor';
import { decodeSessionEvent, encodeSessionEvent, type SessionEvent } from '../session-events';
import { SessionTable } from '../session-table';
import { EventLog } from './event-log';
import { Recovery } from './recovery';
import { decodeRecoveryState, encodeLogRecord } from './recovery-state';

// The recovery at the interceptor level: a hand-driven total order (the test decides what is
// delivered and when the state-transfer hook runs), real ServiceInterceptors, and a counter
// service whose answers take virtual time, so requests up to the cut are still in flight when the
// donor is asked for its state and requests after the cut arrive while it captures.

/** An ordering member the test drives: it records broadcasts and exposes the handlers. */
class ManualOrder implements OrderingProtocol {
  deliverTo: ((d: Delivery) => void) | undefined;
  viewTo: ((v: View) => void) | undefined;
  hook: StateTransfer | undefined;
  installed: View | undefined;
  constructor(readonly self: MemberId) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  readonly sent: Uint8Array[] = [];
  broadcast(payload: Uint8Array): Promise<Ordered> {
    this.sent.push(payload);
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

/** A counter whose answers take `delay()` virtual ms; its state can be saved, loaded and reset. */
class SlowCounter {
  total = 0;
  applied: string[] = [];
  constructor(
    private readonly clock: Clock,
    private readonly delay: () => number,
  ) {}
  digest(): string {
    return `${this.total}:${this.applied.join(',')}`;
  }
  snapshot = {
    save: async (): Promise<Uint8Array> =>
      new TextEncoder().encode(JSON.stringify({ total: this.total, applied: this.applied })),
    load: async (b: Uint8Array): Promise<void> => {
      const s = JSON.parse(new TextDecoder().decode(b)) as { total: number; applied: string[] };
      this.total = s.total;
      this.applied = s.applied;
    },
    reset: async (): Promise<void> => {
      this.total = 0;
      this.applied = [];
    },
  };
  handle = (request: Uint8Array): Promise<Uint8Array> =>
    new Promise((resolve) =>
      this.clock.setTimer(this.delay(), () => {
        const [tag = '', k = '0'] = new TextDecoder().decode(request).trim().split(' ');
        this.total += Number(k);
        this.applied.push(tag);
        resolve(new TextEncoder().encode(`${tag} ${this.total}\n`));
      }),
    );
}

const substrate = lineSubstrate('request-response');

interface Member {
  readonly order: ManualOrder;
  readonly service: ServiceInterceptor;
  readonly counter: SlowCounter;
  readonly recovery: Recovery;
  fatal?: VclError;
}

function member(
  sim: Simulator,
  links: MemoryLinkTransport,
  id: MemberId,
  mode: RecoveryMode,
  logger: RecordingLogger,
  dir: string,
  loadDelayMs = 0,
  maxCacheBytes?: number,
  divergence = false,
  extra: { compactAtBytes?: number; failSaves?: () => boolean } = {},
): Member {
  const node = sim.node(id);
  const counter = new SlowCounter(node.clock, () => 1 + Math.floor(node.random.next() * 20));
  const order = new ManualOrder(id);
  const m: Partial<Member> & { fatal?: VclError } = {};
  const load = async (b: Uint8Array): Promise<void> => {
    if (loadDelayMs) await new Promise<void>((r) => node.clock.setTimer(loadDelayMs, r));
    await counter.snapshot.load(b);
  };
  const save = async (): Promise<Uint8Array> => {
    if (extra.failSaves?.()) throw new Error('save failed on purpose');
    return counter.snapshot.save();
  };
  const recovery = new Recovery({
    self: id,
    mode,
    ...(mode === 'replay' ? { log: new EventLog({ dir: path.join(dir, id), logger }) } : {}),
    ...(extra.compactAtBytes !== undefined ? { compactAtBytes: extra.compactAtBytes } : {}),
    service: { save, load, reset: counter.snapshot.reset },
    clock: node.clock,
    logger,
    onFatal: (e) => (m.fatal = e),
  });
  const service = new ServiceInterceptor({
    self: id,
    ordering: order,
    substrate,
    backend: handlerBackend(() => substrate.requestFramer(), counter.handle),
    transport: links,
    listen: { host: id, port: 7000 },
    members: [
      { id: 'n1', host: 'n1', port: 7000 },
      { id: 'n2', host: 'n2', port: 7000 },
    ],
    clock: node.clock,
    logger: logger.child({ member: id }),
    recovery,
    ...(maxCacheBytes ? { maxCacheBytes } : {}),
    ...(divergence ? { divergence: { policy: 'report' as const } } : {}),
  });
  return Object.assign(m, { order, service, counter, recovery }) as Member;
}

const enc = (e: SessionEvent): Uint8Array => encodeSessionEvent(e);

/** The ordered stream: sessions open, send requests (some acknowledged), one closes. */
function script(n: number, sessions: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const inSeq = new Array<number>(sessions).fill(0);
  for (let s = 0; s < sessions; s++)
    out.push(enc({ type: 'open', session: `s${s}`, origin: 'n1', attempt: s + 1, principal: 'p' }));
  for (let i = 0; out.length < n; i++) {
    const s = i % sessions;
    const k = ++inSeq[s]!;
    out.push(
      enc({
        type: 'data',
        session: `s${s}`,
        inSeq: k,
        ackOutSeq: Math.max(0, k - 3),
        bytes: new TextEncoder().encode(`s${s}:${k} ${k}\n`),
      }),
    );
    if (i === 7) out.push(enc({ type: 'close', session: 's0', reason: 'client', ifLastEvent: 0 }));
  }
  return out.slice(0, n);
}

function sessionsOf(m: Member): unknown {
  return m.service.status().sessions.map(({ attached: _a, backpressure: _b, ...s }) => s);
}

async function rejoin(seed: number, mode: RecoveryMode): Promise<{ donor: Member; joiner: Member; cut: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-recovery-'));
  try {
    const sim = new Simulator({ seed, members: ['n1', 'n2'] });
    const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
    const logger = new RecordingLogger();
    const donor = member(sim, links, 'n1', mode, logger, dir);
    const events = script(40, 3);
    const cut = 10 + Math.floor(sim.node('n1').random.next() * 25);
    await donor.service.start();
    donor.order.install({ id: 1, members: ['n1'], primary: true, cut: 0 });
    let seq = 0;
    const deliver = (m: Member, upTo: number, from = seq): void => {
      for (let s = from + 1; s <= upTo; s++)
        m.order.deliverTo!({ view: 1, seq: s, sender: 'n1', payload: events[s - 1]! });
    };
    deliver(donor, cut);
    seq = cut;
    // The plugin calls capture exactly at the cut; requests up to it are still being answered.
    let state: Uint8Array | undefined;
    void Promise.resolve(donor.order.hook!.capture(cut)).then((b) => (state = b));
    // Deliveries after the cut arrive while the donor captures (a plugin may not hold them).
    deliver(donor, events.length, cut);
    expect(await sim.runUntil(() => state !== undefined, 60_000)).toBe(true);
    const joiner = member(sim, links, 'n2', mode, logger, dir);
    await joiner.service.start();
    joiner.order.install({ id: 2, members: ['n1', 'n2'], primary: true, cut });
    let installed = false;
    void Promise.resolve(joiner.order.hook!.install(state!, cut)).then(() => (installed = true));
    expect(await sim.runUntil(() => installed, 60_000)).toBe(true);
    expect(joiner.service.status().recovery).toMatchObject({ mode, phase: 'live', joinedAtCut: cut });
    deliver(joiner, events.length, cut);
    await sim.runUntil(
      () =>
        donor.counter.applied.length === joiner.counter.applied.length &&
        donor.service.status().sessions.every((s) => s.produced > 0),
      60_000,
    );
    await sim.runFor(1000);
    if (mode === 'snapshot') {
      // Exactly the requests up to the cut are in the snapshot: none after it.
      const t = new SessionTable();
      const requests = events.slice(0, cut).filter((e, i) => t.apply(decodeSessionEvent(e), i + 1).kind === 'request');
      const saved = JSON.parse(new TextDecoder().decode(decodeRecoveryState(state!).service)) as { applied: string[] };
      expect(saved.applied).toHaveLength(requests.length);
      expect(saved.applied).toEqual(donor.counter.applied.slice(0, requests.length));
    }
    return { donor, joiner, cut };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('Recovery at the interceptor', () => {
  for (const mode of ['snapshot', 'replay'] as const)
    it(`${mode}: a joiner that installs the state at the cut and then applies the later deliveries ends equal to the donor (30 seeds)`, async () => {
      for (let seed = 1; seed <= 30; seed++) {
        const { donor, joiner } = await rejoin(seed, mode);
        expect(joiner.counter.digest()).toBe(donor.counter.digest());
        expect(donor.counter.applied.length).toBeGreaterThan(20);
        expect(sessionsOf(joiner)).toEqual(sessionsOf(donor));
        expect(joiner.fatal).toBeUndefined();
      }
    });

  it('snapshot: the captured service state holds exactly the requests up to the cut', async () => {
    const sim = new Simulator({ seed: 5, members: ['n1', 'n2'] });
    const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
    const donor = member(sim, links, 'n1', 'snapshot', new RecordingLogger(), os.tmpdir());
    await donor.service.start();
    donor.order.install({ id: 1, members: ['n1'], primary: true, cut: 0 });
    const events = [
      enc({ type: 'open', session: 'a', origin: 'n1', attempt: 1, principal: 'p' }),
      ...[1, 2, 3, 4].map((k) =>
        enc({ type: 'data', session: 'a', inSeq: k, ackOutSeq: 0, bytes: new TextEncoder().encode(`a:${k} ${k}\n`) }),
      ),
    ];
    for (const [i, payload] of events.slice(0, 4).entries())
      donor.order.deliverTo!({ view: 1, seq: i + 1, sender: 'n1', payload });
    let state: Uint8Array | undefined;
    void Promise.resolve(donor.order.hook!.capture(4)).then((b) => (state = b));
    donor.order.deliverTo!({ view: 1, seq: 5, sender: 'n1', payload: events[4]! });
    expect(donor.counter.applied).toEqual([]);
    await sim.runUntil(() => state !== undefined, 10_000);
    const decoded = decodeRecoveryState(state!);
    expect(JSON.parse(new TextDecoder().decode(decoded.service))).toEqual({ total: 6, applied: ['a:1', 'a:2', 'a:3'] });
    expect(decoded.caches).toEqual([
      expect.objectContaining({ session: 'a', produced: 3, acked: 0, chunks: expect.any(Array) }),
    ]);
    expect(decoded.table.sessions[0]).toMatchObject({ id: 'a', lastInSeq: 3 });
    await sim.runFor(200);
    expect(donor.counter.applied).toEqual(['a:1', 'a:2', 'a:3', 'a:4']);
  });

  it('snapshot: two captures in quick succession each hold exactly the requests up to their own cut', async () => {
    const sim = new Simulator({ seed: 6, members: ['n1', 'n2'] });
    const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
    const donor = member(sim, links, 'n1', 'snapshot', new RecordingLogger(), os.tmpdir());
    await donor.service.start();
    donor.order.install({ id: 1, members: ['n1'], primary: true, cut: 0 });
    const events = [
      enc({ type: 'open', session: 'a', origin: 'n1', attempt: 1, principal: 'p' }),
      ...[1, 2, 3, 4, 5, 6].map((k) =>
        enc({ type: 'data', session: 'a', inSeq: k, ackOutSeq: 0, bytes: new TextEncoder().encode(`a:${k} ${k}\n`) }),
      ),
    ];
    const deliver = (from: number, to: number): void => {
      for (let s = from; s <= to; s++)
        donor.order.deliverTo!({ view: 1, seq: s, sender: 'n1', payload: events[s - 1]! });
    };
    const states: Uint8Array[] = [];
    deliver(1, 3);
    void Promise.resolve(donor.order.hook!.capture(3)).then((b) => (states[0] = b));
    deliver(4, 5);
    void Promise.resolve(donor.order.hook!.capture(5)).then((b) => (states[1] = b));
    deliver(6, 7);
    await sim.runUntil(() => states[0] !== undefined && states[1] !== undefined, 10_000);
    const applied = (b: Uint8Array): string[] =>
      (JSON.parse(new TextDecoder().decode(decodeRecoveryState(b).service)) as { applied: string[] }).applied;
    expect(applied(states[0]!)).toEqual(['a:1', 'a:2']);
    expect(applied(states[1]!)).toEqual(['a:1', 'a:2', 'a:3', 'a:4']);
    await sim.runFor(500);
    expect(donor.counter.applied).toHaveLength(6);
  });

  it('snapshot: a cache over its bound never holds back the requests up to the cut (the dispatcher never waits for an ack)', async () => {
    const sim = new Simulator({ seed: 7, members: ['n1', 'n2'] });
    const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
    const donor = member(sim, links, 'n1', 'snapshot', new RecordingLogger(), os.tmpdir(), 0, 8);
    await donor.service.start();
    donor.order.install({ id: 1, members: ['n1'], primary: true, cut: 0 });
    const events = [
      enc({ type: 'open', session: 'a', origin: 'n1', attempt: 1, principal: 'p' }),
      ...[1, 2, 3].map((k) =>
        enc({ type: 'data', session: 'a', inSeq: k, ackOutSeq: 0, bytes: new TextEncoder().encode(`a:${k} ${k}\n`) }),
      ),
      enc({ type: 'ack', session: 'a', outSeq: 3 }),
    ];
    for (const [i, payload] of events.slice(0, 4).entries())
      donor.order.deliverTo!({ view: 1, seq: i + 1, sender: 'n1', payload });
    await new Promise((r) => setImmediate(r));
    await sim.runUntil(() => donor.counter.applied.length > 0, 1000);
    await sim.runFor(200);
    // The second response passed the 8-byte bound: the third request still ran (the session is
    // closed for overflow in the total order instead; this test's order never delivers that).
    expect(donor.counter.applied).toEqual(['a:1', 'a:2', 'a:3']);
    expect(donor.order.sent.map((p) => decodeSessionEvent(p))).toContainEqual(
      expect.objectContaining({ type: 'close', session: 'a', reason: 'overflow', ifAcked: 0 }),
    );
    let state: Uint8Array | undefined;
    void Promise.resolve(donor.order.hook!.capture(4)).then((b) => (state = b));
    expect(await sim.runUntil(() => state !== undefined, 10_000)).toBe(true);
    const decoded = decodeRecoveryState(state!);
    expect((JSON.parse(new TextDecoder().decode(decoded.service)) as { applied: string[] }).applied).toEqual([
      'a:1',
      'a:2',
      'a:3',
    ]);
    expect(decoded.caches[0]).toMatchObject({ produced: 3, acked: 0 });
    expect(decoded.caches[0]!.chunks).toHaveLength(3);
    donor.order.deliverTo!({ view: 1, seq: 5, sender: 'n1', payload: events[4]! });
    expect(donor.service.status().sessions[0]).toMatchObject({ cacheBytes: 0, backpressure: false });
  });

  for (const mode of ['replay', 'snapshot'] as const)
    it(`${mode}: a state handed to a member that has applied deliveries already: kept at the cut, only the rest applied behind it`, async () => {
      for (const behind of [0, 7]) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-recovery-'));
        try {
          const sim = new Simulator({ seed: 11 + behind, members: ['n1', 'n2'] });
          const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
          const logger = new RecordingLogger();
          const donor = member(sim, links, 'n1', mode, logger, dir);
          const other = member(sim, links, 'n2', mode, logger, dir);
          const events = script(30, 2);
          const cut = 25;
          for (const m of [donor, other]) {
            await m.service.start();
            m.order.install({ id: 1, members: ['n1', 'n2'], primary: true, cut: 0 });
          }
          const deliver = (m: Member, from: number, to: number): void => {
            for (let q = from; q <= to; q++)
              m.order.deliverTo!({ view: 1, seq: q, sender: 'n1', payload: events[q - 1]! });
          };
          deliver(donor, 1, cut);
          deliver(other, 1, cut - behind);
          let state: Uint8Array | undefined;
          void Promise.resolve(donor.order.hook!.capture(cut)).then((b) => (state = b));
          await new Promise((r) => setImmediate(r));
          expect(await sim.runUntil(() => state !== undefined, 60_000)).toBe(true);
          other.order.install({ id: 3, members: ['n1', 'n2'], primary: true, cut });
          let installed = false;
          void Promise.resolve(other.order.hook!.install(state!, cut)).then(() => (installed = true));
          expect(await sim.runUntil(() => installed, 60_000)).toBe(true);
          deliver(donor, cut + 1, 30);
          deliver(other, cut + 1, 30);
          await new Promise((r) => setImmediate(r));
          await sim.runUntil(() => other.counter.applied.length === donor.counter.applied.length, 60_000);
          await sim.runFor(1000);
          expect(other.fatal).toBeUndefined();
          expect(other.counter.digest()).toBe(donor.counter.digest());
          expect(sessionsOf(other)).toEqual(sessionsOf(donor));
          expect(
            logger.find('info', behind ? 'caught up with the group by state transfer' : 'kept its own state'),
          ).toHaveLength(1);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }
    });

  it('replay with divergence detection on: replayed output is not hashed and shared again, later output is', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-recovery-'));
    try {
      const sim = new Simulator({ seed: 12, members: ['n1', 'n2'] });
      const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
      const logger = new RecordingLogger();
      const donor = member(sim, links, 'n1', 'replay', logger, dir, 0, undefined, true);
      const joiner = member(sim, links, 'n2', 'replay', logger, dir, 0, undefined, true);
      const events = script(20, 2);
      await donor.service.start();
      donor.order.install({ id: 1, members: ['n1'], primary: true, cut: 0 });
      for (let q = 1; q <= 15; q++) donor.order.deliverTo!({ view: 1, seq: q, sender: 'n1', payload: events[q - 1]! });
      const state = await donor.order.hook!.capture(15);
      await joiner.service.start();
      joiner.order.install({ id: 2, members: ['n1', 'n2'], primary: true, cut: 15 });
      let installed = false;
      void Promise.resolve(joiner.order.hook!.install(state, 15)).then(() => (installed = true));
      await new Promise((r) => setImmediate(r));
      expect(await sim.runUntil(() => installed, 60_000)).toBe(true);
      expect(joiner.counter.applied.length).toBeGreaterThan(5);
      await sim.runFor(100);
      expect(joiner.order.sent).toEqual([]);
      for (let q = 16; q <= 20; q++)
        joiner.order.deliverTo!({ view: 2, seq: q, sender: 'n1', payload: events[q - 1]! });
      await new Promise((r) => setImmediate(r));
      await sim.runFor(1000);
      expect(joiner.order.sent.length).toBeGreaterThan(0);
      expect(joiner.order.sent.every((p) => decodeSessionEvent(p).type === 'digest')).toBe(true);
      // The donor's hashes of responses before the cut, ordered after it, open nothing here: the
      // joiner never hashed those responses, so such comparisons would wait for it forever.
      await sim.runFor(1000);
      const donorDigests = donor.order.sent.filter((p) => decodeSessionEvent(p).type === 'digest');
      expect(donorDigests.length).toBeGreaterThan(0);
      donorDigests.forEach((payload, i) => joiner.order.deliverTo!({ view: 2, seq: 21 + i, sender: 'n1', payload }));
      expect(joiner.service.status().divergence!.open).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a member catching up refuses client sessions with a retryable error', async () => {
    const sim = new Simulator({ seed: 9, members: ['n1', 'n2'] });
    const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
    const logger = new RecordingLogger();
    const donor = member(sim, links, 'n1', 'snapshot', logger, os.tmpdir());
    await donor.service.start();
    donor.order.install({ id: 1, members: ['n1'], primary: true, cut: 0 });
    donor.order.deliverTo!({
      view: 1,
      seq: 1,
      sender: 'n1',
      payload: enc({ type: 'open', session: 'a', origin: 'n1', attempt: 1, principal: 'p' }),
    });
    let state: Uint8Array | undefined;
    void Promise.resolve(donor.order.hook!.capture(1)).then((b) => (state = b));
    await sim.runUntil(() => state !== undefined, 10_000);
    const joiner = member(sim, links, 'n2', 'snapshot', logger, os.tmpdir(), 500);
    await joiner.service.start();
    joiner.order.install({ id: 2, members: ['n1', 'n2'], primary: true, cut: 1 });
    let installed = false;
    void Promise.resolve(joiner.order.hook!.install(state!, 1)).then(() => (installed = true));
    await sim.runFor(10);
    expect(joiner.service.status().recovery?.phase).toBe('catching-up');
    const link = await links.connect({ id: 'n2', host: 'n2', port: 7000 });
    const frames: MemberFrame[] = [];
    link.onFrame((b) => frames.push(decodeMemberFrame(b)));
    link.send(
      encodeClientFrame({ type: 'hello', session: 'a', credentials: new Uint8Array(), lastInSeq: 0, lastOutSeq: 0 }),
    );
    await sim.runFor(20);
    expect(frames).toEqual([expect.objectContaining({ type: 'error', code: 'VCL_UNAVAILABLE', fatal: false })]);
    expect((frames[0] as { message: string }).message).toMatch(/catching up/);
    await sim.runUntil(() => installed, 10_000);
    expect(joiner.service.status().recovery).toMatchObject({ phase: 'live', joinedAtCut: 1, installMs: 500 });
    expect(logger.find('info', 'rejoined the group: live')).toHaveLength(1);
  });

  it('none: a member joining a running group refuses with a RecoveryRefusedError naming service.recovery, and applies nothing', async () => {
    const sim = new Simulator({ seed: 3, members: ['n1', 'n2', 'n3'] });
    const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
    const donor = member(sim, links, 'n1', 'none', new RecordingLogger(), os.tmpdir());
    const joiner = member(sim, links, 'n2', 'none', new RecordingLogger(), os.tmpdir());
    await donor.service.start();
    await joiner.service.start();
    const state = await donor.order.hook!.capture(4);
    joiner.order.install({ id: 2, members: ['n1', 'n2'], primary: true, cut: 4 });
    await expect(Promise.resolve(joiner.order.hook!.install(state, 4))).rejects.toThrow(RecoveryRefusedError);
    expect(joiner.fatal).toBeInstanceOf(RecoveryRefusedError);
    expect(joiner.fatal!.message).toMatch(/service\.recovery is none/);
    expect(joiner.service.status().recovery).toMatchObject({ phase: 'refused' });
    joiner.order.deliverTo!({
      view: 2,
      seq: 5,
      sender: 'n1',
      payload: enc({ type: 'open', session: 'x', origin: 'n1', attempt: 1, principal: 'p' }),
    });
    expect(joiner.service.status().sessions).toEqual([]);
    // Starting fresh together is fine: a state at cut 0.
    const fresh = member(sim, links, 'n3', 'none', new RecordingLogger(), os.tmpdir());
    await expect(
      Promise.resolve(fresh.order.hook!.install(await donor.order.hook!.capture(0), 0)),
    ).resolves.toBeUndefined();
    expect(fresh.fatal).toBeUndefined();
  });

  it('refuses a state from a donor with another recovery mode', async () => {
    const sim = new Simulator({ seed: 4, members: ['n1', 'n2'] });
    const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
    const donor = member(sim, links, 'n1', 'none', new RecordingLogger(), os.tmpdir());
    const joiner = member(sim, links, 'n2', 'snapshot', new RecordingLogger(), os.tmpdir());
    const state = await donor.order.hook!.capture(3);
    await expect(Promise.resolve(joiner.order.hook!.install(state, 3))).rejects.toThrow(
      /snapshot here and none at the donor/,
    );
    expect(joiner.fatal).toBeInstanceOf(RecoveryRefusedError);
  });
});

describe('Replay log compaction', () => {
  /** Requests among `events[0 .. upTo - 1]`, in order: what the service has applied at `upTo`. */
  const requestTags = (events: readonly Uint8Array[], upTo: number): string[] => {
    const t = new SessionTable();
    const tags: string[] = [];
    events.slice(0, upTo).forEach((e, i) => {
      const a = t.apply(decodeSessionEvent(e), i + 1);
      if (a.kind === 'request') tags.push(new TextDecoder().decode(a.bytes).split(' ')[0]!);
    });
    return tags;
  };

  const withDir = async (f: (dir: string) => Promise<void>): Promise<void> => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-compaction-'));
    try {
      await f(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };

  /** Delivers `events[from - 1 .. to - 1]` to `m` in batches, letting virtual time run in between. */
  const deliverIn = async (sim: Simulator, m: Member, events: readonly Uint8Array[], from: number, to: number) => {
    for (let q = from; q <= to; q++) {
      m.order.deliverTo!({ view: 1, seq: q, sender: 'n1', payload: events[q - 1]! });
      if (q % 10 === 0) {
        await new Promise((r) => setImmediate(r));
        await sim.runFor(40);
      }
    }
  };

  const installAt = async (sim: Simulator, m: Member, state: Uint8Array, cut: number): Promise<void> => {
    await m.service.start();
    m.order.install({ id: 2, members: ['n1', 'n2'], primary: true, cut });
    let installed = false;
    void Promise.resolve(m.order.hook!.install(state, cut)).then(() => (installed = true));
    await new Promise((r) => setImmediate(r));
    expect(await sim.runUntil(() => installed, 60_000)).toBe(true);
  };

  it('the donor compacts as its log grows; a joiner installs the base snapshot plus the events after it, ends equal, and is the next donor (30 seeds)', async () => {
    for (let seed = 1; seed <= 30; seed++)
      await withDir(async (dir) => {
        const sim = new Simulator({ seed, members: ['n1', 'n2', 'n3'] });
        const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
        const logger = new RecordingLogger();
        const opts = { compactAtBytes: 600 };
        const donor = member(sim, links, 'n1', 'replay', logger, dir, 0, undefined, false, opts);
        const events = script(160, 3);
        const cut = 80 + Math.floor(sim.node('n1').random.next() * 40);
        await donor.service.start();
        donor.order.install({ id: 1, members: ['n1'], primary: true, cut: 0 });
        await deliverIn(sim, donor, events, 1, cut);
        let state: Uint8Array | undefined;
        void Promise.resolve(donor.order.hook!.capture(cut)).then((b) => (state = b));
        await deliverIn(sim, donor, events, cut + 1, 130);
        expect(await sim.runUntil(() => state !== undefined, 60_000)).toBe(true);
        const decoded = decodeRecoveryState(state!);
        // The state is a base snapshot and the events after it, not the whole history.
        expect(decoded.base).toBeGreaterThan(0);
        expect(decoded.log.map((e) => e.seq)).toEqual(
          Array.from({ length: cut - decoded.base }, (_, i) => decoded.base + 1 + i),
        );
        const saved = JSON.parse(new TextDecoder().decode(decoded.service)) as { applied: string[] };
        expect(saved.applied).toEqual(requestTags(events, decoded.base));
        expect(donor.service.status().recovery!.compactions).toBeGreaterThan(0);

        const joiner = member(sim, links, 'n2', 'replay', logger, dir, 0, undefined, false, opts);
        await installAt(sim, joiner, state!, cut);
        expect(joiner.service.status().recovery).toMatchObject({ phase: 'live', joinedAtCut: cut });
        expect(joiner.service.status().recovery!.replayed).toBe(cut - decoded.base);
        await deliverIn(sim, joiner, events, cut + 1, 130);
        await sim.runUntil(() => joiner.counter.applied.length === donor.counter.applied.length, 60_000);
        await sim.runFor(1000);
        expect(joiner.fatal).toBeUndefined();
        expect(joiner.counter.digest()).toBe(donor.counter.digest());
        expect(sessionsOf(joiner)).toEqual(sessionsOf(donor));

        // The joiner's log starts at a base too: it can hand the group's state on.
        const next = await joiner.order.hook!.capture(130);
        expect(decodeRecoveryState(next).base).toBeGreaterThanOrEqual(decoded.base);
        const third = member(sim, links, 'n3', 'replay', logger, dir, 0, undefined, false, opts);
        await installAt(sim, third, next, 130);
        await sim.runUntil(() => third.counter.applied.length === donor.counter.applied.length, 60_000);
        expect(third.fatal).toBeUndefined();
        expect(third.counter.digest()).toBe(donor.counter.digest());
        expect(sessionsOf(third)).toEqual(sessionsOf(donor));
      });
  });

  it('keeps the log bounded on disk over 3000 deliveries (without compaction it grows past 30 times the bound)', async () => {
    await withDir(async (dir) => {
      const sim = new Simulator({ seed: 21, members: ['n1', 'n2'] });
      const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
      const bound = 2048;
      const m = member(sim, links, 'n1', 'replay', new RecordingLogger(), dir, 0, undefined, false, {
        compactAtBytes: bound,
      });
      const events = script(3000, 4);
      await m.service.start();
      m.order.install({ id: 1, members: ['n1'], primary: true, cut: 0 });
      const file = path.join(dir, 'n1', 'events.log');
      let largest = 0;
      let total = 0;
      for (let q = 1; q <= events.length; q++) {
        total += encodeLogRecord({ seq: q, payload: events[q - 1]! }).length;
        m.order.deliverTo!({ view: 1, seq: q, sender: 'n1', payload: events[q - 1]! });
        largest = Math.max(largest, fs.statSync(file).size);
        if (q % 10 === 0) {
          await new Promise((r) => setImmediate(r));
          await sim.runFor(150); // a load the service keeps up with (answers take 1-20 ms)
        }
      }
      await sim.runFor(1000);
      expect(total).toBeGreaterThan(30 * bound);
      // Between the moment the log reaches its bound and the snapshot, deliveries keep being
      // appended (one batch here).
      expect(largest).toBeLessThan(bound + 1024);
      const status = m.service.status().recovery!;
      expect(status.compactions).toBeGreaterThan(30);
      expect(status.logBase).toBeGreaterThan(2900);
      expect(fs.statSync(path.join(dir, 'n1', 'base.state')).size).toBeGreaterThan(0);
      expect(status.lastCompaction).toMatchObject({ base: status.logBase });
    });
  });

  it('a failing snapshot leaves the log whole (nothing lost, a joiner still gets everything) and is tried again later', async () => {
    await withDir(async (dir) => {
      const sim = new Simulator({ seed: 22, members: ['n1', 'n2'] });
      const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
      const logger = new RecordingLogger();
      let failing = true;
      const donor = member(sim, links, 'n1', 'replay', logger, dir, 0, undefined, false, {
        compactAtBytes: 600,
        failSaves: () => failing,
      });
      const events = script(200, 3);
      await donor.service.start();
      donor.order.install({ id: 1, members: ['n1'], primary: true, cut: 0 });
      await deliverIn(sim, donor, events, 1, 60);
      await sim.runFor(200);
      const failed = donor.service.status().recovery!;
      expect(failed.compactionError).toMatch(/save failed on purpose/);
      expect(failed.compactions).toBe(0);
      expect(failed.logBase).toBe(0);
      expect(logger.find('error', 'replay log compaction failed').length).toBeGreaterThan(0);
      const state = await donor.order.hook!.capture(60);
      expect(decodeRecoveryState(state).log).toHaveLength(60);
      failing = false;
      await deliverIn(sim, donor, events, 61, 200);
      await sim.runFor(1000);
      const recovered = donor.service.status().recovery!;
      expect(recovered.compactions).toBeGreaterThan(0);
      expect(recovered.compactionError).toBeUndefined();
      const joiner = member(sim, links, 'n2', 'replay', logger, dir);
      await installAt(sim, joiner, state, 60);
      await deliverIn(sim, joiner, events, 61, 200);
      await sim.runUntil(() => joiner.counter.applied.length === donor.counter.applied.length, 60_000);
      expect(joiner.counter.digest()).toBe(donor.counter.digest());
    });
  });

  it('a capture while a compaction waits for the service ships the old base with every event after it', async () => {
    await withDir(async (dir) => {
      const sim = new Simulator({ seed: 23, members: ['n1', 'n2'] });
      const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
      const logger = new RecordingLogger();
      const donor = member(sim, links, 'n1', 'replay', logger, dir, 0, undefined, false, { compactAtBytes: 600 });
      const events = script(100, 3);
      await donor.service.start();
      donor.order.install({ id: 1, members: ['n1'], primary: true, cut: 0 });
      await deliverIn(sim, donor, events, 1, 50);
      await sim.runFor(500);
      const before = donor.service.status().recovery!.compactions!;
      const base = donor.service.status().recovery!.logBase!;
      // Deliver enough to start a compaction, and capture before the service answered anything.
      for (let q = 51; q <= 80; q++) donor.order.deliverTo!({ view: 1, seq: q, sender: 'n1', payload: events[q - 1]! });
      const state = await donor.order.hook!.capture(80);
      const decoded = decodeRecoveryState(state);
      expect(decoded.base).toBe(base);
      expect(decoded.log[decoded.log.length - 1]!.seq).toBe(80);
      await sim.runFor(1000);
      expect(donor.service.status().recovery!.compactions).toBe(before + 1);
      expect(donor.service.status().recovery!.logBase).toBeGreaterThan(base);
      const joiner = member(sim, links, 'n2', 'replay', logger, dir);
      await installAt(sim, joiner, state, 80);
      await deliverIn(sim, joiner, events, 81, 100);
      await deliverIn(sim, donor, events, 81, 100);
      await sim.runUntil(() => joiner.counter.applied.length === donor.counter.applied.length, 60_000);
      expect(joiner.counter.digest()).toBe(donor.counter.digest());
      expect(sessionsOf(joiner)).toEqual(sessionsOf(donor));
    });
  });

  it('a member behind the donor base (re-admitted by the plugin) loads the base and replays the rest', async () => {
    await withDir(async (dir) => {
      const sim = new Simulator({ seed: 24, members: ['n1', 'n2'] });
      const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
      const logger = new RecordingLogger();
      const opts = { compactAtBytes: 600 };
      const donor = member(sim, links, 'n1', 'replay', logger, dir, 0, undefined, false, opts);
      const other = member(sim, links, 'n2', 'replay', logger, dir, 0, undefined, false, opts);
      const events = script(120, 3);
      for (const m of [donor, other]) {
        await m.service.start();
        m.order.install({ id: 1, members: ['n1', 'n2'], primary: true, cut: 0 });
      }
      await deliverIn(sim, donor, events, 1, 100);
      await deliverIn(sim, other, events, 1, 12);
      await sim.runFor(500);
      const state = await donor.order.hook!.capture(100);
      expect(decodeRecoveryState(state).base).toBeGreaterThan(12);
      other.order.install({ id: 3, members: ['n1', 'n2'], primary: true, cut: 100 });
      let installed = false;
      void Promise.resolve(other.order.hook!.install(state, 100)).then(() => (installed = true));
      await new Promise((r) => setImmediate(r));
      expect(await sim.runUntil(() => installed, 60_000)).toBe(true);
      await deliverIn(sim, donor, events, 101, 120);
      await deliverIn(sim, other, events, 101, 120);
      await sim.runUntil(() => other.counter.applied.length === donor.counter.applied.length, 60_000);
      await sim.runFor(1000);
      expect(other.fatal).toBeUndefined();
      expect(other.counter.digest()).toBe(donor.counter.digest());
      expect(sessionsOf(other)).toEqual(sessionsOf(donor));
      expect(logger.find('info', 'caught up with the group by state transfer')).toHaveLength(1);
    });
  });
});

describe('a state installed over requests still queued for the service', () => {
  it('snapshot: the queued requests of the replaced sessions are dropped (the snapshot answered them), and later requests run', async () => {
    const sim = new Simulator({ seed: 31, members: ['n1', 'n2'] });
    const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
    const logger = new RecordingLogger();
    const donor = member(sim, links, 'n1', 'snapshot', logger, os.tmpdir());
    const other = member(sim, links, 'n2', 'snapshot', logger, os.tmpdir());
    const events = script(40, 2);
    for (const m of [donor, other]) {
      await m.service.start();
      m.order.install({ id: 1, members: ['n1', 'n2'], primary: true, cut: 0 });
    }
    const deliver = (m: Member, from: number, to: number): void => {
      for (let q = from; q <= to; q++) m.order.deliverTo!({ view: 1, seq: q, sender: 'n1', payload: events[q - 1]! });
    };
    deliver(donor, 1, 30);
    let state: Uint8Array | undefined;
    void Promise.resolve(donor.order.hook!.capture(30)).then((b) => (state = b));
    expect(await sim.runUntil(() => state !== undefined, 60_000)).toBe(true);
    // The re-admitted member has its own requests queued (none answered yet) when the state comes.
    deliver(other, 1, 20);
    expect(other.counter.applied.length).toBeLessThan(5);
    other.order.install({ id: 3, members: ['n1', 'n2'], primary: true, cut: 30 });
    let installed = false;
    void Promise.resolve(other.order.hook!.install(state!, 30)).then(() => (installed = true));
    await new Promise((r) => setImmediate(r));
    expect(await sim.runUntil(() => installed, 60_000)).toBe(true);
    deliver(donor, 31, 40);
    deliver(other, 31, 40);
    await new Promise((r) => setImmediate(r));
    await sim.runUntil(() => donor.counter.applied.length === 37 && sessionsOf(other) !== undefined, 60_000);
    await sim.runFor(2000);
    expect(other.fatal).toBeUndefined();
    expect(sessionsOf(other)).toEqual(sessionsOf(donor));
    // The snapshot replaced the service state; what it applies after the cut matches the donor.
    expect(other.counter.digest()).toBe(donor.counter.digest());
  });

  it('a joiner whose install outlasts the report bound says it cannot catch up (log, status), keeps installing and goes live', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-recovery-'));
    try {
      const sim = new Simulator({ seed: 9, members: ['n1', 'n2'] });
      const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
      const logger = new RecordingLogger();
      const donor = member(sim, links, 'n1', 'snapshot', logger, dir);
      await donor.service.start();
      donor.order.install({ id: 1, members: ['n1'], primary: true, cut: 0 });
      const events = script(20, 2);
      for (let q = 1; q <= 20; q++) donor.order.deliverTo!({ view: 1, seq: q, sender: 'n1', payload: events[q - 1]! });
      let state: Uint8Array | undefined;
      void Promise.resolve(donor.order.hook!.capture(20)).then((b) => (state = b));
      expect(await sim.runUntil(() => state !== undefined, 60_000)).toBe(true);
      // Loading the snapshot takes 25 s of virtual time: past the default 10 s bound, twice.
      const joiner = member(sim, links, 'n2', 'snapshot', logger, dir, 25_000);
      await joiner.service.start();
      joiner.order.install({ id: 2, members: ['n1', 'n2'], primary: true, cut: 20 });
      let installed = false;
      void Promise.resolve(joiner.order.hook!.install(state!, 20)).then(() => (installed = true));
      await sim.runFor(15_000);
      expect(joiner.service.status().recovery).toMatchObject({
        phase: 'catching-up',
        catchUpStalls: 1,
        catchUpProblem: expect.stringMatching(/^installing the state at cut 20 \(\d+ bytes\) for 10000 ms$/),
      });
      expect(joiner.service.status().recovery!.catchingUpMs).toBeGreaterThanOrEqual(15_000);
      expect(await sim.runUntil(() => installed, 60_000)).toBe(true);
      const reports = logger.lines.filter((l) => l.msg === 'cannot catch up with the group');
      expect(reports.map((l) => l.fields['elapsedMs'])).toEqual([10_000, 20_000]);
      const status = joiner.service.status().recovery!;
      expect(status).toMatchObject({ phase: 'live', installs: 1, catchUpStalls: 2, joinedAtCut: 20 });
      expect(status.catchUpProblem).toBeUndefined();
      expect(status.catchingUpMs).toBeUndefined();
      expect(joiner.fatal).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [1000, 1],
    [5000, 0],
  ])(
    'a member re-admitted with a state three times in a row, %i ms after each went live, reports %i time(s) that it cannot catch up',
    async (liveMs, expected) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-recovery-'));
      try {
        const sim = new Simulator({ seed: 10, members: ['n1', 'n2'] });
        const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 1 });
        const logger = new RecordingLogger();
        const donor = member(sim, links, 'n1', 'replay', logger, dir);
        const other = member(sim, links, 'n2', 'replay', logger, dir);
        const events = script(60, 2);
        for (const m of [donor, other]) {
          await m.service.start();
          m.order.install({ id: 1, members: ['n1', 'n2'], primary: true, cut: 0 });
        }
        let at = 0;
        for (const [k, cut] of [20, 40, 60].entries()) {
          for (let q = at + 1; q <= cut; q++)
            donor.order.deliverTo!({ view: 1, seq: q, sender: 'n1', payload: events[q - 1]! });
          let state: Uint8Array | undefined;
          void Promise.resolve(donor.order.hook!.capture(cut)).then((b) => (state = b));
          expect(await sim.runUntil(() => state !== undefined, 60_000)).toBe(true);
          other.order.install({ id: 2 + k, members: ['n1', 'n2'], primary: true, cut });
          let installed = false;
          void Promise.resolve(other.order.hook!.install(state!, cut)).then(() => (installed = true));
          expect(await sim.runUntil(() => installed, 60_000)).toBe(true);
          await sim.runFor(liveMs);
          at = cut;
        }
        const reports = logger.lines.filter((l) => l.msg === 'cannot catch up with the group');
        expect(reports).toHaveLength(expected);
        expect(other.service.status().recovery).toMatchObject({ phase: 'live', installs: 3, catchUpStalls: expected });
        if (expected) {
          expect(reports[0]!.fields).toMatchObject({ installs: 3 });
          expect(other.service.status().recovery!.catchUpProblem).toMatch(
            /^3 state transfers in a row, each begun within 3000 ms/,
          );
        } else expect(other.service.status().recovery!.catchUpProblem).toBeUndefined();
        expect(other.counter.digest()).toBe(donor.counter.digest());
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
