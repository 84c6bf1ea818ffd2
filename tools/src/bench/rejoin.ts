/**
 * Time for a killed replica to rejoin under load, against the size of the state it receives:
 * 3 external-mode members (`vcl service` + the recovery counter service of the core's e2e
 * fixtures, sequencer ordering, line-framed TCP), `vcl client` in front. For each recovery mode and
 * each amount of history (requests applied before the kill), it kills member n3 and its service,
 * keeps a load running, restarts both, and reads the member's own figures from its log line
 * `rejoined the group: live` (state bytes, install time, time from member start to live).
 *
 * Usage: `npm run measure:rejoin -- [--modes replay,snapshot] [--history 500,2000,8000] [--json]`
 * (needs the built core, substrate-tcp and gcs-sequencer: the npm script builds them).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

const root = path.resolve(__dirname, '../../..');
const cli = path.join(root, 'packages/vcl-core/dist/cli/main.js');
const fixtures = path.join(root, 'packages/vcl-core/test/e2e/fixtures');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/** A child process and its stdout lines. */
class Proc {
  readonly lines: string[] = [];
  readonly exited: Promise<void>;
  private readonly listeners = new Set<(line: string) => void>();
  private err = '';

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    let held = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const parts = (held + d).split('\n');
      held = parts.pop()!;
      for (const line of parts) {
        this.lines.push(line);
        for (const l of this.listeners) l(line);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.err = (this.err + d).slice(-2000)));
    this.exited = new Promise((r) => child.on('exit', () => r()));
  }

  waitFor(match: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    const found = this.lines.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name}: no ${what} in ${timeoutMs} ms: ${this.err}`)),
        timeoutMs,
      );
      const l = (line: string): void => {
        if (!match(line)) return;
        clearTimeout(timer);
        this.listeners.delete(l);
        resolve(line);
      };
      this.listeners.add(l);
    });
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

function node(name: string, args: string[]): Proc {
  return new Proc(
    name,
    spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, VCL_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

const field = (line: string): Record<string, unknown> | undefined => {
  try {
    return line.startsWith('{') ? (JSON.parse(line) as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

async function lowPorts(n: number): Promise<number[]> {
  const free = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const ports = Array.from({ length: n }, (_, i) => base + i);
    if ((await Promise.all(ports.map(free))).every(Boolean)) return ports;
  }
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
}

async function measure(mode: string, history: number): Promise<Figure> {
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
  recovery: ${mode}
  dataDir: ${JSON.stringify(path.join(dir, 'data'))}
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
    const member = (m: (typeof members)[0]): Proc =>
      track(
        node(m.id, [
          cli,
          'service',
          '--config',
          stack,
          '--member',
          m.id,
          '--service-endpoint',
          `127.0.0.1:${m.servicePort}`,
        ]),
      );
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
    procs3[2]!.kill();
    services[2]!.kill();
    await procs3[2]!.exited;
    await services[2]!.exited;
    await new Promise((r) => setTimeout(r, 500));
    await service(members[2]!);
    const t0 = performance.now();
    const again = member(members[2]!);
    const line = await again.waitFor((l) => field(l)?.['msg'] === 'rejoined the group: live', 120_000, 'rejoined');
    const restartToLiveMs = Math.round(performance.now() - t0);
    const f = field(line)!;
    return {
      mode,
      history,
      cut: f['joinedAtCut'] as number,
      stateBytes: f['stateBytes'] as number,
      installMs: f['installMs'] as number,
      rejoinMs: f['rejoinMs'] as number,
      ...(f['replayed'] !== undefined ? { replayed: f['replayed'] as number } : {}),
      restartToLiveMs,
    };
  } finally {
    for (const p of procs) p.kill();
    await Promise.all(procs.map((p) => p.exited));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const modes = arg('modes', 'replay,snapshot').split(',');
  const histories = arg('history', '500,2000,8000').split(',').map(Number);
  const out: Figure[] = [];
  for (const mode of modes)
    for (const h of histories) {
      const f = await measure(mode, h);
      out.push(f);
      if (!process.argv.includes('--json'))
        console.log(
          `${mode.padEnd(8)} history ${String(h).padStart(6)} requests: cut ${String(f.cut).padStart(6)}, state ${String(f.stateBytes).padStart(8)} B, ` +
            `install ${String(f.installMs).padStart(5)} ms, member start to live ${String(f.rejoinMs).padStart(5)} ms` +
            (f.replayed !== undefined ? `, ${f.replayed} events replayed` : ''),
        );
    }
  if (process.argv.includes('--json')) console.log(JSON.stringify(out, null, 2));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
