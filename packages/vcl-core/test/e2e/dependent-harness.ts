import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { askLine, httpGet, logLine, spawnNode, vclServiceArgs, type Proc } from './harness';

// Test deployments for dependent services: a replicated service A (3 members, each with a
// `dependent-service.cjs` replica that calls a dependency through its member's outbound listener)
// and its dependency: a replicated counter B (3 members) or a plain slow counter.

const root = path.resolve(__dirname, '../../../..');
const cli = path.join(root, 'packages/vcl-core/dist/cli/main.js');
const fixtures = path.join(__dirname, 'fixtures');

/** `n` consecutive free loopback ports below 32768 (outside the usual ephemeral range). */
export async function lowPorts(n: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (12_000 - n));
    const ports = Array.from({ length: n }, (_, i) => base + i);
    if ((await Promise.all(ports.map(free))).every(Boolean)) return ports;
  }
  throw new Error(`no ${n} free consecutive ports below 32768`);
}

function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** One member of a group in a test deployment. */
export interface GroupMember {
  /** Member id. */
  readonly id: string;
  /** Member<->member port. */
  readonly port: number;
  /** Client-side interceptor port. */
  readonly clientPort: number;
  /** Admin port. */
  readonly adminPort: number;
  /** The replica's own port. */
  readonly servicePort: number;
  /** A only: the member's local outbound listener for the dependency. */
  readonly outboundPort: number;
  /** `vcl service`. */
  proc?: Proc;
  /** The replica. */
  service?: Proc;
}

/** A group of 3 members in a test deployment. */
export class Group {
  readonly members: GroupMember[] = [];
  stackFile = '';

  constructor(
    readonly name: string,
    ports: number[],
  ) {
    for (let i = 0; i < 3; i++)
      this.members.push({
        id: `n${i + 1}`,
        port: ports[5 * i]!,
        clientPort: ports[5 * i + 1]!,
        adminPort: ports[5 * i + 2]!,
        servicePort: ports[5 * i + 3]!,
        outboundPort: ports[5 * i + 4]!,
      });
  }

  /** The stack file text; `extra` is appended (e.g. `dependencies:`). */
  yaml(clientPort: number, extra = '', only?: string): string {
    const members = this.members
      .filter((m) => !only || m.id === only)
      .map(
        (m) =>
          `    - { id: ${m.id}, host: 127.0.0.1, port: ${m.port}, clientPort: ${m.clientPort}, adminPort: ${m.adminPort} }`,
      )
      .join('\n');
    return `group:
  name: ${this.name}
  members:
${members}
ordering:
  plugin: sequencer
  options: { heartbeatMs: 50, suspectTimeoutMs: 300 }
substrate: { plugin: tcp, options: { framing: line } }
service: { endpoint: { host: 127.0.0.1, port: ${this.members[0]!.servicePort} } }
client:
  listen: { host: 127.0.0.1, port: ${clientPort} }
  failoverTimeoutMs: 15000
timeouts: { heartbeatMs: 50, suspectMs: 400, connectMs: 1000 }
${extra}`;
  }

  /** The session table of a live member. */
  async sessions(): Promise<{ id: string; attached: string }[]> {
    const m = this.members.find((x) => !x.proc!.dead)!;
    return (JSON.parse(await httpGet(m.adminPort, '/status')) as { sessions: { id: string; attached: string }[] })
      .sessions;
  }

  /** Kills member `m`: its `vcl service` and its replica (SIGKILL). */
  kill(m: GroupMember): void {
    m.proc!.signal('SIGKILL');
    m.service!.signal('SIGKILL');
  }

  /** A line answered by the replica of `m` directly (bypassing VCL). */
  ask(m: GroupMember, line: string): Promise<string> {
    return askLine(m.servicePort, line);
  }
}

/** Processes and files of one test, removed by `stop`. */
export class Rig {
  readonly procs: Proc[] = [];
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-dep-'));

  /** Writes `name` in the rig's directory and returns its path. */
  file(name: string, text: string): string {
    const p = path.join(this.dir, name);
    fs.writeFileSync(p, text);
    return p;
  }

  /** Spawns `node <fixture> ...args`. */
  fixture(name: string, script: string, args: readonly (string | number)[]): Proc {
    return this.track(spawnNode(name, [path.join(fixtures, script), ...args.map(String)]));
  }

  /** Starts every member of `g` with its replica (`replica(m)` gives the fixture and args), waits for a full view. */
  async startGroup(
    g: Group,
    stackFile: string,
    replica: (m: GroupMember) => [string, (string | number)[]],
  ): Promise<void> {
    g.stackFile = stackFile;
    for (const m of g.members) {
      const [script, args] = replica(m);
      m.service = this.fixture(`${g.name}-service-${m.id}`, script, args);
    }
    await Promise.all(g.members.map((m) => m.service!.waitFor((l) => l === 'listening', 10_000, 'listening')));
    for (const m of g.members)
      m.proc = this.track(spawnNode(`${g.name}-${m.id}`, vclServiceArgs(cli, stackFile, m.id, m.servicePort)));
    await Promise.all(
      g.members.map((m) =>
        m.proc!.waitFor(
          (l) => {
            const f = logLine(l);
            return f?.['msg'] === 'view installed' && (f['members'] as unknown[]).length === 3;
          },
          20_000,
          'full view',
        ),
      ),
    );
  }

  /** Starts `vcl client` for a stack file and waits until it listens. */
  async startClient(name: string, stackFile: string): Promise<Proc> {
    const p = this.track(spawnNode(name, [cli, 'client', '--config', stackFile]));
    await p.waitFor((l) => logLine(l)?.['msg'] === 'client interceptor listening', 10_000, 'client listening');
    return p;
  }

  /** Starts the line load client against `port`: one session `prefix0`, `requests` requests, one at a time. */
  load(prefix: string, port: number, requests: number): Proc {
    const opts = { mode: 'external', port, sessions: 1, requests, window: 1, prefix };
    return this.track(spawnNode(`load-${prefix}`, [path.join(fixtures, 'load-client.cjs'), JSON.stringify(opts)]));
  }

  /** Kills every process and removes the files. */
  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.terminate()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private track(p: Proc): Proc {
    this.procs.push(p);
    return p;
  }
}
