import * as path from 'node:path';
import { buildForProcesses, Deployment, httpGet, logLine, responses, spawnNode } from './harness';

// One client that never reads next to ten that do, with real processes: the slow one's session is
// closed for overflow at one point of the total order, the others finish with every response, and
// the replicas agree. (Throughput with and without it: slow-consumer.measure.ts.)

jest.setTimeout(120_000);

beforeAll(() => buildForProcesses(), 240_000);

it('a client that never reads is closed for overflow; ten others get every response; the replicas agree', async () => {
  const d = new Deployment({ mode: 'external', members: 3 });
  await d.start();
  try {
    const slow = spawnNode('slow-client', [
      path.join(__dirname, 'fixtures', 'slow-client.cjs'),
      String(d.clientPort),
      // It keeps sending 16 KB requests whose answers it never reads until its connection is closed
      // on it (a paused socket notices the close only when it writes): more output than the
      // kernel's loopback buffers hold, so the client-side interceptor stops acknowledging.
      '100000',
      '16000',
    ]);
    d.procs.push(slow);
    const load = d.loadClient('o', 10, 300, 4);
    await load.waitFor((l) => l === 'DONE', 90_000, 'all responses');
    await slow.waitFor((l) => l.startsWith('CLOSED'), 60_000, 'its connection closed on it');
    expect(load.lines.filter((l) => l.startsWith('E '))).toEqual([]);
    for (let s = 0; s < 10; s++) expect(responses(load, `o${s}`)).toHaveLength(300);
    const overflowLogs = d.client!.lines.map(logLine).filter((f) => f?.['code'] === 'VCL_SESSION_OVERFLOW');
    expect(overflowLogs.length).toBeGreaterThanOrEqual(1);
    // Every replica applied the same requests in the same order, the slow session's up to the one
    // point where the group closed it.
    const deadline = performance.now() + 15_000;
    let digests: string[] = [];
    for (;;) {
      digests = await Promise.all(d.members.map((m) => d.digest(m)));
      if (new Set(digests).size === 1 || performance.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(new Set(digests).size).toBe(1);
    const metrics = await Promise.all(d.members.map((m) => httpGet(m.adminPort, '/metrics')));
    for (const text of metrics) expect(text).toMatch(/vcl_sessions_overflowed_total 1\b/);
  } finally {
    await d.stop();
  }
});
