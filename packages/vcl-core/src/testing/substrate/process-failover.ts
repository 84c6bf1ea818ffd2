import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Endpoint } from '../../contracts/substrate';
import type { ReplicatedStackHandle, RunningService, SubstrateFailoverHarness } from './fixture';
import { freePorts } from '../process/harness';
import { LineProcess, logLine } from '../process/line-process';

// The fail-over hook with real processes: one `vcl service` per member (sequencer over TCP between
// them) in front of its own real service, one `vcl client`, members killed with SIGKILL.

/** Options of `processFailoverHarness`. */
export interface ProcessFailoverOptions {
  /** The substrate plugin as a stack file names it (`tcp`, `http`, `cli` or a package name). */
  readonly plugin: string;
  /** The plugin's options (`substrates[0].options`); default none. */
  readonly options?: Readonly<Record<string, unknown>>;
  /** The built `vcl` command; default `dist/cli/main.js` of `@vcl/core` (build it first). */
  readonly cli?: string;
  /** How long each process may take to be ready, in ms; default 30000. */
  readonly startTimeoutMs?: number;
  /** How long the client-side interceptor keeps trying to fail over, in ms; default 15000. */
  readonly failoverTimeoutMs?: number;
}

/** One spawned `vcl` process and what it printed (a `LineProcess` that reads its structured log). */
export class VclProcess extends LineProcess {
  /** The structured (JSON) log lines whose `msg` is `msg`. */
  logs(msg: string): Record<string, unknown>[] {
    return this.lines.map(logLine).filter((f): f is Record<string, unknown> => f?.['msg'] === msg);
  }

  /** Resolves once a log line satisfies `match`; rejects after `timeoutMs` or when the process exits. */
  async waitForLog(
    match: (fields: Record<string, unknown>) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<void> {
    await this.waitFor(
      (line) => {
        const f = logLine(line);
        return f !== undefined && match(f);
      },
      timeoutMs,
      what,
    );
  }

  /** The tail of its standard error. */
  override get errors(): string {
    return `stderr: ${super.errors || '(empty)'}`;
  }

  /** Kills it (SIGKILL, our own child by pid) and waits for the exit. */
  async kill(): Promise<void> {
    await this.terminate();
  }
}

/** A member of a process stack. */
export interface ProcessMember {
  /** Member id (`n1`). */
  readonly id: string;
  /** Its admin endpoint port (`/status`). */
  readonly adminPort: number;
  /** Its `vcl service` process. */
  readonly proc: VclProcess;
  /** The real service in front of which it runs. */
  readonly service: RunningService;
  /** Whether the harness killed it. */
  killed: boolean;
}

/** A running process stack: the `ReplicatedStackHandle` plus what tests inspect. */
export interface ProcessStackHandle extends ReplicatedStackHandle {
  /** The members, in configuration order. */
  readonly members: readonly ProcessMember[];
  /** The `vcl client` process. */
  readonly client: VclProcess;
  /** Fail-overs the client-side interceptor has completed (its `fail-over complete` log lines). */
  failovers(): number;
  /** The member the most recently opened live session is attached to, per a live member's `/status`. */
  servingMember(): Promise<ProcessMember>;
}

/** The process fail-over hook; its stacks are `ProcessStackHandle`s. */
export interface ProcessFailoverHarness extends SubstrateFailoverHarness {
  /** Starts the members, their services and the `vcl client`; resolves once clients can connect. */
  start(options: Parameters<SubstrateFailoverHarness['start']>[0]): Promise<ProcessStackHandle>;
}

function getJson(port: number, urlPath: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, timeout: 2000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          try {
            resolve(JSON.parse(body));
          } catch (e) {
            reject(e as Error);
          }
        });
      })
      .on('error', reject);
  });
}

/** The `service:` section for one member's real service. */
function serviceSection(endpoint: Endpoint): Record<string, unknown> {
  if (endpoint.command) return { command: endpoint.command };
  if (endpoint.port === undefined) throw new Error('a fail-over service needs a port or a command');
  return { endpoint: { host: endpoint.host ?? '127.0.0.1', port: endpoint.port } };
}

