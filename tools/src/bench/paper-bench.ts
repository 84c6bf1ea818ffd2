import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { createLogger, importModule, loadStack, startClientInterceptor, type ClientInterceptor } from '@vcl/core';
import { logLine, lowPorts, spawnNode, toolsProgram, vclCli, vclServiceArgs, type Proc } from './processes';
import type { BenchConfigName, BenchEntry } from './report';
import { stackYaml, type LoopbackMember } from './stack-file';

// The paper's ping-pong test (Engelmann et al. 2007, Tables 1 and 2): a client sends a payload and
// waits until all of it has come back from an echo service, for every configuration at once, each
// configuration's processes kept running and measured in interleaved slots (A B C ... A B C ...)
// so that noise from the shared machine hits every configuration alike.

/** How one configuration is built. */
export interface BenchConfig {
  /** Name in results.json. */
  readonly name: BenchConfigName;
  /** Processes between the client and the echo service on the request path. */
  readonly hops: 0 | 1 | 2;
  /** Replicas (members) for the interceptor configurations; 0 for direct and pipes. */
  readonly members: number;
  /** Ordering plugin for the interceptor configurations. */
  readonly ordering?: 'sequencer' | 'tokenring';
}

/** Every configuration, in table order. */
export const BENCH_CONFIGS: readonly BenchConfig[] = [
  { name: 'direct', hops: 0, members: 0 },
  { name: 'pipe-1', hops: 1, members: 0 },
  { name: 'pipe-2', hops: 2, members: 0 },
  // The client speaks to the one member with the client-side interceptor linked into its own
  // process (internal mode): the only process on the path is the service-side interceptor.
  { name: 'service-only', hops: 1, members: 1, ordering: 'sequencer' },
  { name: 'both', hops: 2, members: 1, ordering: 'sequencer' },
  { name: 'sequencer-3', hops: 2, members: 3, ordering: 'sequencer' },
  { name: 'tokenring-3', hops: 2, members: 3, ordering: 'tokenring' },
  { name: 'sequencer-5', hops: 2, members: 5, ordering: 'sequencer' },
  { name: 'tokenring-5', hops: 2, members: 5, ordering: 'tokenring' },
];

/** Run parameters. */
export interface BenchPlan {
  /** Payload sizes in bytes. */
  readonly payloads: readonly number[];
  /** Configurations to measure. */
  readonly configs: readonly BenchConfig[];
  /** Interleaved rounds per payload. */
  readonly rounds: number;
  /** Milliseconds one configuration is measured per round. */
  readonly slotMs: number;
  /** Milliseconds of warm-up per configuration and payload. */
  readonly warmupMs: number;
}

/** The default plan (~8 minutes on a 2-core machine), or the `--quick` one (~1 minute). */
export function benchPlan(quick: boolean): BenchPlan {
  return {
    payloads: [100, 1024, 10 * 1024, 100 * 1024],
    configs: BENCH_CONFIGS,
    rounds: quick ? 3 : 10,
    slotMs: quick ? 150 : 1100,
    warmupMs: quick ? 60 : 500,
  };
}

/** A connection that echoes what it is sent. */
interface PingPong {
  /** Sends `payload` and resolves when as many bytes have come back. */
  roundTrip(payload: Buffer): Promise<void>;
  close(): void;
}

function pingPong(socket: Duplex): PingPong {
  let awaited = 0;
  let done: () => void = () => {};
  let failed: ((e: Error) => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    awaited -= chunk.length;
    if (awaited <= 0) done();
  });
  const fail = (e?: Error): void => failed?.(e ?? new Error('connection closed'));
  socket.on('error', fail);
  socket.on('close', () => fail());
  return {
    roundTrip: (payload) =>
      new Promise<void>((resolve, reject) => {
        awaited = payload.length;
        done = resolve;
        failed = reject;
        socket.write(payload);
      }),
    close: () => {
      failed = undefined;
      socket.destroy();
    },
  };
}

