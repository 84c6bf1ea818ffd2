import { Group, lowPorts, Rig } from './dependent-harness';
import { askLine } from './harness';
import { buildForProcesses, httpGet, logLine, responses, type Proc } from './harness';
import { stallAfter } from './stall';

// Dependent services end to end, real processes on loopback: a replicated service A (3 members,
// `vcl service` + a line service that calls a dependency for every request) whose calls go
// through its members' outbound listeners to (1) a replicated counter B (3 members) or (2) a
// plain, slow, non-replicated counter. The client-side interceptor of A is given n1 only, so the
// client starts at the member that also calls the dependency (the lowest id), and killing "the
// member the client uses" also kills the caller.

jest.setTimeout(60_000);

beforeAll(() => buildForProcesses(), 240_000);

/** Responses a session must see when every call adds i to a counter that starts at 0, once each. */
function expected(session: string, n: number): [string, number][] {
  return Array.from({ length: n }, (_, i) => [`${session}:${i + 1}`, ((i + 1) * (i + 2)) / 2]);
}

/** The longest wait for a response from `from` on, counting responses before `to` only. */
function stallBetween(load: Proc, from: number, to: number): number {
  const times = [from, ...load.times.filter((t, i) => t > from && t < to && load.lines[i]!.startsWith('R '))];
  let worst = 0;
  for (let i = 1; i < times.length; i++) worst = Math.max(worst, times[i]! - times[i - 1]!);
  return worst;
}

/** Replica answers of the members still running, once they have all made `calls` calls. */
async function digests(g: Group, live: readonly string[], calls: number): Promise<string[]> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const d = await Promise.all(g.members.filter((m) => live.includes(m.id)).map((m) => g.ask(m, '?digest')));
    if (d.every((x) => Number(x.split(':')[0]) >= calls) || performance.now() > deadline) return d;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('A (3 replicas) calls a replicated B (3 replicas)', () => {
  let rig: Rig;
  afterEach(async () => rig.stop());

  it("kill A's member the client uses (the caller), then B's member A calls through: every call applied once at B, the client sees every answer once", async () => {
    rig = new Rig();
    const ports = await lowPorts(32);
    const a = new Group('a', ports.slice(0, 15));
    const b = new Group('b', ports.slice(15, 30));
    const bStack = rig.file('b.yaml', b.yaml(ports[30]!));
    const memberListen = a.members.map((m) => `${m.id}: { host: 127.0.0.1, port: ${m.outboundPort} }`).join(', ');
    const aStack = rig.file(
      'a.yaml',
      a.yaml(
        ports[31]!,
        `dependencies:
  - name: b
    mode: replicated
    stack: b.yaml
    memberListen: { ${memberListen} }
`,
      ),
    );
    const aClientStack = rig.file('a-client.yaml', a.yaml(ports[31]!, '', 'n1'));
    // A's members reach B only once A's replicas call, so the two groups start side by side.
    await Promise.all([
      rig.startGroup(b, bStack, (m) => ['counter-server.cjs', [m.servicePort]]),
      rig.startGroup(a, aStack, (m) => ['dependent-service.cjs', [m.servicePort, m.outboundPort]]),
      rig.startClient('a-client', aClientStack),
    ]);

    const n = 60;
    const load = rig.load('r', ports[31]!, n);
    await load.waitFor((l) => l.startsWith('R r0 r0:15 '), 30_000, 'response 15');
    const session = (await a.sessions())[0]!;
    expect(session.attached).toBe('n1');
    const aKilledAt = performance.now();
    a.kill(a.members[0]!);
    await load.waitFor((l) => l.startsWith('R r0 r0:30 '), 30_000, 'response 30');
    // The member of B that A's (new) caller is attached to, per B's replicated session table.
    const dep = (await b.sessions()).find((s) => s.id === 'vcl-dep:a:b:1');
    expect(dep).toBeDefined();
    const bVictim = b.members.find((m) => m.id === dep!.attached)!;
    const bKilledAt = performance.now();
    b.kill(bVictim);
    await load.waitFor((l) => l === 'DONE', 30_000, 'all responses');
    // Stalls measured from each kill up to the next kill (the second from its kill on).
    const aStall = stallBetween(load, aKilledAt, bKilledAt);
    console.log(
      `replicated B: client-visible stall after killing A's caller ${aStall.toFixed(0)} ms, after killing B's member ${stallAfter(load, bKilledAt).toFixed(0)} ms`,
    );

    expect(load.lines.filter((l) => l.startsWith('E '))).toEqual([]);
    expect(responses(load, 'r0')).toEqual(expected('r0', n));
    // B: the surviving replicas applied each of A's calls exactly once, in the same order.
    const bLive = b.members.filter((m) => m !== bVictim);
    const bDigests = await Promise.all(bLive.map((m) => b.ask(m, '?digest')));
    expect(new Set(bDigests).size).toBe(1);
    expect(bDigests[0]).toMatch(new RegExp(`^${(n * (n + 1)) / 2}:${n}:0:`));
    // A: the surviving replicas made n calls and read the same answers.
    const aDigests = await digests(a, ['n2', 'n3'], n);
    expect(new Set(aDigests).size).toBe(1);
    expect(aDigests[0]).toMatch(new RegExp(`^${n}:`));
    // How B saw the take-overs: copies it dropped (first ordered copy wins) and sessions re-attached.
    const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    const metrics = await Promise.all(bLive.map((m) => httpGet(m.adminPort, '/metrics')));
    console.log(
      `B after the kills: duplicates dropped ${metrics.map((t) => metric(t, 'vcl_duplicates_dropped_total')).join('/')}, ` +
        `fail-overs served ${metrics.map((t) => metric(t, 'vcl_failovers_served_total')).join('/')}`,
    );
    const takeovers = a.members
      .slice(1)
      .flatMap((m) => m.proc!.lines.map(logLine).filter((f) => f?.['msg'] === 'this member calls dependencies'));
    expect(takeovers).toHaveLength(1);
  });
});

