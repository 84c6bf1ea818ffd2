import { buildForProcesses, Deployment, logLine, responses, type Proc } from './harness';
import { stallAfter } from './stall';

// End to end with real processes on loopback: replicas of a deterministic counter behind
// `vcl service` (external mode) or with the interceptor linked in (internal mode), clients behind
// `vcl client` or the linked-in client-side interceptor, the sequencer and TcpNetwork between the
// members. Members are killed (SIGKILL) or frozen (SIGSTOP) in the middle of request streams.

jest.setTimeout(90_000);

beforeAll(() => buildForProcesses(), 240_000);

/** The tags and running totals one session must see: requests 1..n adding 1..n. */
function expected(session: string, n: number): [string, number][] {
  return Array.from({ length: n }, (_, i) => [`${session}:${i + 1}`, ((i + 1) * (i + 2)) / 2]);
}

/** Fail-overs the client side reported: `vcl client` log lines, or the internal client's `F` lines. */
function failovers(d: Deployment, load: Proc): { durationMs: number; resent: number }[] {
  if (d.options.mode === 'internal')
    return load.lines
      .filter((l) => l.startsWith('F '))
      .map((l) => JSON.parse(l.slice(2)) as { durationMs: number; resent: number });
  return d
    .client!.lines.map(logLine)
    .filter((f) => f?.['msg'] === 'fail-over complete')
    .map((f) => ({ durationMs: f!['durationMs'] as number, resent: f!['resent'] as number }));
}

/**
 * Digests of the members still running, once they have all applied `count` requests (a replica
 * that is not the client's may still be working through the last ones when the client is done).
 */
