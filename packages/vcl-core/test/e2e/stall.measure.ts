import { buildForProcesses, Deployment } from './harness';
import { stallAfter } from './stall';

// The client-visible stall at fail-over, measured over several runs (not part of the test suite):
//   VCL_STALL_RUNS=10 npx jest -c packages/vcl-core/jest.config.cjs --testMatch '**/test/e2e/stall.measure.ts'
// Each run: 3 replicas (external mode), one client streaming requests with 4 in flight; the
// member its session is attached to is killed (SIGKILL) or frozen (SIGSTOP) after 60 responses.

const runs = Number(process.env['VCL_STALL_RUNS'] ?? 10);
const signals = (process.env['VCL_STALL_SIGNALS'] ?? 'SIGKILL,SIGSTOP').split(',') as ('SIGKILL' | 'SIGSTOP')[];

jest.setTimeout(60_000 * runs * signals.length);

beforeAll(() => buildForProcesses(), 240_000);

function summary(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return `median ${median.toFixed(0)} ms, max ${s.at(-1)!.toFixed(0)} ms, min ${s[0]!.toFixed(0)} ms (n=${s.length}: ${s.map((x) => x.toFixed(0)).join(' ')})`;
}

it.each(signals)('client-visible stall at fail-over after %s', async (signal) => {
  const stalls: number[] = [];
  for (let run = 0; run < runs; run++) {
    const d = new Deployment({ mode: 'external', members: 3 });
    try {
      await d.start();
      const load = d.loadClient('m', 1, 200, 4);
      await load.waitFor((l) => l.startsWith('R m0 m0:60 '), 30_000, 'response 60');
      const victim = await d.attachedMember();
      const failedAt = performance.now();
      d.fail(victim, signal);
      await load.waitFor((l) => l === 'DONE', 60_000, 'all responses');
      stalls.push(stallAfter(load, failedAt));
    } finally {
      await d.stop();
    }
  }
  console.log(`${signal}: ${summary(stalls)}`);
  expect(stalls).toHaveLength(runs);
});
