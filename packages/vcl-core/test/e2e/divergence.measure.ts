import { buildForProcesses, Deployment } from './harness';

// Request latency with divergence detection off and on (not part of the test suite):
//   npm run measure:divergence            (VCL_DIVERGENCE_RUNS=3, VCL_DIVERGENCE_REQUESTS=1000)
// Each run starts 3 members in front of deterministic counters (external mode, real TCP), once
// with `onDivergence: off` and once with `report`, alternating so machine noise hits both alike;
// one client sends requests one at a time (a request goes out when the previous answer is in),
// so the time between answers is the request latency. The first 100 answers are warm-up.

const runs = Number(process.env['VCL_DIVERGENCE_RUNS'] ?? 3);
const requests = Number(process.env['VCL_DIVERGENCE_REQUESTS'] ?? 1000);
const warmup = 100;

jest.setTimeout(120_000 * runs);

beforeAll(() => buildForProcesses(), 240_000);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

it('request latency, onDivergence off vs report', async () => {
  const latencies: Record<'off' | 'report', number[]> = { off: [], report: [] };
  for (let run = 0; run < runs; run++)
    for (const policy of ['off', 'report'] as const) {
      const d = new Deployment({ mode: 'external', members: 3, onDivergence: policy, lowPorts: true });
      try {
        await d.start();
        const load = d.loadClient('m', 1, requests, 1);
        await load.waitFor((l) => l === 'DONE', 100_000, 'all responses');
        const times = load.lines
          .map((l, i) => (l.startsWith('R ') ? load.times[i]! : NaN))
          .filter((t) => !Number.isNaN(t));
        for (let i = warmup + 1; i < times.length; i++) latencies[policy].push(times[i]! - times[i - 1]!);
      } finally {
        await d.stop();
      }
    }
  const line = (p: 'off' | 'report'): string => {
    const xs = latencies[p];
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    return `${p.padEnd(6)} mean ${mean.toFixed(3)} ms, p50 ${pct(xs, 50).toFixed(3)} ms, p99 ${pct(xs, 99).toFixed(3)} ms (n=${xs.length})`;
  };
  const mean = (p: 'off' | 'report'): number => latencies[p].reduce((a, b) => a + b, 0) / latencies[p].length;
  console.log(
    `request latency, 3 members, 1 request in flight, ${runs} run(s) each:\n  ${line('off')}\n  ${line('report')}\n  overhead of detection: ${(mean('report') - mean('off')).toFixed(3)} ms per request (${(((mean('report') - mean('off')) / mean('off')) * 100).toFixed(1)} %)`,
  );
  expect(latencies.off.length).toBe(runs * (requests - warmup - 1));
  expect(latencies.report.length).toBe(runs * (requests - warmup - 1));
});
