/**
 * Time for a killed replica to rejoin under load, against the size of the state it receives:
 * 3 external-mode members (`vcl service` + the recovery counter service of the core's e2e
 * fixtures, sequencer ordering, line-framed TCP), `vcl client` in front. For each recovery mode and
 * each amount of history (requests applied before the kill), it kills member n3 and its service,
 * keeps a load running, restarts both, and reads the member's own figures from its log line
 * `rejoined the group: live` (state bytes, install time, time from member start to live).
 *
 * Usage: `npm run measure:rejoin -- [--modes replay,snapshot,replay@65536] [--history 500,2000,8000] [--json]`
 * (`replay@<bytes>`: replay with the log compacted at `<bytes>`, `service.replayLog.maxBytes`)
 * (needs the built core, substrate-tcp and gcs-sequencer: the npm script builds them).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  logLine as field,
  lowPorts,
  repoRoot,
  spawnNode as node,
  vclCli as cli,
  vclServiceArgs,
  type Proc,
} from './processes';

const fixtures = path.join(repoRoot, 'packages/vcl-core/test/e2e/fixtures');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/** One measurement. */
interface Figure {
  mode: string;
  history: number;
  cut: number;
  stateBytes: number;
  installMs: number;
  rejoinMs: number;
  replayed?: number;
  /** Wall time from restarting the member to its `live` line, measured here. */
  restartToLiveMs: number;
  /** `replay@<bytes>`: compactions at the two other members before the rejoin, and how long each held the service's requests. */
  compactions?: { count: number; holdMsMedian: number; holdMsMax: number };
}

/**
 * `mode` is `replay`, `snapshot`, or `replay@<bytes>`: replay with the log compacted at `<bytes>`
 * (`service.replayLog.maxBytes`).
 */
