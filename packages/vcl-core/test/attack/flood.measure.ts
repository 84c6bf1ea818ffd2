import * as net from 'node:net';
import * as path from 'node:path';
import { buildForProcesses, Deployment, httpGet, logLine } from '../e2e/harness';
import { announce, attack, lineClient, percentile, rssMiB } from './attacks';

// The floods of issue #19, measured side by side on two builds (not part of the test suite):
//   VCL_BASE_CLI=/path/to/old/packages/vcl-core/dist/cli/main.js \
//     npx jest -c packages/vcl-core/jest.config.cjs --testMatch '**/test/attack/flood.measure.ts'
// Per build: a good client's latency (200 sequential requests) quiet and under a 6-connection
// flood (each announcing a 16 MiB frame before any OPEN and sending 15 MiB of it) at the member
// it is attached to; then the attacked member's peak RSS and the group's views under 8, 24 and
// 40 such connections.

jest.setTimeout(600_000);

beforeAll(() => buildForProcesses(), 240_000);

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

/** Per member: views installed after its first full view, and the smallest of them (a member left?). */
function views(d: Deployment): string {
  return d.members
    .map((m) => {
      const installed = m
        .proc!.lines.map(logLine)
        .filter((f) => f?.['msg'] === 'view installed')
        .map((f) => (f!['members'] as unknown[]).length);
      const after = installed.slice(installed.indexOf(3) + 1);
      return `${m.id}: ${after.length} view changes after the full view${after.length ? `, smallest ${Math.min(...after)}` : ''}${m.proc!.dead ? ', EXITED' : ''}`;
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
    for (const m of d.members)
      if (m.proc!.dead) lines.push(`${label}: ${m.id} exited: ${m.proc!.errors} ${m.proc!.lines.slice(-5).join('\n')}`);
    console.log(lines.join('\n'));
  } finally {
    await d.stop();
  }
});

it.each(builds)('vcl client memory per idle connection (%s)', async (label, cli) => {
  const d = new Deployment({ mode: 'external', members: 3, ...(cli ? { cli } : {}) });
  const sockets: net.Socket[] = [];
  try {
    await d.start();
    const pid = d.client!.child.pid!;
    await latencies(d.clientPort, 20, 'warm');
    const n = 300;
    const before = rssMiB(pid);
    for (let i = 0; i < n; i++) {
      const s = net.connect(d.clientPort, '127.0.0.1');
      s.on('error', () => undefined);
      sockets.push(s);
    }
    await new Promise((r) => setTimeout(r, 3000));
    const after = rssMiB(pid);
    // Every idle connection is a session at the group (it was not refused).
    const status = JSON.parse(await httpGet(d.members[0]!.adminPort, '/status')) as { sessions: unknown[] };
    console.log(
      `${label}: vcl client RSS ${before.toFixed(1)} -> ${after.toFixed(1)} MiB with ${n} idle connections (${status.sessions.length} sessions open at the group): ${(((after - before) * 1024) / n).toFixed(1)} KiB each`,
    );
  } finally {
    for (const s of sockets) s.destroy();
    await d.stop();
  }
});

export const measured = path.basename(__filename);
