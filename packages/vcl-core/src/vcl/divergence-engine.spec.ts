import type { ExchangePattern } from '../contracts/substrate';
import { CounterService } from '../testing/vcl/counter-service';
import { LineClient, VclHarness } from '../testing/vcl/engine-harness';
import type { LogLine } from '../testing/vcl/recording-logger';
import type { DivergenceOptions } from './divergence';

const enc = new TextEncoder();

/**
 * A counter replica that goes non-deterministic on demand: once it has applied `driftAfter`
 * requests it appends a number of its own (like a PID or a clock reading) to every answer.
 */
class DriftingCounterService extends CounterService {
  driftAfter = Infinity;

  override handle(request: Uint8Array): Uint8Array {
    const answer = super.handle(request);
    if (this.applied.length <= this.driftAfter) return answer;
    const line = new TextDecoder().decode(answer).trimEnd();
    return enc.encode(`${line} pid=${4000 + this.applied.length}\n`);
  }
}

interface Run {
  readonly h: VclHarness;
  readonly client: LineClient;
  readonly session: string;
  readonly drifting: string;
  readonly evicted: string[];
  readonly done: boolean;
}

/**
 * One session sends `requests` requests one at a time (each after the previous answer); the
 * replica of the member the session is attached to (or `driftMember`) drifts after `driftAfter`.
 */
async function run(
  seed: number,
  opts: {
    members?: number;
    requests: number;
    driftAfter: number;
    driftMember?: 'attached' | 'other';
    policy?: DivergenceOptions['policy'];
    pattern?: ExchangePattern;
    crashAfter?: number;
  },
): Promise<Run> {
  const evicted: string[] = [];
  const h = new VclHarness({
    seed,
    members: opts.members ?? 3,
    pattern: opts.pattern ?? 'request-response',
    replica: () => new DriftingCounterService(),
    service: { divergence: { policy: opts.policy ?? 'report', streamBlockBytes: 8 } },
  });
  for (const [id, s] of h.services)
    // What `startServiceMember` does on eviction: the member leaves (here: like a stopped process).
    void s.evicted.then(() => {
      evicted.push(id);
      h.crash(id);
    });
  await h.start();
  await h.sim.runFor(5);
  const client = new LineClient(h.client.connect());
  let sent = 0;
  const next = (): void => {
    if (sent < opts.requests) client.send(`r${++sent}`, 1);
  };
  client.onResponse = () => {
    if (opts.crashAfter !== undefined && client.responses.length === opts.crashAfter) {
      const attached = h.client.status().sessions[0]!.member!;
      h.crash(h.live().find((m) => m !== attached)!);
    }
    next();
  };
  next();
  await h.settle();
  const attachedNow = (): string | undefined => {
    const id = h.client.status().sessions[0]?.id;
    return id === undefined ? undefined : h.attachedTo(id);
  };
  await h.sim.runUntil(() => attachedNow() !== undefined, 1000);
  const session = h.client.status().sessions[0]!.id;
  const attached = attachedNow()!;
  const drifting = opts.driftMember === 'other' ? h.members.find((m) => m !== attached)! : attached;
  (h.replicas.get(drifting) as DriftingCounterService).driftAfter = opts.driftAfter;
  const done = await h.sim.runUntil(() => client.responses.length >= opts.requests, 60_000);
  await h.sim.runFor(200);
  return { h, client, session, drifting, evicted, done };
}

const reports = (h: VclHarness): LogLine[] => h.logger.find('error', 'diverged from the majority');

