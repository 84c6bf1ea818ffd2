import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePorts, logLine, vclServiceArgs, VclProcess } from '@vcl/core/testing';
import { settledDigests, startRedis, type RedisReplica } from './redis-server';

// Three `vcl service` members, each in front of its own redis-server, and one `vcl client`, from
// one stack file (each member dials its replica with --service-endpoint); members can be killed
// with their replica and restarted with a fresh one, to rejoin by state transfer.

const root = path.resolve(__dirname, '../../..');
const cli = path.join(root, 'packages/vcl-core/dist/cli/main.js');
const stateTool = path.join(root, 'packages/substrate-resp/dist/bin/vcl-redis-state.js');

/** One member with its replica. */
export interface RedisMember {
  readonly id: string;
  readonly port: number;
  readonly clientPort: number;
  readonly adminPort: number;
  readonly redisPort: number;
  proc?: VclProcess;
  redis?: RedisReplica;
}

/** A deployment whose members recover with `mode` (`snapshot`: vcl-redis-state save/load; `replay`: reset + replay). */
export class RedisDeployment {
  readonly members: RedisMember[] = [];
  client?: VclProcess;
  clientPort = 0;
  private dir = '';
  private stackFile = '';

  constructor(readonly mode: 'snapshot' | 'replay') {}

  async start(): Promise<void> {
    const ports = await freePorts(13);
    for (let i = 0; i < 3; i++)
      this.members.push({
        id: `n${i + 1}`,
        port: ports[4 * i]!,
        clientPort: ports[4 * i + 1]!,
        adminPort: ports[4 * i + 2]!,
        redisPort: ports[4 * i + 3]!,
      });
    this.clientPort = ports[12]!;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-redis-rejoin-'));
    this.stackFile = path.join(this.dir, 'stack.yaml');
    fs.writeFileSync(this.stackFile, this.stackYaml());
    await Promise.all(this.members.map(async (m) => (m.redis = await startRedis([], m.redisPort))));
    for (const m of this.members) this.startMember(m);
    await Promise.all(
      this.members.map((m) =>
        m.proc!.waitForLog(
          (f) => f['msg'] === 'view installed' && (f['members'] as unknown[]).length === 3,
          30_000,
          'full view',
        ),
      ),
    );
    this.client = this.spawn('vcl-client', [cli, 'client', '--config', this.stackFile]);
    await this.client.waitForLog((f) => f['msg'] === 'client interceptor listening', 30_000, 'client listening');
  }

  /** SIGKILLs member `m` and its redis-server. */
  async kill(m: RedisMember): Promise<void> {
    await m.proc!.kill();
    await m.redis!.close();
  }

  /** Restarts `m` with a fresh, empty redis-server; resolves with its `rejoined the group: live` log fields. */
  async restart(m: RedisMember): Promise<Record<string, unknown>> {
    m.redis = await startRedis([], m.redisPort);
    this.startMember(m);
    const proc = m.proc!;
    await proc.waitForLog((f) => f['msg'] === 'rejoined the group: live', 60_000, 'rejoined the group');
    return proc.logs('rejoined the group: live')[0]!;
  }

  /** The replicas' DEBUG DIGESTs once they are equal (or after 20 s). */
  digests(): Promise<string[]> {
    return settledDigests(this.members.map((m) => m.redis!));
  }

  async stop(): Promise<void> {
    await Promise.all([this.client, ...this.members.map((m) => m.proc)].map((p) => p?.kill()));
    await Promise.all(this.members.map((m) => m.redis?.close()));
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private startMember(m: RedisMember): void {
    m.proc = this.spawn(m.id, vclServiceArgs(cli, this.stackFile, m.id, m.redisPort));
  }

  private spawn(name: string, args: string[]): VclProcess {
    return new VclProcess(
      name,
      spawn(process.execPath, args, {
        env: { ...process.env, VCL_LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
  }

  private stackYaml(): string {
    const tool = (action: string): string => JSON.stringify([process.execPath, stateTool, action]);
    return `group:
  name: redis-rejoin
  members:
${this.members.map((m) => `    - { id: ${m.id}, host: 127.0.0.1, port: ${m.port}, clientPort: ${m.clientPort}, adminPort: ${m.adminPort} }`).join('\n')}
ordering:
  plugin: sequencer
  options: { heartbeatMs: 50, suspectTimeoutMs: 300 }
substrates: [{ plugin: resp }]
service:
  endpoint: { host: 127.0.0.1, port: ${this.members[0]!.redisPort} }
  recovery: ${this.mode}
  dataDir: ${JSON.stringify(path.join(this.dir, 'data'))}
  resetCommand: ${tool('reset')}
  snapshot: { save: ${tool('save')}, load: ${tool('load')} }
client:
  listen: { host: 127.0.0.1, port: ${this.clientPort} }
  failoverTimeoutMs: 20000
timeouts: { heartbeatMs: 50, suspectMs: 400, connectMs: 1000 }
admin: { enabled: true }
`;
  }
}

export { logLine };
