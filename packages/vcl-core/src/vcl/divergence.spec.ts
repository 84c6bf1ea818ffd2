import { createHash } from 'node:crypto';
import type { AuditEvent } from '../contracts/aaa';
import { MalformedFrameError } from '../errors';
import { RecordingLogger } from '../testing/vcl/recording-logger';
import {
  DigestOutbox,
  DivergenceDetector,
  DivergenceMonitor,
  OUTPUT_HASH_BYTES,
  outputHash,
  type Verdict,
} from './divergence';
import { decodeSessionEvent, encodeSessionEvent, type SessionEvent } from './session-events';

type Digest = Extract<SessionEvent, { type: 'digest' }>;

const names = (vs: Verdict[]): string[] =>
  vs.map((v) =>
    v.kind === 'diverged'
      ? `diverged ${v.member} ${v.session}#${v.inSeq} majority=${v.majority.join(',')}`
      : `undecided ${v.session}#${v.inSeq} ${v.groups.map((g) => `${g.hash}:${g.members.join(',')}`).join(' ')}`,
  );

describe('DivergenceDetector', () => {
  it('closes a comparison silently when every member agrees', () => {
    const d = new DivergenceDetector(['n1', 'n2', 'n3']);
    expect(d.record('n1', 's', 1, 'a', 10)).toEqual([]);
    expect(d.record('n2', 's', 1, 'a', 11)).toEqual([]);
    expect(d.pending).toBe(1);
    expect(d.record('n3', 's', 1, 'a', 12)).toEqual([]);
    expect(d.pending).toBe(0);
    expect(d.counters).toEqual({ compared: 1, divergentOutputs: 0, undecided: 0, unchecked: 0 });
  });

  it('names the member whose hash differs once a majority agrees, whether its hash comes last or first', () => {
    const last = new DivergenceDetector(['n1', 'n2', 'n3']);
    last.record('n1', 's', 7, 'a', 1);
    last.record('n2', 's', 7, 'a', 2);
    const v = last.record('n3', 's', 7, 'b', 3);
    expect(names(v)).toEqual(['diverged n3 s#7 majority=n1,n2']);
    expect(v[0]).toMatchObject({ expected: 'a', actual: 'b', seq: 3 });

    const first = new DivergenceDetector(['n1', 'n2', 'n3']);
    expect(first.record('n3', 's', 7, 'b', 1)).toEqual([]);
    expect(first.record('n1', 's', 7, 'a', 2)).toEqual([]);
    expect(names(first.record('n2', 's', 7, 'a', 3))).toEqual(['diverged n3 s#7 majority=n1,n2']);
    expect(first.pending).toBe(0);
  });

  it('decides before a slow member reports and judges its late hash against the majority', () => {
    const d = new DivergenceDetector(['n1', 'n2', 'n3', 'n4', 'n5']);
    d.record('n1', 's', 1, 'a', 1);
    d.record('n2', 's', 1, 'x', 2);
    d.record('n3', 's', 1, 'a', 3);
    // Three of five agree: n2 is named now, n4 and n5 are still awaited.
    expect(names(d.record('n4', 's', 1, 'a', 4))).toEqual(['diverged n2 s#1 majority=n1,n3,n4']);
    expect(d.pending).toBe(1);
    expect(names(d.record('n5', 's', 1, 'y', 5))).toEqual(['diverged n5 s#1 majority=n1,n3,n4']);
    expect(d.pending).toBe(0);
  });

  it('two members that differ: no majority, reported as undecided, nobody named', () => {
    const d = new DivergenceDetector(['n1', 'n2']);
    d.record('n1', 's', 3, 'a', 1);
    expect(names(d.record('n2', 's', 3, 'b', 2))).toEqual(['undecided s#3 a:n1 b:n2']);
    expect(d.counters.undecided).toBe(1);
    expect(d.counters.divergentOutputs).toBe(0);
  });

  it('a 2-2 tie in four members is undecided', () => {
    const d = new DivergenceDetector(['n1', 'n2', 'n3', 'n4']);
    d.record('n1', 's', 1, 'a', 1);
    d.record('n2', 's', 1, 'b', 2);
    d.record('n3', 's', 1, 'a', 3);
    expect(names(d.record('n4', 's', 1, 'b', 4))).toEqual(['undecided s#1 a:n1,n3 b:n2,n4']);
  });

  it('three different hashes in three members are undecided', () => {
    const d = new DivergenceDetector(['n1', 'n2', 'n3']);
    d.record('n1', 's', 1, 'a', 1);
    d.record('n2', 's', 1, 'b', 2);
    expect(names(d.record('n3', 's', 1, 'c', 3))).toEqual(['undecided s#1 a:n1 b:n2 c:n3']);
  });

  it('a member that dies before sending its hash is no false positive: the view change closes the comparison', () => {
    const d = new DivergenceDetector(['n1', 'n2', 'n3']);
    d.record('n1', 's', 1, 'a', 1);
    d.record('n2', 's', 1, 'a', 2);
    d.record('n1', 's', 2, 'a', 3);
    expect(d.pending).toBe(2);
    expect(d.installView(['n1', 'n2'], 3)).toEqual([]);
    expect(d.pending).toBe(1);
    // The survivors still compare what is left among themselves.
    expect(d.record('n2', 's', 2, 'a', 4)).toEqual([]);
    expect(d.pending).toBe(0);
    expect(d.counters).toMatchObject({ compared: 2, divergentOutputs: 0, undecided: 0 });
  });

  it('after a member leaves, two survivors that differ are undecided (there is no majority of two)', () => {
    const d = new DivergenceDetector(['n1', 'n2', 'n3']);
    d.record('n1', 's', 1, 'a', 1);
    d.record('n2', 's', 1, 'b', 2);
    expect(names(d.installView(['n1', 'n2'], 2))).toEqual(['undecided s#1 a:n1 b:n2']);
  });

  it('a hash sent before its member left still counts', () => {
    const d = new DivergenceDetector(['n1', 'n2', 'n3']);
    d.record('n3', 's', 1, 'b', 1);
    d.installView(['n1', 'n2'], 1);
    d.record('n1', 's', 1, 'a', 2);
    expect(names(d.record('n2', 's', 1, 'a', 3))).toEqual(['diverged n3 s#1 majority=n1,n2']);
  });

  it('a member that joins later is not awaited for comparisons opened before it joined', () => {
    const d = new DivergenceDetector(['n1', 'n2']);
    d.record('n1', 's', 1, 'a', 1);
    d.installView(['n1', 'n2', 'n3'], 1);
    expect(d.record('n2', 's', 1, 'a', 2)).toEqual([]);
    expect(d.pending).toBe(0);
    // New comparisons await it.
    d.record('n1', 's', 2, 'a', 3);
    d.record('n2', 's', 2, 'a', 4);
    expect(d.pending).toBe(1);
    expect(names(d.record('n3', 's', 2, 'z', 5))).toEqual(['diverged n3 s#2 majority=n1,n2']);
  });

  it('ignores a second hash of a member for the same unit', () => {
    const d = new DivergenceDetector(['n1', 'n2', 'n3']);
    d.record('n1', 's', 1, 'a', 1);
    expect(d.record('n1', 's', 1, 'b', 2)).toEqual([]);
    d.record('n2', 's', 1, 'a', 3);
    expect(d.record('n3', 's', 1, 'a', 4)).toEqual([]);
  });

  it('keeps sessions apart and drops the oldest comparison past maxOpen', () => {
    const d = new DivergenceDetector(['n1', 'n2', 'n3'], 2);
    d.record('n1', 's', 1, 'a', 1);
    d.record('n1', 't', 1, 'b', 2);
    d.record('n1', 's', 2, 'c', 3);
    expect(d.pending).toBe(2);
    expect(d.counters.unchecked).toBe(1);
    // s#1 was dropped: n2's and n3's differing hashes for it open a fresh comparison, not a verdict.
    d.record('n2', 's', 1, 'x', 4);
    d.record('n2', 't', 1, 'b', 5);
    expect(d.record('n3', 't', 1, 'b', 6)).toEqual([]);
  });

  // Any arrival order of the hashes and any death of a member that is not needed for the majority:
  // the verdict names the diverged member and only it, at every member alike (same input, same output).
  it('names exactly the diverged member for 500 random arrival orders, deaths and group sizes', () => {
    let x = 12345;
    const rand = (n: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    for (let seed = 0; seed < 500; seed++) {
      const size = 3 + rand(3);
      const members = Array.from({ length: size }, (_, i) => `n${i + 1}`);
      const bad = members[rand(size)]!;
      const healthy = members.filter((m) => m !== bad);
      // Up to (size - 1) / 2 - 1 healthy deaths leave the healthy members a majority of the view.
      const deaths = new Set(healthy.slice(0, rand(Math.max(1, Math.floor((size - 1) / 2)))));
      // Every member's hash in random order, with the view change at a random point; a member
      // that died sends nothing after it (its hash may or may not have been ordered before).
      const events: (string | null)[] = [...members, null];
      for (let i = events.length - 1; i > 0; i--) {
        const j = rand(i + 1);
        [events[i], events[j]] = [events[j]!, events[i]!];
      }
      const viewAt = events.indexOf(null);
      const arrivals = events.filter((m, i): m is string => m !== null && (!deaths.has(m) || i < viewAt));
      const d = new DivergenceDetector(members);
      const verdicts: Verdict[] = [];
      let seq = 0;
      for (const m of events.filter((e, i) => e === null || !deaths.has(e) || i < viewAt)) {
        if (m === null)
          verdicts.push(
            ...d.installView(
              members.filter((y) => !deaths.has(y)),
              seq,
            ),
          );
        else verdicts.push(...d.record(m, 's', 1, m === bad ? 'bad' : 'good', ++seq));
      }
      const context = `seed ${seed}: members ${size}, bad ${bad}, deaths ${[...deaths].join(',')}, arrivals ${arrivals.join(',')}, view at ${viewAt}`;
      expect([context, names(verdicts).map((v) => v.split(' ').slice(0, 3).join(' '))]).toEqual([
        context,
        [`diverged ${bad} s#1`],
      ]);
      expect([context, d.pending]).toEqual([context, 0]);
    }
  });
});

describe('DigestOutbox', () => {
  it('sends the first hash at once and batches what comes while it is in flight, one event per contiguous run', async () => {
    const sent: Digest[] = [];
    const settle: (() => void)[] = [];
    const counters = { hashesSent: 0, digestEvents: 0 };
    const o = new DigestOutbox(
      (e) => {
        sent.push(e);
        return new Promise<void>((r) => settle.push(r));
      },
      3,
      counters,
    );
    const h = (n: number): Uint8Array => new Uint8Array([n]);
    o.add('s', 1, h(1));
    o.add('s', 2, h(2));
    o.add('s', 3, h(3));
    o.add('s', 4, h(4));
    o.add('s', 5, h(5));
    o.add('s', 9, h(9));
    o.add('t', 1, h(7));
    expect(sent.map((e) => `${e.session}:${e.first}+${e.hashes.length}`)).toEqual(['s:1+1', 't:1+1']);
    settle.shift()!();
    await Promise.resolve();
    await Promise.resolve();
    expect(sent.map((e) => `${e.session}:${e.first}+${e.hashes.length}`)).toEqual(['s:1+1', 't:1+1', 's:2+3']);
    settle.shift()!();
    settle.shift()!();
    for (let i = 0; i < 4; i++) await Promise.resolve();
    expect(sent.map((e) => `${e.session}:${e.first}+${e.hashes.length}`)).toEqual(['s:1+1', 't:1+1', 's:2+3', 's:5+1']);
    settle.shift()!();
    for (let i = 0; i < 4; i++) await Promise.resolve();
    expect(sent.at(-1)).toMatchObject({ session: 's', first: 9 });
    expect(counters).toEqual({ hashesSent: 7, digestEvents: 5 });
  });

  it('goes on after a refused broadcast and sends nothing once closed', async () => {
    const sent: Digest[] = [];
    const o = new DigestOutbox(
      (e) => {
        sent.push(e);
        return Promise.reject(new Error('not in a primary view'));
      },
      8,
      { hashesSent: 0, digestEvents: 0 },
    );
    o.add('s', 1, new Uint8Array([1]));
    o.add('s', 2, new Uint8Array([2]));
    for (let i = 0; i < 4; i++) await Promise.resolve();
    expect(sent.map((e) => e.first)).toEqual([1, 2]);
    o.close();
    o.add('s', 3, new Uint8Array([3]));
    expect(sent).toHaveLength(2);
  });
});

describe('digest session event', () => {
  it('round-trips and refuses a bad count or hash size with a message naming it', () => {
    const e: Digest = { type: 'digest', session: 's1', first: 2 ** 33, hashes: [outputHash(new Uint8Array([1]))] };
    expect(decodeSessionEvent(encodeSessionEvent(e))).toEqual(e);
    const empty = encodeSessionEvent({ ...e, hashes: [] });
    expect(() => decodeSessionEvent(empty)).toThrow(MalformedFrameError);
    expect(() => decodeSessionEvent(empty)).toThrow(/digest count must be 1-4096, got 0/);
    const big = encodeSessionEvent({ ...e, hashes: [new Uint8Array(65)] });
    expect(() => decodeSessionEvent(big)).toThrow(/digest hash must be 1-64 bytes, got 65/);
  });

  it('outputHash is the first 16 bytes of SHA-256', () => {
    const bytes = new TextEncoder().encode('a 1\n');
    expect(Buffer.from(outputHash(bytes)).toString('hex')).toBe(
      createHash('sha256')
        .update(bytes)
        .digest('hex')
        .slice(0, 2 * OUTPUT_HASH_BYTES),
    );
  });
});

describe('DivergenceMonitor', () => {
  function monitor(self: string, policy: 'report' | 'evict', unit: 'request' | 'block' = 'request') {
    const logger = new RecordingLogger();
    const audits: AuditEvent[] = [];
    const sent: Digest[] = [];
    const m = new DivergenceMonitor({
      self,
      policy,
      unit,
      streamBlockBytes: 4,
      members: ['n1', 'n2', 'n3'],
      broadcast: async (e) => void sent.push(e),
      logger,
      auditor: { audit: (e) => audits.push(e) },
      appliedIn: () => 8,
    });
    return { m, logger, audits, sent };
  }
  const digest = (first: number, ...hs: string[]): Digest => ({
    type: 'digest',
    session: 's',
    first,
    hashes: hs.map((h) => outputHash(new TextEncoder().encode(h))),
  });

  it('logs each undecided session once and at most a burst per 10 s, with a count of the rest; audit and metric count all', () => {
    const { m, logger, audits } = monitor('n1', 'report');
    const on = (session: string, first: number, h: string): Digest => ({ ...digest(first, h), session });
    for (let i = 0; i < 20; i++)
      for (const [member, h] of [
        ['n1', 'a'],
        ['n2', 'b'],
        ['n3', 'c'],
      ] as const)
        m.deliver(member, on(`s${i}`, 1, h), i * 3 + 1);
    // A second undecided request of a session already reported goes to debug only.
    for (const [member, h] of [
      ['n1', 'a'],
      ['n2', 'b'],
      ['n3', 'c'],
    ] as const)
      m.deliver(member, on('s0', 2, h), 100);
    expect(m.counters.undecided).toBe(21);
    expect(audits.filter((a) => a.type === 'divergence')).toHaveLength(21);
    expect(logger.find('error', 'replicas disagree')).toHaveLength(5);
    m.stop();
    expect(logger.find('error', '… and 15 more in the last 10 s')).toHaveLength(1);
  });

  it('reports a diverged member once per session (error log, audit) and shows it in status', () => {
    const { m, logger, audits } = monitor('n1', 'report');
    m.deliver('n1', digest(7, 'x', 'y'), 1);
    m.deliver('n2', digest(7, 'x', 'y'), 2);
    m.deliver('n3', digest(7, 'X', 'Y'), 3);
    const errors = logger.find('error', 'diverged from the majority');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.fields).toMatchObject({
      diverged: 'n3',
      session: 's',
      inSeq: 7,
      unit: 'request',
      majority: ['n1', 'n2'],
    });
    expect(errors[0]!.msg).toBe('replica n3 diverged from the majority at session s request 7');
    expect(audits).toEqual([
      expect.objectContaining({
        type: 'divergence',
        member: 'n1',
        details: expect.objectContaining({ member: 'n3', inSeq: 7 }),
      }),
    ]);
    const st = m.status();
    expect(st.diverged.map((r) => `${r.member}@${r.session}#${r.inSeq}`)).toEqual(['n3@s#7']);
    expect(st.counters).toMatchObject({ compared: 2, divergentOutputs: 2 });
  });

  it('under evict, resolves evicted at the diverged member only and stops hashing there', async () => {
    const bad = monitor('n3', 'evict');
    const good = monitor('n1', 'evict');
    let goodEvicted = false;
    void good.m.evicted.then(() => (goodEvicted = true));
    for (const x of [bad, good]) {
      x.m.deliver('n1', digest(1, 'a'), 1);
      x.m.deliver('n2', digest(1, 'a'), 2);
      x.m.deliver('n3', digest(1, 'b'), 3);
    }
    await expect(bad.m.evicted).resolves.toMatchObject({ member: 'n3', session: 's', inSeq: 1 });
    expect(bad.logger.find('error', 'leaving the group')).toHaveLength(1);
    bad.m.produced('s', 2, new Uint8Array([1]));
    expect(bad.sent).toHaveLength(0);
    await Promise.resolve();
    expect(goodEvicted).toBe(false);
  });

  it('hashes stream output in fixed blocks, whatever the chunking, and never a partial block', () => {
    const a = monitor('n1', 'report', 'block');
    const b = monitor('n1', 'report', 'block');
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
    a.m.produced('s', undefined, enc('abcdefghij'));
    for (const c of ['ab', 'cde', 'fgh', 'ij']) b.m.produced('s', undefined, enc(c));
    const flat = (sent: Digest[]): string[] =>
      sent.flatMap((e) => e.hashes.map((h, i) => `${e.first + i}:${Buffer.from(h).toString('hex')}`));
    expect(flat(a.sent)).toHaveLength(1);
    expect(flat(a.sent)[0]).toBe(`1:${Buffer.from(outputHash(enc('abcd'))).toString('hex')}`);
    // Either way block 1 (abcd) went out at once and block 2 waits for it to be ordered.
    expect(flat(b.sent)[0]).toBe(flat(a.sent)[0]);
  });
});

