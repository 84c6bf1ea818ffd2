import { buildForProcesses, Deployment, httpGet } from './harness';

// Request latency with and without state digests (not part of the test suite):
//   npm run measure:state-digest     (VCL_STATE_DIGEST_RUNS=1, VCL_STATE_DIGEST_REQUESTS=2100)
// 3 members on loopback (sequencer, line-framed TCP), one client sending one request at a time,
// `onDivergence: report` throughout. Internal mode: the program's callback returns the counter's
// digest; external mode: `service.stateDigest.command` is a node script that asks the service over
// TCP. For each mode: no state digest, every 100 and every 1000 requests, alternating so machine
// noise hits all alike. The first 100 answers are warm-up.

const runs = Number(process.env['VCL_STATE_DIGEST_RUNS'] ?? 1);
const requests = Number(process.env['VCL_STATE_DIGEST_REQUESTS'] ?? 2100);
const warmup = 100;

jest.setTimeout(600_000 * runs);

beforeAll(() => buildForProcesses(), 240_000);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

type Config = { mode: 'internal' | 'external'; every?: number };

it('request latency, state digest off vs every 100 vs every 1000, internal callback and external command', async () => {
  const configs: Config[] = [
    { mode: 'internal' },
    { mode: 'internal', every: 100 },
    { mode: 'internal', every: 1000 },
    { mode: 'external' },
    { mode: 'external', every: 100 },
    { mode: 'external', every: 1000 },
  ];
  const name = (c: Config): string => `${c.mode} ${c.every ? `every ${c.every}` : 'no state digest'}`;
  const latencies = new Map<string, number[]>(configs.map((c) => [name(c), []]));
  // Per member and run: digests taken, and the milliseconds requests were held for them.
  const held = new Map<string, [number, number][]>(configs.map((c) => [name(c), []]));
  for (let run = 0; run < runs; run++)
    for (const c of configs) {
      const d = new Deployment({
        mode: c.mode,
        members: 3,
        onDivergence: 'report',
        lowPorts: true,
        ...(c.mode === 'external' ? { serviceScript: 'hidden-state-counter-server.cjs' } : {}),
        ...(c.every
          ? { stateDigest: { every: c.every, ...(c.mode === 'external' ? { script: 'state-digest-cmd.cjs' } : {}) } }
          : {}),
      });
      try {
        await d.start();
        const load = d.loadClient('m', 1, requests, 1);
        await load.waitFor((l) => l === 'DONE', 500_000, 'all responses');
        const times = load.lines
          .map((l, i) => (l.startsWith('R ') ? load.times[i]! : NaN))
          .filter((t) => !Number.isNaN(t));
        const xs = latencies.get(name(c))!;
        for (let i = warmup + 1; i < times.length; i++) xs.push(times[i]! - times[i - 1]!);
        if (c.every) {
          // The last digest may still be running when the last answer arrived.
          await new Promise((r) => setTimeout(r, 1000));
          for (const m of d.members) {
            const st = JSON.parse(await httpGet(m.adminPort, '/status')) as {
              divergence: { counters: { stateDigests: number; stateDigestHeldMs: number } };
            };
            held.get(name(c))!.push([st.divergence.counters.stateDigests, st.divergence.counters.stateDigestHeldMs]);
          }
        }
      } finally {
        await d.stop();
      }
    }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const lines = configs.map((c) => {
    const xs = latencies.get(name(c))!;
    const h = held.get(name(c))!;
    const digests = h.reduce((n, [k]) => n + k, 0);
    const heldMs = h.reduce((n, [, ms]) => n + ms, 0);
    const pause = digests
      ? `, held ${(heldMs / digests).toFixed(1)} ms per digest (${digests} digests over the members)`
      : '';
    return `${name(c).padEnd(28)} mean ${mean(xs).toFixed(3)} ms, p50 ${pct(xs, 50).toFixed(3)} ms, p99 ${pct(xs, 99).toFixed(3)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})${pause}`;
  });
  console.log(`request latency, 3 members, 1 request in flight, ${runs} run(s) each:\n  ${lines.join('\n  ')}`);
  for (const c of configs) expect(latencies.get(name(c))!.length).toBe(runs * (requests - warmup - 1));
});
