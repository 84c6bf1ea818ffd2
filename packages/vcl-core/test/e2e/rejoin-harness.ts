import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePorts } from '../../src/testing/process/harness';
import { askLine, httpGet, logLine, spawnNode, vclServiceArgs, type Proc } from './harness';

// A 3-member external-mode deployment of the recovery counter service (`vcl service` + one real
// counter process per member, `vcl client` in front), whose members can be killed and restarted
// so that they rejoin with state transfer.

const root = path.resolve(__dirname, '../../../..');
const cli = path.join(root, 'packages/vcl-core/dist/cli/main.js');
const fixtures = path.join(__dirname, 'fixtures');

/** One member. */
export interface RejoinMember {
  readonly id: string;
  readonly port: number;
  readonly clientPort: number;
  readonly adminPort: number;
  readonly servicePort: number;
  proc?: Proc;
  service?: Proc;
}

/** The recovery figures a member's `/status` reports. */
export interface RecoveryFigures {
  readonly mode: string;
  readonly phase: string;
  readonly joinedAtCut?: number;
  readonly stateBytes?: number;
  readonly installMs?: number;
  readonly rejoinMs?: number;
  readonly replayed?: number;
  /** Where this member's replay log starts (its base state's position). */
  readonly logBase?: number;
  /** Compactions of its replay log. */
  readonly compactions?: number;
}

/** Member status as the admin endpoint returns it (the fields the tests read). */
export interface RejoinStatus {
  readonly sessions: { id: string; attached: string }[];
  readonly counters: { failoversServed: number; requests: number };
  readonly recovery?: RecoveryFigures;
}

/** A deployment whose members rejoin with `mode`. */
export class RejoinDeployment {
  readonly members: RejoinMember[] = [];
  readonly procs: Proc[] = [];
  client: Proc | undefined;
  clientPort = 0;
  stackFile = '';
  private dir = '';

  constructor(
    readonly mode: 'replay' | 'snapshot',
    readonly size = 3,
    /** `service.replayLog.maxBytes` (replay: compact the log at this size). */
    readonly replayLogMaxBytes?: number,
  ) {}

  /** Writes the stack file and starts every service, member and `vcl client`. */
  async start(): Promise<void> {
    const ports = await freePorts(4 * this.size + 1);
    for (let i = 0; i < this.size; i++)
      this.members.push({
        id: `n${i + 1}`,
        port: ports[4 * i]!,
        clientPort: ports[4 * i + 1]!,
        adminPort: ports[4 * i + 2]!,
        servicePort: ports[4 * i + 3]!,
      });
    this.clientPort = ports[4 * this.size]!;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-rejoin-'));
    this.stackFile = path.join(this.dir, 'stack.yaml');
    fs.writeFileSync(this.stackFile, this.stackYaml());
    await Promise.all(this.members.map((m) => this.startService(m)));
    for (const m of this.members) this.startMember(m);
    await Promise.all(this.members.map((m) => this.fullView(m)));
    this.client = this.track(spawnNode('vcl-client', [cli, 'client', '--config', this.stackFile]));
    await this.client.waitFor(
      (l) => logLine(l)?.['msg'] === 'client interceptor listening',
      10_000,
      'client listening',
    );
  }

  /** Kills member `m` and its service (SIGKILL). */
  kill(m: RejoinMember): void {
    m.proc!.signal('SIGKILL');
    m.service!.signal('SIGKILL');
  }

  /** Restarts `m`'s service (fresh, initial state) and `vcl service`; resolves once it is live again. */
  async restart(m: RejoinMember): Promise<RecoveryFigures> {
    await m.proc!.exited;
    await m.service!.exited;
    await this.startService(m);
    this.startMember(m);
    const line = await m.proc!.waitFor(
      (l) => logLine(l)?.['msg'] === 'rejoined the group: live',
      30_000,
      'rejoined the group',
    );
    return logLine(line) as unknown as RecoveryFigures;
  }

  /** Starts a load client: `sessions` sessions of `requests` requests with `window` in flight. */
  loadClient(prefix: string, sessions: number, requests: number, window: number): Proc {
    const opts = { mode: 'external', port: this.clientPort, sessions, requests, window, prefix };
    return this.track(spawnNode(`load-${prefix}`, [path.join(fixtures, 'load-client.cjs'), JSON.stringify(opts)]));
  }

  /** A member's `/status`. */
  async status(m: RejoinMember): Promise<RejoinStatus> {
    return JSON.parse(await httpGet(m.adminPort, '/status')) as RejoinStatus;
  }

  /** The digest of `m`'s counter, asked directly. */
  digest(m: RejoinMember): Promise<string> {
    return askLine(m.servicePort, '?digest');
  }

  /** Digests of `members` once they all report `count` requests applied (or after 15 s). */
  async digests(members: readonly RejoinMember[], count: number): Promise<string[]> {
    const deadline = performance.now() + 15_000;
    for (;;) {
      const d = await Promise.all(members.map((m) => this.digest(m)));
      if (d.every((x) => Number(x.split(':')[1]) >= count) || performance.now() > deadline) return d;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Kills everything and removes the files. */
  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.terminate()));
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private async startService(m: RejoinMember): Promise<void> {
    m.service = this.track(
      spawnNode(`service-${m.id}`, [path.join(fixtures, 'recovery-counter-server.cjs'), String(m.servicePort)]),
    );
    await m.service.waitFor((l) => l === 'listening', 10_000, 'listening');
  }

  private startMember(m: RejoinMember): void {
    m.proc = this.track(spawnNode(m.id, vclServiceArgs(cli, this.stackFile, m.id, m.servicePort)));
  }

  private fullView(m: RejoinMember): Promise<string> {
    return m.proc!.waitFor(
      (l) => {
        const f = logLine(l);
        return f?.['msg'] === 'view installed' && (f['members'] as unknown[]).length === this.size;
      },
      20_000,
      'full view',
    );
  }

  private track(p: Proc): Proc {
    this.procs.push(p);
    return p;
  }

  private stackYaml(): string {
    const node = JSON.stringify(process.execPath);
    const admin = JSON.stringify(path.join(fixtures, 'counter-admin.cjs'));
    const members = this.members
      .map(
        (m) =>
          `    - { id: ${m.id}, host: 127.0.0.1, port: ${m.port}, clientPort: ${m.clientPort}, adminPort: ${m.adminPort} }`,
      )
      .join('\n');
    return `group:
  name: rejoin
  members:
${members}
ordering:
  plugin: sequencer
  options: { heartbeatMs: 50, suspectTimeoutMs: 300 }
substrate: { plugin: tcp, options: { framing: line } }
service:
  endpoint: { host: 127.0.0.1, port: ${this.members[0]!.servicePort} }
  recovery: ${this.mode}
  dataDir: ${JSON.stringify(path.join(this.dir, 'data'))}
  resetCommand: [${node}, ${admin}, reset]
  snapshot: { save: [${node}, ${admin}, save], load: [${node}, ${admin}, load] }
${this.replayLogMaxBytes ? `  replayLog: { maxBytes: ${this.replayLogMaxBytes} }\n` : ''}client:
  listen: { host: 127.0.0.1, port: ${this.clientPort} }
  failoverTimeoutMs: 15000
timeouts: { heartbeatMs: 50, suspectMs: 400, connectMs: 1000 }
admin: { enabled: true }
`;
  }
}
