import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { basename, join } from 'node:path';
import type { OrderingName } from './args';
import { startMds, type DemoContext, type Deployment } from './run-demo';
import { demoPorts, prepareStack, stackFileFor, type DemoPorts } from './stack';
import type { ChildLine } from './supervisor';
import type { MemberStatus, MemberView } from './view';

/**
 * What the demo reads from VCL's processes, in one place: their log messages (pino `msg`) and the
 * admin endpoint's `/status` shape.
 */
export const VCL_SIGNS = {
  /** `vcl service`: a view was installed; fields `view` (or the ordering plugin's `viewId`) and `members`. */
  viewInstalled: 'view installed',
  /** `vcl client`: listening for the real client. */
  clientListening: 'client interceptor listening',
  /** `vcl client`: a session moved to another member; fields `from`, `to`, `durationMs`, `resent`. */
  failoverComplete: 'fail-over complete',
  /** `vcl client`: no member reachable in time; the client connection is closed. */
  givingUp: 'giving up; closing the client connection',
  /** `vcl service`: a restarted member installed the group's state and serves again; fields `joinedAtCut`, `stateBytes`, `installMs`, `rejoinMs`. */
  rejoined: 'rejoined the group: live',
} as const;

/** Whether a restarted member can rejoin the group with the service's state (VCL's join + state transfer). */
export const REJOIN_SUPPORTED = true;

/** How long the killed member stays down before the demo restarts it (the group runs on with 2 of 3). */
const REJOIN_AFTER_MS = 1500;

/** The part of a member's `/status` the demo reads. */
interface AdminStatus {
  readonly view?: { readonly id: number; readonly members: readonly string[]; readonly primary?: boolean };
  readonly sessions?: ReadonlyArray<{ readonly id: string; readonly attached?: string }>;
}

/** The `vcl` command's entry point in the built @vcl/core (or `VCL_CLI`). */
export function vclCli(): string {
  // The workspace layout: apps/demo/{src,dist}/demo -> packages/vcl-core. VCL_CLI overrides it.
  return (
    process.env['VCL_CLI'] ?? join(__dirname, '..', '..', '..', '..', 'packages', 'vcl-core', 'dist', 'cli', 'main.js')
  );
}

/** True when `vcl service`/`vcl client` are built (the replicated demo needs them). */
export function vclCliAvailable(): boolean {
  return existsSync(vclCli());
}

function getStatus(port: number, timeoutMs: number): Promise<AdminStatus> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/status', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as AdminStatus);
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

interface Member {
  readonly id: string;
  readonly mds: string;
  readonly ports: DemoPorts['members'][number];
  status: MemberStatus;
}

/** Options of `ReplicatedDeployment`. */
export interface ReplicatedOptions {
  /** The ordering plugin (picks the committed stack file). */
  readonly ordering: OrderingName;
  /** Share of the workload after which the serving member is killed; default 0.5. */
  readonly killAt?: number;
}

/**
 * The replicated demo: three metadata servers, a `vcl service` member in front of each, and one
 * `vcl client` the workload connects to. Half-way it kills (SIGKILL) the member serving the
 * client together with its metadata server, as a crashed node, and reports the fail-over and the
 * stall the client saw.
 */
export class ReplicatedDeployment implements Deployment {
  readonly title: string;
  readonly ordering: string;
  private readonly group: Member[] = [];
  private currentView: { id: number; members: string[] } | undefined;
  private attached = new Map<string, string>();
  private failoverCount = 0;
  private victim:
    | {
        member: Member;
        at: number;
        sessions: number;
        failedOver: number;
        maxLatency: number;
        reported: boolean;
        timer?: NodeJS.Timeout;
      }
    | undefined;
  private answered = 0;
  private latencySum = 0;
  private poller: NodeJS.Timeout | undefined;
  private polling = false;
  private stackFile = '';
  private readonly cli = vclCli();
  private rejoin: Promise<void> | undefined;

  constructor(
    private readonly ctx: DemoContext,
    private readonly options: ReplicatedOptions,
  ) {
    this.ordering = options.ordering;
    this.title = `ordering=${options.ordering}, 3 replicas of the metadata server, each behind a vcl service member, one vcl client`;
  }

  members(): MemberView[] {
    return this.group.map((m) => ({ id: m.id, status: m.status }));
  }

  view(): { id: number; members: string[] } | undefined {
    return this.currentView;
  }

  serving(): string[] {
    return [...new Set(this.attached.values())].sort();
  }

  failovers(): number {
    return this.failoverCount;
  }