/**
 * The substrate fail-over hook with real processes: each member is a `vcl service` process (its own
 * stack file, so each can front its own service, port or command), the sequencer orders between
 * them over TCP, one `vcl client` accepts the real client, and `killServingMember` SIGKILLs the
 * member the client's session is attached to and closes that member's service.
 *
 * @example
 * ```ts
 * const failover = processFailoverHarness({ plugin: 'tcp', options: { framing: 'line' } });
 * describeSubstrateConformance({ ...fixture, failover });
 * ```
 */
export function processFailoverHarness(options: ProcessFailoverOptions): ProcessFailoverHarness {
  const cli = options.cli ?? path.resolve(__dirname, '../../../dist/cli/main.js');
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  return {
    async start({ service, members: n }): Promise<ProcessStackHandle> {
      if (!fs.existsSync(cli)) throw new Error(`${cli} does not exist: build @vcl/core first`);
      const ports = await freePorts(3 * n + 1);
      const clientPort = ports[3 * n]!;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-failover-'));
      const services: RunningService[] = [];
      const procs: VclProcess[] = [];
      const stop = async (): Promise<void> => {
        await Promise.all(procs.map((p) => p.kill()));
        await Promise.all(services.map((s) => s.close().catch(() => undefined)));
        fs.rmSync(dir, { recursive: true, force: true });
      };
      const spawnVcl = (name: string, args: string[]): VclProcess => {
        const child = spawn(process.execPath, [cli, ...args], {
          env: { ...process.env, VCL_LOG_LEVEL: 'info' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const p = new VclProcess(name, child);
        procs.push(p);
        return p;
      };
      try {
        for (let i = 0; i < n; i++) services.push(await service());
        const group = Array.from({ length: n }, (_, i) => ({
          id: `n${i + 1}`,
          host: '127.0.0.1',
          port: ports[3 * i]!,
          clientPort: ports[3 * i + 1]!,
          adminPort: ports[3 * i + 2]!,
        }));
        const stack = (s: RunningService): Record<string, unknown> => ({
          group: { name: 'substrate-failover', members: group },
          ordering: { plugin: 'sequencer', options: { heartbeatMs: 50, suspectTimeoutMs: 300 } },
          substrates: [{ plugin: options.plugin, ...(options.options ? { options: options.options } : {}) }],
          service: serviceSection(s.endpoint),
          client: {
            listen: { host: '127.0.0.1', port: clientPort },
            failoverTimeoutMs: options.failoverTimeoutMs ?? 15_000,
          },
          timeouts: { heartbeatMs: 50, suspectMs: 400, connectMs: 1000 },
        });
        const files = services.map((s, i) => {
          const file = path.join(dir, `stack-${i + 1}.yaml`);
          fs.writeFileSync(file, JSON.stringify(stack(s), null, 2));
          return file;
        });
        const members: ProcessMember[] = group.map((g, i) => ({
          id: g.id,
          adminPort: g.adminPort,
          service: services[i]!,
          proc: spawnVcl(g.id, ['service', '--config', files[i]!, '--member', g.id]),
          killed: false,
        }));
        await Promise.all(
          members.map((m) =>
            m.proc.waitForLog(
              (f) => f['msg'] === 'view installed' && (f['members'] as unknown[]).length === n,
              timeoutMs,
              'view of every member',
            ),
          ),
        );
        const client = spawnVcl('vcl-client', ['client', '--config', files[0]!]);
        await client.waitForLog((f) => f['msg'] === 'client interceptor listening', timeoutMs, 'client listening');
        const servingMember = async (): Promise<ProcessMember> => {
          const asker = members.find((m) => !m.killed)!;
          const status = (await getJson(asker.adminPort, '/status')) as { sessions: { attached: string }[] };
          const live = status.sessions.filter((s) => members.some((m) => m.id === s.attached && !m.killed));
          const attached = members.find((m) => m.id === live[live.length - 1]?.attached);
          if (!attached) throw new Error(`no live session attached to a live member: ${JSON.stringify(status)}`);
          return attached;
        };
        return {
          endpoint: { host: '127.0.0.1', port: clientPort },
          members,
          client,
          failovers: () => client.logs('fail-over complete').length,
          servingMember,
          async killServingMember() {
            const victim = await servingMember();
            victim.killed = true;
            await victim.proc.kill();
            await victim.service.close();
          },
          stop,
        };
      } catch (error) {
        await stop();
        throw error;
      }
    },
  };
}
