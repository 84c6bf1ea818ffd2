import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  logLine,
  spawnNodeProcess,
  vclServiceArgs,
  type LineProcess as Proc,
} from '../../src/testing/process/line-process';

export { vclServiceArgs };

// Multi-process test harness: real `vcl service` / `vcl client` processes (or internal-mode
// programs) on loopback, killed with SIGKILL or frozen with SIGSTOP.

const root = path.resolve(__dirname, '../../../..');
const cli = path.join(root, 'packages/vcl-core/dist/cli/main.js');
const fixtures = path.join(__dirname, 'fixtures');

/** Builds the packages the spawned processes load (incremental: fast when up to date). */
export function buildForProcesses(): void {
  execFileSync(
    'npx',
    [
      'tsc',
      '-b',
      'packages/vcl-core/tsconfig.lib.json',
      'packages/substrate-tcp/tsconfig.lib.json',
      'packages/gcs-sequencer/tsconfig.lib.json',
    ],
    { cwd: root, stdio: 'inherit' },
  );
}

/** Ports nobody listens on right now, below the kernel's ephemeral range (see `lowFreePorts`). */
export function freePorts(n: number): Promise<number[]> {
  return lowFreePorts(n);
}

/**
 * Ports nobody listens on right now, consecutive from a random base below 32768 (outside Linux's
 * ephemeral range, so no outgoing connection of this machine can take one in the meantime).
 */
export async function lowFreePorts(n: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (12_000 - n));
    const ports = Array.from({ length: n }, (_, i) => base + i);
    const bound: net.Server[] = [];
    for (const port of ports) {
      const s = net.createServer();
      const ok = await new Promise<boolean>((resolve) => {
        s.once('error', () => resolve(false));
        s.listen(port, '127.0.0.1', () => resolve(true));
      });
      if (!ok) break;
      bound.push(s);
    }
    await Promise.all(bound.map((s) => new Promise((r) => s.close(r))));
    if (bound.length === n) return ports;
  }
  throw new Error(`no ${n} free consecutive ports below 32768`);
}

/** A spawned process and the lines it printed. */
export { LineProcess as Proc, logLine } from '../../src/testing/process/line-process';

/** Spawns `node <args>` from the repository root. */
export function spawnNode(name: string, args: readonly string[], env: Record<string, string> = {}): Proc {
  return spawnNodeProcess(root, name, args, env);
}

/** One member of a test deployment. */
export interface E2eMember {
  /** Member id (`n1`). */
  readonly id: string;
  /** Member<->member port. */
  readonly port: number;
  /** Port client-side interceptors connect to. */
  readonly clientPort: number;
  /** Admin endpoint port. */
  readonly adminPort: number;
  /** External mode: the real service's port; internal mode: the replica's debug port. */
  readonly servicePort: number;
  /** The member's interceptor process (`vcl service` or the internal-mode program). */
  proc?: Proc;
  /** External mode: the real service process. */
  service?: Proc;
}

/** Options of a test deployment. */
export interface DeploymentOptions {
  /** `external` (`vcl service` + real service processes) or `internal` (linked-in interceptors). */
  readonly mode: 'external' | 'internal';
  /** Number of members. */
  readonly members: number;
  /** External mode: the service program under `fixtures/`. Default `counter-server.cjs`. */
  readonly serviceScript?: string;
  /** The stack's `onDivergence`. Default: not written (the stack default). */
  readonly onDivergence?: 'report' | 'evict' | 'off';
  /** Take ports below 32768 (`lowFreePorts`) instead of ephemeral ones. Default false. */
  readonly lowPorts?: boolean;
  /**
   * The stack's `service.stateDigest`: `every`, and (external mode) the fixture script run with node
   * as its command; internal-replica.cjs then passes its counter's digest as the callback. Default none.
   */
  readonly stateDigest?: { readonly script?: string; readonly every: number };
  /** YAML appended to the stack file (`limits:`, `aaa:`); `$DIR` becomes the deployment's directory. Default none. */
  readonly extraYaml?: string;
  /** The `vcl` command line's main.js (another build, to measure it side by side). Default this repository's. */
  readonly cli?: string;
  /** The stack's `substrate:` value (flow YAML). Default `{ plugin: tcp, options: { framing: line } }`. */
  readonly substrate?: string;
}