describe('DivergenceMonitor at a member that joined mid-session', () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  function monitor(self: string) {
    const sent: Digest[] = [];
    const logger = new RecordingLogger();
    const m = new DivergenceMonitor({
      self,
      policy: 'report',
      unit: 'block',
      streamBlockBytes: 4,
      members: ['n1', 'n2', 'n3'],
      broadcast: async (e) => void sent.push(e),
      logger,
      auditor: { audit: () => undefined },
      appliedIn: () => 0,
    });
    return { m, sent, logger };
  }
  const blocks = (sent: Digest[]): Map<number, string> =>
    new Map(sent.flatMap((e) => e.hashes.map((h, i) => [e.first + i, Buffer.from(h).toString('hex')] as const)));
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };

  it('numbers stream blocks from the session start when it starts hashing mid-stream, and passes over the partial block', async () => {
    const text = 'abcdefghijklmnopqrstuvwx'; // 6 blocks of 4
    const all = monitor('n1');
    let at = 0;
    for (const c of ['abc', 'defgh', 'ijklmno', 'pqrstuvwx']) {
      all.m.produced('s', undefined, enc(c), at);
      at += c.length;
      await settle();
    }
    // A joiner whose state came with the first 6 bytes: it sees output from position 6 on.
    const joiner = monitor('n3');
    joiner.m.produced('s', undefined, enc(text.slice(6, 13)), 6);
    await settle();
    joiner.m.produced('s', undefined, enc(text.slice(13)), 13);
    await settle();
    const full = blocks(all.sent);
    const late = blocks(joiner.sent);
    expect([...full.keys()]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...late.keys()]).toEqual([3, 4, 5, 6]);
    for (const [b, h] of late) expect(h).toBe(full.get(b));
    // Output it never saw (a replay without hashing) in between: it starts again at the new
    // position (30, inside block 8 = 28..31), so its next full block is 9 (32..35).
    joiner.m.produced('s', undefined, enc('yz01'), 30);
    joiner.m.produced('s', undefined, enc('2345'), 34);
    await settle();
    expect([...blocks(joiner.sent).keys()]).toEqual([3, 4, 5, 6, 9]);
    expect(blocks(joiner.sent).get(9)).toBe(Buffer.from(outputHash(enc('0123'))).toString('hex'));
  });

  it('does not open comparisons for responses it installed with a state (hashedFrom), and opens later ones', () => {
    const { m } = monitor('n3');
    m.hashedFrom('s', 10);
    const d = (first: number): Digest => ({
      type: 'digest',
      session: 's',
      first,
      hashes: [outputHash(enc(`r${first}`))],
    });
    m.deliver('n1', d(8), 1);
    m.deliver('n2', d(9), 2);
    expect(m.status().open).toBe(0);
    m.deliver('n1', d(10), 3);
    expect(m.status().open).toBe(1);
    m.deliver('n2', d(10), 4);
    m.produced('s', 10, enc('r10'));
    m.deliver('n3', d(10), 5);
    expect(m.status().open).toBe(0);
    expect(m.status().counters.compared).toBe(1);
    // Hashes ordered after the session closed still open nothing.
    m.closed('s');
    m.deliver('n1', d(2), 6);
    expect(m.status().open).toBe(0);
  });
});