function connectTcp(port: number): Promise<PingPong> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, noDelay: true });
    s.once('connect', () => resolve(pingPong(s)));
    s.once('error', reject);
  });
}

/** A running configuration. */
interface Running {
  readonly config: BenchConfig;
  readonly conn: PingPong;
  readonly client?: ClientInterceptor;
}

/** Every process of a run, the client connections, and the temp dir of the stack files. */
export class BenchDeployment {
  /** Every process started. */
  readonly procs: Proc[] = [];
  /** The running configurations, by name. */
  readonly running = new Map<BenchConfigName, Running>();
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-bench-'));

  private track(p: Proc): Proc {
    this.procs.push(p);
    return p;
  }

  private async echo(name: string, port: number): Promise<void> {
    const p = this.track(spawnNode(name, [toolsProgram('bench/echo-main'), String(port)]));
    await p.waitFor((l) => l === 'listening', 15_000, 'listening');
  }

  private async pipe(name: string, port: number, target: number): Promise<void> {
    const p = this.track(spawnNode(name, [toolsProgram('bench/pipe-main'), String(port), String(target)]));
    await p.waitFor((l) => l === 'listening', 15_000, 'listening');
  }

  /** Starts `config`'s processes and connects the client. */
  async start(config: BenchConfig): Promise<void> {
    const [p0, p1, p2] = await lowPorts(3);
    if (config.name === 'direct') {
      await this.echo('echo-direct', p0!);
      this.running.set(config.name, { config, conn: await connectTcp(p0!) });
      return;
    }
    if (config.name === 'pipe-1' || config.name === 'pipe-2') {
      await this.echo(`echo-${config.name}`, p0!);
      await this.pipe(`${config.name}-a`, p1!, p0!);
      if (config.name === 'pipe-2') await this.pipe(`${config.name}-b`, p2!, p1!);
      this.running.set(config.name, { config, conn: await connectTcp(config.name === 'pipe-2' ? p2! : p1!) });
      return;
    }
    const n = config.members;
    const ports = await lowPorts(3 * n + 1);
    const members: LoopbackMember[] = Array.from({ length: n }, (_, i) => ({
      id: `n${i + 1}`,
      port: ports[3 * i]!,
      clientPort: ports[3 * i + 1]!,
      servicePort: ports[3 * i + 2]!,
    }));
    const clientPort = ports[3 * n]!;
    const stackFile = path.join(this.dir, `${config.name}.yaml`);
    fs.writeFileSync(
      stackFile,
      // The echo service keeps no state at all, so its stream sessions are isolated.
      stackYaml({
        name: `bench-${config.name}`,
        members,
        ordering: config.ordering!,
        framing: 'raw',
        sessions: 'isolated',
        clientPort,
      }),
    );
    await Promise.all(members.map((m) => this.echo(`echo-${config.name}-${m.id}`, m.servicePort)));
    const procs = members.map((m) =>
      this.track(
        spawnNode(`${config.name}-${m.id}`, vclServiceArgs(vclCli, stackFile, m.id, m.servicePort), {}, false),
      ),
    );
    await Promise.all(
      procs.map((p) =>
        p.waitFor(
          (l) => {
            const f = logLine(l);
            return f?.['msg'] === 'view installed' && (f['members'] as unknown[]).length === n;
          },
          60_000,
          'full view',
        ),
      ),
    );
    if (config.name === 'service-only') {
      const client = await startClientInterceptor({
        stack: await loadStack(stackFile),
        listen: false,
        logger: createLogger({ name: 'bench-client', level: 'warn' }),
      });
      // Loaded at run time like any plugin (tools has no build dependency on a substrate).
      const { vclNet } = (await importModule('@vcl/substrate-tcp')) as {
        vclNet(o: { client: ClientInterceptor }): { connect(): Duplex };
      };
      this.running.set(config.name, { config, client, conn: pingPong(vclNet({ client }).connect()) });
      return;
    }
    const vclClient = this.track(
      spawnNode(`${config.name}-client`, [vclCli, 'client', '--config', stackFile], {}, false),
    );
    await vclClient.waitFor((l) => logLine(l)?.['msg'] === 'client interceptor listening', 30_000, 'client listening');
    this.running.set(config.name, { config, conn: await connectTcp(clientPort) });
  }