/** A replicated counter service on loopback: members, their services, and a client-side interceptor. */
export class Deployment {
  /** The members, in configuration order. */
  readonly members: E2eMember[] = [];
  /** Every process started (killed by `stop`). */
  readonly procs: Proc[] = [];
  /** External mode: the `vcl client` process. */
  client: Proc | undefined;
  /** External mode: where `vcl client` accepts clients. */
  clientPort = 0;
  /** The generated stack file. */
  stackFile = '';
  /** The deployment's directory (stack file, audit files). */
  dir = '';

  constructor(readonly options: DeploymentOptions) {}

  /** Writes the stack file and starts every member (and, external mode, every service and `vcl client`). */
  async start(): Promise<void> {
    const n = this.options.members;
    const ports = this.options.lowPorts ? await lowFreePorts(4 * n + 1) : await freePorts(4 * n + 1);
    for (let i = 0; i < n; i++)
      this.members.push({
        id: `n${i + 1}`,
        port: ports[4 * i]!,
        clientPort: ports[4 * i + 1]!,
        adminPort: ports[4 * i + 2]!,
        servicePort: ports[4 * i + 3]!,
      });
    this.clientPort = ports[4 * n]!;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-e2e-'));
    this.stackFile = path.join(this.dir, 'stack.yaml');
    fs.writeFileSync(this.stackFile, this.stackYaml());
    const internal = this.options.mode === 'internal';
    for (const m of this.members) {
      if (!internal) {
        m.service = this.track(
          spawnNode(`service-${m.id}`, [
            path.join(fixtures, this.options.serviceScript ?? 'counter-server.cjs'),
            String(m.servicePort),
          ]),
        );
      }
    }
    if (!internal)
      await Promise.all(this.members.map((m) => m.service!.waitFor((l) => l === 'listening', 10_000, 'listening')));
    for (const m of this.members) {
      m.proc = this.track(
        internal
          ? spawnNode(m.id, [path.join(fixtures, 'internal-replica.cjs'), this.stackFile, m.id, String(m.servicePort)])
          : spawnNode(m.id, vclServiceArgs(this.options.cli ?? cli, this.stackFile, m.id, m.servicePort)),
      );
    }
    // Ready once every member has installed a view holding all of them.
    await Promise.all(
      this.members.map((m) =>
        m.proc!.waitFor(
          (l) => {
            const f = logLine(l);
            return f?.['msg'] === 'view installed' && (f['members'] as unknown[]).length === n;
          },
          20_000,
          'full view',
        ),
      ),
    );
    if (!internal) {
      this.client = this.track(
        spawnNode('vcl-client', [this.options.cli ?? cli, 'client', '--config', this.stackFile]),
      );
      await this.client.waitFor(
        (l) => logLine(l)?.['msg'] === 'client interceptor listening',
        10_000,
        'client listening',
      );
    }
  }

  /** Starts a load client with `sessions` sessions of `requests` requests each. */
  loadClient(prefix: string, sessions: number, requests: number, window: number, paceMs?: number): Proc {
    const common = { sessions, requests, window, prefix, ...(paceMs ? { paceMs } : {}) };
    const opts =
      this.options.mode === 'internal'
        ? { mode: 'internal', config: this.stackFile, ...common }
        : { mode: 'external', port: this.clientPort, ...common };
    return this.track(spawnNode(`load-${prefix}`, [path.join(fixtures, 'load-client.cjs'), JSON.stringify(opts)]));
  }

  /** A live member's `/status`. */
  async status(member: E2eMember): Promise<{ sessions: { id: string; attached: string }[] }> {
    return JSON.parse(await httpGet(member.adminPort, '/status')) as { sessions: { id: string; attached: string }[] };
  }

  /** The member the (single) open session is attached to, per a live member's replicated table. */
  async attachedMember(except: readonly string[] = []): Promise<E2eMember> {
    const asker = this.members.find((m) => !except.includes(m.id) && !m.proc!.dead)!;
    const s = await this.status(asker);
    const id = s.sessions[0]?.attached;
    const m = this.members.find((x) => x.id === id);
    if (!m) throw new Error(`no session attached anywhere: ${JSON.stringify(s)}`);
    return m;
  }