  async start(signal: AbortSignal): Promise<{ host: string; port: number }> {
    const ports = await demoPorts(3);
    const template = stackFileFor(this.options.ordering);
    this.stackFile = join(this.ctx.logDir, 'stack.json');
    const stack = await prepareStack(template, ports, this.stackFile);
    this.ctx.event(`stack ${basename(template)}, ports moved to free ones: ${this.stackFile}`);
    stack.group.members.forEach((m, i) =>
      this.group.push({ id: m.id, mds: `mds${i + 1}`, ports: ports.members[i]!, status: 'starting' }),
    );
    const servers = await Promise.all(this.group.map((m) => startMds(this.ctx, m.mds, m.ports.mdsPort)));
    this.ctx.event(
      `started ${this.group.map((m, i) => `${m.mds} (:${servers[i]!.port}, pid ${servers[i]!.pid})`).join(', ')}`,
    );
    if (signal.aborted) throw new Error('aborted');
    await Promise.all(this.group.map((m) => this.startMember(m)));
    const pids = this.group.map((m) => `${m.id} pid ${this.ctx.supervisor.get(m.id)?.pid}`).join(', ');
    this.ctx.event(`vcl service members up (${pids}): view ${this.describeView()}`);
    const client = this.ctx.supervisor.start({
      name: 'client',
      command: process.execPath,
      args: [this.cli, 'client', '--config', this.stackFile],
      env: { VCL_LOG_LEVEL: 'info' },
    });
    await client.waitFor((l) => l.entry?.['msg'] === VCL_SIGNS.clientListening, 'client listening');
    this.ctx.event(`vcl client listening on 127.0.0.1:${ports.clientPort} (pid ${client.pid})`);
    this.poller = setInterval(() => void this.poll(), 250);
    this.poller.unref();
    return { host: '127.0.0.1', port: ports.clientPort };
  }

  replicas(): Array<{ name: string; host: string; port: number }> {
    return this.group
      .filter((m) => m.status === 'up')
      .map((m) => ({ name: m.mds, host: '127.0.0.1', port: m.ports.mdsPort }));
  }

  excluded(): Array<{ name: string; why: string }> {
    return this.group
      .filter((m) => m.status !== 'up')
      .map((m) => ({ name: m.mds, why: `${m.id} is ${m.status}, not rejoined` }));
  }

  answer(_at: number, latencyMs: number): void {
    const v = this.victim;
    if (!v) {
      this.answered++;
      this.latencySum += latencyMs;
    } else if (!v.reported && latencyMs > v.maxLatency) v.maxLatency = latencyMs;
  }

  /**
   * The stall the client saw: the longest a request waited for its answer from the kill until
   * shortly after the last affected session failed over (so requests resent after the fail-over
   * are counted), against the mean latency before the kill.
   */
  private reportStall(): void {
    const v = this.victim;
    if (!v || v.reported) return;
    v.reported = true;
    if (v.timer) clearTimeout(v.timer);
    const before = this.answered > 0 ? this.latencySum / this.answered : 0;
    this.ctx.event(
      `client-visible stall: the longest request waited ${Math.round(v.maxLatency)} ms (mean before the kill ${Math.round(before)} ms); no error, no lost or repeated answer`,
    );
  }