describe('divergence detection on three service interceptors (simulator)', () => {
  it.each(Array.from({ length: 12 }, (_, i) => [i + 1]))(
    'seed %i: a replica that puts its own number into answers is named, with the session and the request where it started, within one request',
    async (seed) => {
      const driftAfter = 3 + (seed % 5);
      const r = await run(seed, {
        requests: 20,
        driftAfter,
        driftMember: seed % 2 ? 'attached' : 'other',
      });
      expect(r.done).toBe(true);
      const lines = reports(r.h);
      // Every member reaches the same verdict, at the same point of the total order.
      expect(lines.map((l) => l.fields['member'])).toEqual(expect.arrayContaining(r.h.members));
      expect(lines).toHaveLength(3);
      for (const l of lines) {
        expect(l.fields).toMatchObject({
          diverged: r.drifting,
          session: r.session,
          inSeq: driftAfter + 1,
          unit: 'request',
          seq: lines[0]!.fields['seq'],
        });
        expect([...(l.fields['majority'] as string[])].sort()).toEqual(r.h.members.filter((m) => m !== r.drifting));
        // Detection lag: requests applied in the session when the verdict fell.
        expect(l.fields['appliedInSession'] as number).toBeLessThanOrEqual(driftAfter + 2);
      }
      for (const m of r.h.members) {
        const st = r.h.services.get(m)!.status().divergence!;
        expect(st.diverged.map((d) => `${d.member}@${d.session}#${d.inSeq}`)).toEqual([
          `${r.drifting}@${r.session}#${driftAfter + 1}`,
        ]);
        expect(st.counters.undecided).toBe(0);
      }
      // `report` keeps serving: the session got every answer, the drifting member is still up.
      expect(r.evicted).toEqual([]);
      expect(r.client.responses).toHaveLength(20);
      expect(r.client.ended).toBe(false);
    },
  );

  it.each([[31], [32], [33], [34], [35], [36]])(
    'seed %i: under evict the diverged replica leaves and its client fails over without error; every answer arrives once',
    async (seed) => {
      const r = await run(seed, { requests: 30, driftAfter: 10, policy: 'evict' });
      expect(r.done).toBe(true);
      expect(r.evicted).toEqual([r.drifting]);
      expect(r.client.error).toBeUndefined();
      expect(r.client.ended).toBe(false);
      // Totals are right (a drifting answer only has a suffix); nothing lost or repeated.
      expect(r.client.responses.map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(
        Array.from({ length: 30 }, (_, i) => `r${i + 1} ${i + 1}`),
      );
      const attachedNow = r.h.attachedTo(r.session);
      expect(attachedNow).not.toBe(r.drifting);
      expect(r.h.logger.find('error', 'leaving the group').map((l) => l.fields['member'])).toEqual([r.drifting]);
      // The survivors' replicas agree.
      expect(new Set(r.h.digests()).size).toBe(1);
    },
  );

  it.each([[41], [42], [43], [44], [45], [46], [47], [48]])(
    'seed %i: a member killed mid-stream is no false positive',
    async (seed) => {
      const r = await run(seed, { requests: 30, driftAfter: Infinity, crashAfter: 8 + (seed % 7) });
      expect(r.done).toBe(true);
      expect(r.h.live()).toHaveLength(2);
      expect(reports(r.h)).toEqual([]);
      expect(r.h.logger.find('error', 'no majority')).toEqual([]);
      for (const m of r.h.live()) {
        const st = r.h.services.get(m)!.status().divergence!;
        expect(st.counters.compared).toBeGreaterThanOrEqual(30);
        expect(st.counters.divergentOutputs).toBe(0);
        expect(st.open).toBe(0);
      }
    },
  );

  it('two members that differ: reported as a disagreement without a majority, nobody is evicted, both keep serving', async () => {
    const r = await run(51, { members: 2, requests: 12, driftAfter: 4, policy: 'evict' });
    expect(r.done).toBe(true);
    expect(r.evicted).toEqual([]);
    expect(reports(r.h)).toEqual([]);
    const undecided = r.h.logger.find('error', 'no majority decides');
    expect(undecided.length).toBeGreaterThanOrEqual(2);
    expect(undecided[0]!.fields).toMatchObject({ session: r.session, inSeq: 5 });
    for (const m of r.h.members) expect(r.h.services.get(m)!.status().divergence!.disagreements[0]?.inSeq).toBe(5);
  });

  it('stream substrates: output is compared in fixed blocks and the first differing block is named', async () => {
    const r = await run(61, { requests: 12, driftAfter: 6, pattern: 'stream' });
    expect(r.done).toBe(true);
    const lines = reports(r.h);
    expect(lines).toHaveLength(3);
    // Answers `rK K\n` are 5 bytes up to r9: answer 7 starts at byte 30 with `r7 7`, equal at every
    // replica, and first differs at byte 34 (`\n` against ` pid=`), in block 5 of 8 bytes (32-39).
    for (const l of lines) expect(l.fields).toMatchObject({ diverged: r.drifting, unit: 'block', inSeq: 5 });
  });

  it('costs one digest event per answer at low load and fewer under pipelining, never more', async () => {
    const r = await run(71, { requests: 40, driftAfter: Infinity });
    for (const m of r.h.members) {
      const c = r.h.services.get(m)!.status().divergence!.counters;
      expect(c.hashesSent).toBe(40);
      expect(c.digestEvents).toBeLessThanOrEqual(40);
      expect(c.compared).toBe(40);
    }
  });
});