async function survivorDigests(d: Deployment, failed: readonly string[], count: number): Promise<string[]> {
  const live = d.members.filter((m) => !failed.includes(m.id));
  const deadline = performance.now() + 10_000;
  for (;;) {
    const digests = await Promise.all(live.map((m) => d.digest(m)));
    if (digests.every((x) => Number(x.split(':')[1]) >= count) || performance.now() > deadline) return digests;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(['external', 'internal'] as const)('%s mode, 3 replicas', (mode) => {
  let d: Deployment;

  beforeEach(async () => {
    d = new Deployment({ mode, members: 3 });
    await d.start();
  });

  afterEach(async () => {
    await d.stop();
  });

  it('the member a client is attached to is killed (SIGKILL) mid-stream: the client connection stays up and sees every response exactly once, in order', async () => {
    const n = 200;
    const load = d.loadClient('a', 1, n, 4);
    await load.waitFor((l) => l.startsWith('R a0 a0:60 '), 30_000, 'response 60');
    const victim = await d.attachedMember();
    const failedAt = performance.now();
    d.fail(victim, 'SIGKILL');
    await load.waitFor((l) => l === 'DONE', 60_000, 'all responses');
    expect(load.lines.filter((l) => l.startsWith('E '))).toEqual([]);
    expect(responses(load, 'a0')).toEqual(expected('a0', n));
    console.log(`${mode} SIGKILL: client-visible stall ${stallAfter(load, failedAt).toFixed(0)} ms`);
    expect(failovers(d, load)).toHaveLength(1);
    const digests = await survivorDigests(d, [victim.id], n);
    expect(new Set(digests).size).toBe(1);
    expect(digests[0]).toMatch(new RegExp(`^${(n * (n + 1)) / 2}:${n}:0:`));
  });

  it('the member a client is attached to is frozen (SIGSTOP) mid-stream: requests sent to it and never ordered are resent and applied exactly once, every response arrives once, in order', async () => {
    // The client sends a request every 5 ms whatever the responses (400 take it 2 s), so it keeps
    // sending to the frozen member: those requests reach it but are never ordered, and the
    // client-side interceptor must resend them through another member.
    const n = 400;
    const load = d.loadClient('b', 1, n, 0, 5);
    await load.waitFor((l) => l.startsWith('R b0 b0:20 '), 30_000, 'response 20');
    const victim = await d.attachedMember();
    const failedAt = performance.now();
    d.fail(victim, 'SIGSTOP');
    await load.waitFor((l) => l === 'DONE', 60_000, 'all responses');
    expect(load.lines.filter((l) => l.startsWith('E '))).toEqual([]);
    expect(responses(load, 'b0')).toEqual(expected('b0', n));
    console.log(`${mode} SIGSTOP: client-visible stall ${stallAfter(load, failedAt).toFixed(0)} ms`);
    const f = failovers(d, load);
    expect(f).toHaveLength(1);
    expect(f[0]!.resent).toBeGreaterThanOrEqual(1);
    const digests = await survivorDigests(d, [victim.id], n);
    expect(new Set(digests).size).toBe(1);
    // Every request applied once: n requests, no duplicate tag, the total they imply.
    expect(digests[0]).toMatch(new RegExp(`^${(n * (n + 1)) / 2}:${n}:0:`));
  });
});

describe('external mode, 3 replicas: a failed service is a failed replica', () => {
  it('the service behind the member a client is attached to is killed (SIGKILL) mid-stream: that member leaves the group (exit 4), the client sees every response once, in order, no error, and the survivors agree', async () => {
    const d = new Deployment({ mode: 'external', members: 3 });
    await d.start();
    try {
      const n = 200;
      const load = d.loadClient('k', 1, n, 4);
      await load.waitFor((l) => l.startsWith('R k0 k0:50 '), 30_000, 'response 50');
      const victim = await d.attachedMember();
      victim.service!.signal('SIGKILL'); // the service only: its member lives on
      await load.waitFor((l) => l === 'DONE', 60_000, 'all responses');
      expect(load.lines.filter((l) => l.startsWith('E '))).toEqual([]);
      expect(responses(load, 'k0')).toEqual(expected('k0', n));
      expect(await victim.proc!.exited).toBe('4');
      expect(
        victim.proc!.lines.some((l) => logLine(l)?.['msg'] === 'service failed: this replica leaves the group'),
      ).toBe(true);
      const digests = await survivorDigests(d, [victim.id], n);
      expect(digests).toHaveLength(2);
      expect(new Set(digests).size).toBe(1);
      expect(digests[0]).toMatch(new RegExp(`^${(n * (n + 1)) / 2}:${n}:0:`));
    } finally {
      await d.stop();
    }
  });
});

describe('external mode, 5 replicas, 20 concurrent clients', () => {
  it('survives two successive member failures with identical replica states equal to what the requests imply', async () => {
    const d = new Deployment({ mode: 'external', members: 5 });
    await d.start();
    try {
      const n = 30;
      const loads = [0, 1].map((i) => d.loadClient(`c${i}-`, 10, n, 2));
      await loads[0]!.waitFor((l) => l.startsWith('R c0-0 c0-0:8 '), 30_000, 'response 8');
      const first = await d.busiestMember();
      d.fail(first, 'SIGKILL');
      await loads[0]!.waitFor((l) => l.startsWith('R c0-0 c0-0:18 '), 30_000, 'response 18');
      const second = await d.busiestMember([first.id]);
      d.fail(second, 'SIGSTOP');
      for (const load of loads) await load.waitFor((l) => l === 'DONE', 60_000, 'all responses');
      for (const [i, load] of loads.entries()) {
        expect(load.lines.filter((l) => l.startsWith('E '))).toEqual([]);
        for (let s = 0; s < 10; s++) {
          const r = responses(load, `c${i}-${s}`);
          expect(r.map(([tag]) => tag)).toEqual(expected(`c${i}-${s}`, n).map(([tag]) => tag));
        }
      }
      const digests = await survivorDigests(d, [first.id, second.id], 20 * n);
      expect(digests).toHaveLength(3);
      expect(new Set(digests).size).toBe(1);
      const clients = 20;
      expect(digests[0]).toMatch(new RegExp(`^${(clients * n * (n + 1)) / 2}:${clients * n}:0:`));
    } finally {
      await d.stop();
    }
  });
});
