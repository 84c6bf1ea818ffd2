import * as path from 'node:path';
import { buildForProcesses, Deployment, spawnNode } from './harness';

// Throughput of ten clients that read, alone and next to one client that never reads (not part of
// the test suite):  npm run measure:slow-consumer
// One deployment (3 replicas, external mode); rounds alternate between the two phases so machine
// load hits both alike. Each phase: ten sessions of `VCL_SLOW_REQUESTS` requests, 4 in flight; the
// slow client sends 24 MB of requests whose answers it never reads, and is closed for overflow.

const rounds = Number(process.env['VCL_SLOW_ROUNDS'] ?? 3);
const requests = Number(process.env['VCL_SLOW_REQUESTS'] ?? 400);

jest.setTimeout(400_000 * rounds);

beforeAll(() => buildForProcesses(), 240_000);

it('ten clients alone vs next to one client that never reads', async () => {
  const d = new Deployment({ mode: 'external', members: 3 });
  await d.start();
  const rate: Record<'alone' | 'slow', number[]> = { alone: [], slow: [] };
  try {
    for (let round = 0; round < rounds; round++)
      for (const phase of ['alone', 'slow'] as const) {
        const slow =
          phase === 'slow'
            ? spawnNode(`slow-${round}`, [
                path.join(__dirname, 'fixtures', 'slow-client.cjs'),
                String(d.clientPort),
                '100000', // it keeps sending until its connection is closed on it (a paused socket
                '16000', // notices the close only when it writes)
              ])
            : undefined;
        if (slow) d.procs.push(slow);
        const t0 = performance.now();
        const load = d.loadClient(`${phase}${round}-`, 10, requests, 4);
        await load.waitFor((l) => l === 'DONE', 120_000, 'all responses');
        rate[phase].push((10 * requests) / ((performance.now() - t0) / 1000));
        if (load.lines.some((l) => l.startsWith('E '))) throw new Error(`errors: ${load.lines.join('\n')}`);
        if (slow)
          await slow
            .waitFor((l) => l.startsWith('CLOSED'), 180_000, 'the slow client closed')
            .catch((e: unknown) => {
              for (const m of d.members)
                console.log(
                  m.id,
                  m.proc!.lines.filter((l) => /over its bound|broadcast failed|overflow/.test(l)).slice(-5),
                );
              throw e;
            });
      }
  } finally {
    await d.stop();
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(' ');
  console.log(
    `ten clients alone: ${fmt(rate.alone)} req/s; next to a client that never reads: ${fmt(rate.slow)} req/s; ` +
      `ratio ${(mean(rate.slow) / mean(rate.alone)).toFixed(2)}`,
  );
  expect(rate.slow).toHaveLength(rounds);
});