async function measure(mode: string, history: number): Promise<Figure> {
  const [recovery, compactAt] = mode.split('@') as [string, string | undefined];
  const procs: Proc[] = [];
  const track = (p: Proc): Proc => (procs.push(p), p);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-bench-rejoin-'));
  try {
    const ports = await lowPorts(13);
    const members = [0, 1, 2].map((i) => ({
      id: `n${i + 1}`,
      port: ports[4 * i]!,
      clientPort: ports[4 * i + 1]!,
      adminPort: ports[4 * i + 2]!,
      servicePort: ports[4 * i + 3]!,
    }));
    const clientPort = ports[12]!;
    const admin = JSON.stringify(path.join(fixtures, 'counter-admin.cjs'));
    const exe = JSON.stringify(process.execPath);
    const stack = path.join(dir, 'stack.yaml');
    fs.writeFileSync(
      stack,
      `group:
  name: bench-rejoin
  members:
${members.map((m) => `    - { id: ${m.id}, host: 127.0.0.1, port: ${m.port}, clientPort: ${m.clientPort}, adminPort: ${m.adminPort} }`).join('\n')}
ordering: { plugin: sequencer, options: { heartbeatMs: 50, suspectTimeoutMs: 300 } }
substrate: { plugin: tcp, options: { framing: line } }
service:
  endpoint: { host: 127.0.0.1, port: ${members[0]!.servicePort} }
  recovery: ${recovery}
${compactAt ? `  replayLog: { maxBytes: ${Number(compactAt)} }\n` : ''}  dataDir: ${JSON.stringify(path.join(dir, 'data'))}
  resetCommand: [${exe}, ${admin}, reset]
  snapshot: { save: [${exe}, ${admin}, save], load: [${exe}, ${admin}, load] }
client: { listen: { host: 127.0.0.1, port: ${clientPort} }, failoverTimeoutMs: 15000 }
timeouts: { heartbeatMs: 50, suspectMs: 400, connectMs: 1000 }
`,
    );
    const service = async (m: (typeof members)[0]): Promise<Proc> => {
      const p = track(node(`svc-${m.id}`, [path.join(fixtures, 'recovery-counter-server.cjs'), String(m.servicePort)]));
      await p.waitFor((l) => l === 'listening', 10_000, 'listening');
      return p;
    };
    const member = (m: (typeof members)[0]): Proc => track(node(m.id, vclServiceArgs(cli, stack, m.id, m.servicePort)));
    const services = await Promise.all(members.map(service));
    const procs3 = members.map(member);
    await Promise.all(
      procs3.map((p) =>
        p.waitFor(
          (l) => field(l)?.['msg'] === 'view installed' && (field(l)!['members'] as unknown[]).length === 3,
          20_000,
          'view',
        ),
      ),
    );
    const client = track(node('client', [cli, 'client', '--config', stack]));
    await client.waitFor((l) => field(l)?.['msg'] === 'client interceptor listening', 10_000, 'client');
    const load = (prefix: string, sessions: number, requests: number, window: number): Proc =>
      track(
        node(`load-${prefix}`, [
          path.join(fixtures, 'load-client.cjs'),
          JSON.stringify({ mode: 'external', port: clientPort, sessions, requests, window, prefix }),
        ]),
      );
    const pre = load('h', 8, Math.ceil(history / 8), 8);
    await pre.waitFor((l) => l === 'DONE', 600_000, 'history loaded');
    // Load during the rejoin: a steady stream that the survivors keep serving.
    const live = load('l', 4, 1_000_000, 1);
    await live.waitFor((l) => l.startsWith('R l0 l0:20 '), 20_000, 'live load');
    procs3[2]!.signal('SIGKILL');
    services[2]!.signal('SIGKILL');
    await procs3[2]!.exited;
    await services[2]!.exited;
    await new Promise((r) => setTimeout(r, 500));
    await service(members[2]!);
    const t0 = performance.now();
    const again = member(members[2]!);
    const line = await again.waitFor((l) => field(l)?.['msg'] === 'rejoined the group: live', 120_000, 'rejoined');
    const restartToLiveMs = Math.round(performance.now() - t0);
    const f = field(line)!;
    const holds = procs3
      .slice(0, 2)
      .flatMap((p) => p.lines.map(field).filter((l) => l?.['msg'] === 'replay log compacted'))
      .map((l) => l!['holdMs'] as number)
      .sort((a, b) => a - b);
    return {
      mode,
      history,
      cut: f['joinedAtCut'] as number,
      stateBytes: f['stateBytes'] as number,
      installMs: f['installMs'] as number,
      rejoinMs: f['rejoinMs'] as number,
      ...(f['replayed'] !== undefined ? { replayed: f['replayed'] as number } : {}),
      restartToLiveMs,
      ...(compactAt
        ? {
            compactions: {
              count: holds.length,
              holdMsMedian: holds[Math.floor(holds.length / 2)] ?? 0,
              holdMsMax: holds[holds.length - 1] ?? 0,
            },
          }
        : {}),
    };
  } finally {
    await Promise.all(procs.map((p) => p.terminate()));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const modes = arg('modes', 'replay,snapshot,replay@65536').split(',');
  const histories = arg('history', '500,2000,8000').split(',').map(Number);
  const out: Figure[] = [];
  for (const mode of modes)
    for (const h of histories) {
      const f = await measure(mode, h);
      out.push(f);
      if (!process.argv.includes('--json'))
        console.log(
          `${mode.padEnd(12)} history ${String(h).padStart(6)} requests: cut ${String(f.cut).padStart(6)}, state ${String(f.stateBytes).padStart(8)} B, ` +
            `install ${String(f.installMs).padStart(5)} ms, member start to live ${String(f.rejoinMs).padStart(5)} ms` +
            (f.replayed !== undefined ? `, ${f.replayed} events replayed` : '') +
            (f.compactions
              ? `; ${f.compactions.count} compactions at n1+n2, requests held ${f.compactions.holdMsMedian} ms median, ${f.compactions.holdMsMax} ms max`
              : ''),
        );
    }
  if (process.argv.includes('--json')) console.log(JSON.stringify(out, null, 2));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