  /** Closes the connections and kills every process. */
  async stop(): Promise<void> {
    for (const r of this.running.values()) {
      r.conn.close();
      await r.client?.stop();
    }
    await Promise.all(this.procs.map((p) => p.terminate()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Round-trip times (ms) and the time they took, for one configuration and payload. */
interface Cell {
  readonly samples: number[];
  busyMs: number;
}

/** Median and p99 (nearest rank) of `sortedMs`, in µs. */
export function percentilesUs(sortedMs: readonly number[]): { median: number; p99: number } {
  const at = (q: number): number => sortedMs[Math.min(sortedMs.length - 1, Math.ceil(q * sortedMs.length) - 1)]!;
  return { median: Math.round(at(0.5) * 1000), p99: Math.round(at(0.99) * 1000) };
}

/** Progress of a run, for the progress bar. */
export interface BenchProgress {
  /** Slots done. */
  readonly done: number;
  /** Slots in the run. */
  readonly total: number;
  /** What is being measured. */
  readonly what: string;
}

/** Measures every configuration of `plan` on `deployment`; one entry per configuration and payload. */
export async function measure(
  deployment: BenchDeployment,
  plan: BenchPlan,
  progress: (p: BenchProgress) => void,
): Promise<BenchEntry[]> {
  const entries: BenchEntry[] = [];
  const configs = plan.configs.map((c) => deployment.running.get(c.name)!);
  const total = plan.payloads.length * plan.rounds * configs.length;
  let done = 0;
  for (const size of plan.payloads) {
    const payload = Buffer.alloc(size, 0x61);
    for (const r of configs) {
      progress({ done, total, what: `${formatBytes(size)} warm-up ${r.config.name}` });
      const until = performance.now() + plan.warmupMs;
      while (performance.now() < until) await r.conn.roundTrip(payload);
    }
    const cells = new Map<BenchConfigName, Cell>(configs.map((r) => [r.config.name, { samples: [], busyMs: 0 }]));
    for (let round = 0; round < plan.rounds; round++) {
      // Rotating the start keeps any one configuration from always following the same other one.
      const order = configs.map((_, i) => configs[(i + round) % configs.length]!);
      for (const r of order) {
        progress({ done, total, what: `${formatBytes(size)} round ${round + 1}/${plan.rounds} ${r.config.name}` });
        const cell = cells.get(r.config.name)!;
        const start = performance.now();
        const until = start + plan.slotMs;
        let t = start;
        do {
          const t0 = performance.now();
          await r.conn.roundTrip(payload);
          t = performance.now();
          cell.samples.push(t - t0);
        } while (t < until);
        cell.busyMs += t - start;
        done++;
      }
    }
    for (const r of configs) {
      const cell = cells.get(r.config.name)!;
      const sorted = [...cell.samples].sort((a, b) => a - b);
      entries.push({
        config: r.config.name,
        payload: size,
        latencyUs: percentilesUs(sorted),
        // Payload bytes returned to the client per second of ping-pong (MB = 10^6 bytes).
        bandwidthMBps: Number(((size * cell.samples.length) / (cell.busyMs / 1000) / 1e6).toFixed(3)),
        samples: cell.samples.length,
      });
    }
  }
  progress({ done: total, total, what: 'done' });
  return entries;
}

/** `100 B`, `1 KB`, `10 KB`, `100 KB` (KB = 1024 bytes, as in the paper's tables). */
export function formatBytes(n: number): string {
  return n >= 1024 && n % 1024 === 0 ? `${n / 1024} KB` : `${n} B`;
}
