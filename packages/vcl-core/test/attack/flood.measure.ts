import * as path from 'node:path';
import { Deployment, httpGet, logLine } from '../e2e/harness';
import { announce, attack, lineClient, percentile, rssMiB } from './attacks';

// The floods of issue #19, measured side by side on two builds (not part of the test suite):
//   VCL_BASE_CLI=/path/to/old/packages/vcl-core/dist/cli/main.js \
//     npx jest -c packages/vcl-core/jest.config.cjs --testMatch '**/test/attack/flood.measure.ts'
// Per build: a good client's latency (200 sequential requests) quiet and under a 6-connection
// flood (each announcing a 16 MiB frame before any OPEN and sending 15 MiB of it) at the member
// it is attached to; then the attacked member's peak RSS and the group's views under 8, 24 and
// 40 such connections.

jest.setTimeout(600_000);

const builds: [string, string | undefined][] = [
  ['this build', undefined],
  ...(process.env['VCL_BASE_CLI'] ? [['base build', process.env['VCL_BASE_CLI']] as [string, string]] : []),
];

async function latencies(port: number, n: number, tag: string): Promise<number[]> {
  const c = await lineClient(port);
  const xs: number[] = [];
  for (let i = 1; i <= n; i++) xs.push((await c.ask(`${tag}:${i} 1`))[1]);
  c.close();
  return xs;
}

/** `conns` connections each announcing 16 MiB and sending 15 MiB; resolves when all are closed or after 8 s. */
function flood(port: number, conns: number): Promise<unknown> {
  return Promise.all(
    Array.from({ length: conns }, () =>
      attack(
        port,
        (s) => {
          s.write(announce(16 * 1024 * 1024));
          const chunk = Buffer.alloc(1024 * 1024);
          for (let i = 0; i < 15; i++) s.write(chunk);
        },
        8000,
      ),
    ),
  );
}

function views(d: Deployment): string {
  return d.members
    .map((m) => {
      const installed = m.proc!.lines.map(logLine).filter((f) => f?.['msg'] === 'view installed');
      const smallest = Math.min(...installed.map((f) => (f!['members'] as unknown[]).length));
      return `${m.id}: ${installed.length} views, smallest ${smallest}${m.proc!.dead ? ', EXITED' : ''}`;
    })
    .join('; ');
}

it.each(builds)('floods of issue #19 (%s)', async (label, cli) => {
  const d = new Deployment({ mode: 'external', members: 3, ...(cli ? { cli } : {}) });
  try {
    await d.start();
    await latencies(d.clientPort, 20, 'warm');
    const quiet = await latencies(d.clientPort, 200, 'quiet');
    // The member the good client's session will be attached to: every session goes to one member at
    // random; flood them all alike instead.
    const during = latencies(d.clientPort, 200, 'flood');
    const attacks = Promise.all(d.members.map((m) => flood(m.clientPort, 2)));
    const loaded = await during;
    await attacks;
    const lines = [
      `${label}: good client p50/p99 quiet ${percentile(quiet, 50).toFixed(1)}/${percentile(quiet, 99).toFixed(1)} ms, ` +
        `under a 6-connection flood ${percentile(loaded, 50).toFixed(1)}/${percentile(loaded, 99).toFixed(1)} ms ` +
        `(p99 ratio ${(percentile(loaded, 99) / percentile(quiet, 99)).toFixed(2)})`,
    ];
    for (const conns of [8, 24, 40]) {
      const victim = d.members[0]!;
      if (victim.proc!.dead) break;
      const pid = victim.proc!.child.pid!;
      let peak = rssMiB(pid);
      const sampler = setInterval(() => {
        try {
          peak = Math.max(peak, rssMiB(pid));
        } catch {
          // exited
        }
      }, 50);
      await flood(victim.clientPort, conns);
      await new Promise((r) => setTimeout(r, 1500));
      clearInterval(sampler);
      let after = NaN;
      try {
        after = rssMiB(pid);
      } catch {
        // exited
      }
      let status = 'unreachable';
      try {
        const s = JSON.parse(await httpGet(victim.adminPort, '/status')) as { view?: { members: string[] } };
        status = `view of ${s.view?.members.length ?? 0}`;
      } catch {
        // down
      }
      lines.push(
        `${label}: ${conns} x 16 MiB: n1 RSS peak ${peak.toFixed(0)} MiB, after ${after.toFixed(0)} MiB, ${status}`,
      );
    }
    lines.push(`${label}: views: ${views(d)}`);
    console.log(lines.join('\n'));
  } finally {
    await d.stop();
  }
});

export const measured = path.basename(__filename);