  progress(answered: number, planned: number): void {
    if (this.victim || answered < planned * (this.options.killAt ?? 0.5)) return;
    const count = new Map<string, number>();
    for (const id of this.attached.values()) count.set(id, (count.get(id) ?? 0) + 1);
    const ranked = [...count.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const target = this.group.find((m) => m.id === ranked[0]?.[0] && m.status === 'up');
    if (!target) return;
    const sessions = ranked[0]![1];
    this.victim = { member: target, at: performance.now(), sessions, failedOver: 0, maxLatency: 0, reported: false };
    target.status = 'killed';
    void this.ctx.supervisor.kill(target.id, 'SIGKILL');
    void this.ctx.supervisor.kill(target.mds, 'SIGKILL');
    this.ctx.event(
      `SIGKILL ${target.id} and its metadata server ${target.mds} (${target.id} served ${sessions} of the client's ${this.attached.size} session${this.attached.size === 1 ? '' : 's'})`,
    );
    if (!REJOIN_SUPPORTED)
      this.ctx.event(`rejoin is not built yet in VCL: ${target.id} stays down, the group runs on with 2 of 3 members`);
    else this.rejoin = this.restartLater(target);
  }

  /**
   * Restarts the killed member as a repaired node would come back: a fresh (empty) metadata server
   * and the same `vcl service` command. VCL transfers the group's state (stack file
   * `service.recovery`) before the member takes clients again.
   */
  private async restartLater(m: Member): Promise<void> {
    await new Promise((r) => setTimeout(r, REJOIN_AFTER_MS));
    try {
      await this.ctx.supervisor.get(m.id)?.exited;
      await this.ctx.supervisor.get(m.mds)?.exited;
      m.status = 'restarting';
      const mds = await startMds(this.ctx, m.mds, m.ports.mdsPort);
      const started = performance.now();
      const child = this.launch(m);
      this.ctx.event(
        `restarting ${m.id} (pid ${child.pid}) with a fresh ${m.mds} (pid ${mds.pid}): it rejoins the group with state transfer`,
      );
      const line = await child.waitFor((l) => l.entry?.['msg'] === VCL_SIGNS.rejoined, 'rejoined', 60000);
      const e = line.entry!;
      m.status = 'up';
      this.ctx.event(
        `${m.id} rejoined at cut ${String(e['joinedAtCut'])}: ${String(e['stateBytes'])} state bytes (recovery ${String(e['mode'])}) installed in ${String(e['installMs'])} ms, live ${Math.round(performance.now() - started)} ms after restart`,
      );
    } catch (error) {
      m.status = 'down';
      this.ctx.event(`${m.id} did not rejoin: ${(error as Error).message}`);
    }
  }

  line(line: ChildLine): void {
    const e = line.entry;
    if (!e) return;
    const member = this.group.find((m) => m.id === line.child);
    if (member && e['msg'] === VCL_SIGNS.viewInstalled) {
      const id = Number(e['view'] ?? e['viewId']);
      if (!Number.isFinite(id)) return;
      const ids = Array.isArray(e['members']) ? (e['members'] as unknown[]).map(String) : [];
      if (ids.length === this.group.length && member.status === 'starting') member.status = 'up';
      if (this.currentView === undefined || id > this.currentView.id) {
        const first = this.currentView === undefined;
        this.currentView = { id, members: ids };
        if (!first && this.group.every((m) => m.status !== 'starting')) this.ctx.event(`view ${this.describeView()}`);
      }
    } else if (line.child === 'client' && e['msg'] === VCL_SIGNS.failoverComplete) {
      this.failoverCount++;
      const session = String(e['session'] ?? '').slice(0, 8);
      const resent = Number(e['resent'] ?? 0);
      this.ctx.event(
        `fail-over: session ${session} ${String(e['from'])} → ${String(e['to'])} in ${Number(e['durationMs'])} ms, ${resent} request${resent === 1 ? '' : 's'} resent`,
      );
      const v = this.victim;
      if (v && !v.reported && ++v.failedOver >= v.sessions) v.timer = setTimeout(() => this.reportStall(), 1000);
    } else if (line.child === 'client' && e['msg'] === VCL_SIGNS.givingUp) {
      this.ctx.event(`vcl client gave up a session: ${String(e['err'])}`);
    }
  }

  async settle(): Promise<void> {
    this.reportStall();
    // The digests compare all three replicas only once the killed one is back.
    await this.rejoin;
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
  }

  private async startMember(m: Member): Promise<void> {
    const child = this.launch(m);
    await child.waitFor(
      (l) =>
        l.entry?.['msg'] === VCL_SIGNS.viewInstalled &&
        Array.isArray(l.entry['members']) &&
        (l.entry['members'] as unknown[]).length === this.group.length,
      'a view of all members',
      30000,
    );
    m.status = 'up';
  }

  private launch(m: Member): ReturnType<DemoContext['supervisor']['start']> {
    return this.ctx.supervisor.start({
      name: m.id,
      command: process.execPath,
      args: [
        this.cli,
        'service',
        '--config',
        this.stackFile,
        '--member',
        m.id,
        '--service-endpoint',
        `127.0.0.1:${m.ports.mdsPort}`,
      ],
      env: { VCL_LOG_LEVEL: 'info' },
    });
  }

  private describeView(): string {
    return this.currentView ? `#${this.currentView.id} [${this.currentView.members.join(' ')}]` : '(no view yet)';
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const live = this.group.filter((m) => m.status === 'up');
      const answers = await Promise.allSettled(live.map((m) => getStatus(m.ports.adminPort, 300)));
      let best: AdminStatus | undefined;
      for (const a of answers)
        if (a.status === 'fulfilled' && a.value.view && (!best?.view || a.value.view.id > best.view.id)) best = a.value;
      if (best?.sessions)
        this.attached = new Map(best.sessions.filter((s) => s.attached).map((s) => [s.id, s.attached!]));
    } finally {
      this.polling = false;
    }
  }
}