  /** The live member most sessions are attached to (not one of `except`). */
  async busiestMember(except: readonly string[] = []): Promise<E2eMember> {
    const asker = this.members.find((m) => !except.includes(m.id) && !m.proc!.dead)!;
    const counts = new Map<string, number>();
    for (const s of (await this.status(asker)).sessions) counts.set(s.attached, (counts.get(s.attached) ?? 0) + 1);
    const ranked = this.members
      .filter((m) => !except.includes(m.id) && !m.proc!.dead)
      .sort((a, b) => (counts.get(b.id) ?? 0) - (counts.get(a.id) ?? 0));
    return ranked[0]!;
  }

  /** The state digest of member `m`'s replica, asked directly (bypassing VCL). */
  digest(m: E2eMember): Promise<string> {
    return this.serviceCommand(m, '?digest');
  }

  /** Sends one line to member `m`'s replica directly (bypassing VCL) and resolves with its answer line. */
  serviceCommand(m: E2eMember, line: string): Promise<string> {
    return askLine(m.servicePort, line);
  }

  /** Kills (SIGKILL) or freezes (SIGSTOP) member `m`'s interceptor, and in external mode its service too. */
  fail(m: E2eMember, signal: 'SIGKILL' | 'SIGSTOP'): void {
    m.proc!.signal(signal);
    if (signal === 'SIGKILL') m.service?.signal('SIGKILL');
  }

  /** Kills every process and removes the stack file. */
  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.terminate()));
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private track(p: Proc): Proc {
    this.procs.push(p);
    return p;
  }

  private stateDigestYaml(): string {
    const sd = this.options.stateDigest;
    if (!sd) return '';
    if (!sd.script) return `, stateDigest: { every: ${sd.every} }`;
    const command = [process.execPath, path.join(fixtures, sd.script)].map((a) => JSON.stringify(a)).join(', ');
    return `, stateDigest: { command: [${command}], every: ${sd.every} }`;
  }

  private stackYaml(): string {
    const members = this.members
      .map(
        (m) =>
          `    - { id: ${m.id}, host: 127.0.0.1, port: ${m.port}, clientPort: ${m.clientPort}, adminPort: ${m.adminPort} }`,
      )
      .join('\n');
    return `group:
  name: e2e
  members:
${members}
ordering:
  plugin: sequencer
  options: { heartbeatMs: 50, suspectTimeoutMs: 300 }
substrate: ${this.options.substrate ?? '{ plugin: tcp, options: { framing: line } }'}
service: { endpoint: { host: 127.0.0.1, port: ${this.members[0]!.servicePort} }${this.stateDigestYaml()} }
client:
  listen: { host: 127.0.0.1, port: ${this.clientPort} }
  failoverTimeoutMs: 15000
timeouts: { heartbeatMs: 50, suspectMs: 400, connectMs: 1000 }
${this.options.onDivergence ? `onDivergence: ${this.options.onDivergence}\n` : ''}${(this.options.extraYaml ?? '').replaceAll('$DIR', this.dir)}`;
  }
}

/** GET http://127.0.0.1:port/path. */
export function httpGet(port: number, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, timeout: 2000 }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/** Response lines a load client printed for one session: `[tag, total]`. */
export function responses(p: Proc, session: string): [string, number][] {
  return p.lines
    .filter((l) => l.startsWith(`R ${session} `))
    .map((l) => {
      const [, , tag, total] = l.split(' ');
      return [tag!, Number(total)];
    });
}

/** The error lines naming a diverged member in `m`'s log. */
export function divergenceReports(m: E2eMember): Record<string, unknown>[] {
  return m
    .proc!.lines.map(logLine)
    .filter(
      (f): f is Record<string, unknown> => f?.['msg'] !== undefined && String(f['msg']).includes('diverged from'),
    );
}

/** Resolves once `check()` holds; rejects naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends one line to a service on 127.0.0.1:`port` (bypassing VCL) and resolves with its first answer line. */
export function askLine(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => {
      got += d.toString();
      if (got.includes('\n')) {
        socket.destroy();
        resolve(got.slice(0, got.indexOf('\n')));
      }
    });
    socket.on('error', reject);
    socket.write(`${line}\n`);
  });
}