describe('A (3 replicas) calls a plain, non-replicated counter (exclusive)', () => {
  let rig: Rig;
  afterEach(async () => rig.stop());

  /** Runs A against the slow counter and kills the caller once the counter applied call `at`. */
  async function run(idempotent: boolean, n: number, at: number) {
    rig = new Rig();
    const ports = await lowPorts(17);
    const a = new Group('a', ports.slice(0, 15));
    const counterPort = ports[15]!;
    const memberListen = a.members.map((m) => `${m.id}: { host: 127.0.0.1, port: ${m.outboundPort} }`).join(', ');
    const aStack = rig.file(
      'a.yaml',
      a.yaml(
        ports[16]!,
        `dependencies:
  - name: counter
    mode: exclusive
    target: { host: 127.0.0.1, port: ${counterPort} }
    idempotent: ${idempotent}
    failureResponse: "ERR dependency call failed\\n"
    memberListen: { ${memberListen} }
`,
      ),
    );
    const aClientStack = rig.file('a-client.yaml', a.yaml(ports[16]!, '', 'n1'));
    const counter = rig.fixture('plain-counter', 'slow-counter-server.cjs', [counterPort, 400]);
    await counter.waitFor((l) => l === 'listening', 10_000, 'listening');
    await Promise.all([
      rig.startGroup(a, aStack, (m) => ['dependent-service.cjs', [m.servicePort, m.outboundPort]]),
      rig.startClient('a-client', aClientStack),
    ]);
    const load = rig.load('x', ports[16]!, n);
    // Mid-call: the counter has applied call `at` and holds its answer for 400 ms.
    await counter.waitFor((l) => l === `applied x0:${at}`, 30_000, `call ${at} applied`);
    const killedAt = performance.now();
    a.kill(a.members[0]!);
    await load.waitFor((l) => l === 'DONE', 30_000, 'all responses');
    console.log(
      `exclusive, idempotent ${idempotent}: client-visible stall after killing the caller mid-call ${stallAfter(load, killedAt).toFixed(0)} ms (counter answers after 400 ms)`,
    );
    expect(load.lines.filter((l) => l.startsWith('E '))).toEqual([]);
    const counterDigest = await askLine(counterPort, '?digest');
    const aDigests = await digests(a, ['n2', 'n3'], n);
    expect(new Set(aDigests).size).toBe(1);
    return { load, counter, counterDigest };
  }

  it('not idempotent: the caller is killed mid-call; the call is reported failed to the client, never repeated; every other call lands once', async () => {
    const n = 12;
    const at = 5;
    const { load, counter, counterDigest } = await run(false, n, at);
    const got = load.lines.filter((l) => l.startsWith('R x0 ')).map((l) => l.slice('R x0 '.length));
    const want = expected('x0', n).map(([tag, total]) => `${tag} ${total}`);
    want[at - 1] = 'ERR dependency call failed';
    expect(got).toEqual(want);
    expect(counter.lines.filter((l) => l === `applied x0:${at}`)).toHaveLength(1);
    // Every call applied exactly once (the failed one too: it reached the counter before the kill).
    expect(counterDigest).toMatch(new RegExp(`^${(n * (n + 1)) / 2}:${n}:0:`));
  });

  it('idempotent: the caller is killed mid-call; the next member repeats the call and the client gets a normal answer', async () => {
    const n = 12;
    const at = 5;
    const { load, counter, counterDigest } = await run(true, n, at);
    // The interrupted call was applied twice (that is what idempotent: true allows); totals after it carry it twice.
    const want = expected('x0', n).map(([tag, total], i): [string, number] => [tag, i + 1 >= at ? total + at : total]);
    expect(responses(load, 'x0')).toEqual(want);
    expect(counter.lines.filter((l) => l === `applied x0:${at}`)).toHaveLength(2);
    expect(counterDigest).toMatch(new RegExp(`^${(n * (n + 1)) / 2 + at}:${n + 1}:1:`));
  });
});
