import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { askLine, httpGet, logLine, spawnNode, vclServiceArgs, type Proc } from './harness';

// Several substrates in one stack, end to end with real processes: three replicas of a counter
// (ordered-counter.cjs), each behind a `vcl service` member that serves two substrates: `tcp`
// (line framing) to the counter's port, and `cli`, which runs counter-cli.sh for every request
// (it changes the same replica's state through the same port, found in the member's environment).
// One `vcl client` process listens for both. Real clients: `net` connections and spawned `vcl-exec`
// processes, interleaved; the member serving a slow command (and at least one net connection) is
// killed with SIGKILL in the middle.

jest.setTimeout(90_000);

const root = path.resolve(__dirname, '../../../..');
const vcl = path.join(root, 'packages/vcl-core/dist/cli/main.js');
const vclExecBin = path.join(root, 'packages/substrate-cli/dist/bin/vcl-exec.js');
const fixtures = path.join(__dirname, 'fixtures');

beforeAll(() => {
  execFileSync(
    'npx',
    [
      'tsc',
      '-b',
      ...['vcl-core', 'substrate-tcp', 'substrate-cli', 'gcs-sequencer'].map((p) => `packages/${p}/tsconfig.lib.json`),
    ],
    { cwd: root, stdio: 'inherit' },
  );
}, 240_000);

/** `n` free ports below 32768 (the ephemeral range starts above), from a random base. */
async function lowPorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  let p = 20_000 + Math.floor(Math.random() * 10_000);
  while (ports.length < n && p < 32_768) {
    const port = p++;
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) ports.push(port);
  }
  if (ports.length < n) throw new Error('not enough free ports below 32768');
  return ports;
}

const counterLog = async (port: number): Promise<[string, number][]> =>
  JSON.parse(await askLine(port, '?log')) as [string, number][];

async function until(what: string, test: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A `net` client on one connection: one request at a time (`<tag> 1`), 15 ms apart, until stopped. */
class NetSession {
  readonly sent: string[] = [];
  readonly answers: string[] = [];
  error: Error | undefined;
  private stopping = false;
  private readonly socket: net.Socket;
  private held = '';
  readonly done: Promise<void>;

  constructor(
    readonly name: string,
    port: number,
  ) {
    this.socket = net.connect(port, '127.0.0.1');
    this.done = new Promise((resolve) => this.socket.on('close', () => resolve()));
    this.socket.on('error', (e) => (this.error = e));
    this.socket.on('data', (d) => {
      this.held += d.toString();
      const lines = this.held.split('\n');
      this.held = lines.pop()!;
      for (const l of lines) {
        this.answers.push(l);
        // Paced, so the machine is not saturated by the net clients alone.
        setTimeout(() => this.next(), 15);
      }
    });
    this.socket.on('connect', () => this.next());
  }

  stop(): void {
    this.stopping = true;
    if (this.answers.length === this.sent.length) this.socket.end();
  }

  private next(): void {
    if (this.socket.destroyed) return;
    if (this.stopping) {
      this.socket.end();
      return;
    }
    const tag = `${this.name}-${this.sent.length + 1}`;
    this.sent.push(tag);
    this.socket.write(`${tag} 1\n`);
  }
}

interface ExecResult {
  readonly tag: string;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

describe('one stack, two substrates (tcp + cli), 3 replicas, real processes', () => {
  const procs: Proc[] = [];
  let dir = '';

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.terminate()));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('net and vcl-exec clients interleave in one total order; a member killed mid-way: every answer exactly once, replicas alike', async () => {
    const t0 = Date.now();
    const ports = await lowPorts(3 * 4 + 3);
    const members = [0, 1, 2].map((i) => ({
      id: `n${i + 1}`,
      port: ports[4 * i]!,
      clientPort: ports[4 * i + 1]!,
      adminPort: ports[4 * i + 2]!,
      counterPort: ports[4 * i + 3]!,
      proc: undefined as Proc | undefined,
      killed: false,
    }));
    const [tcpPort, cliPort, unusedClientPort] = ports.slice(12) as [number, number, number];
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-multi-'));
    const stackFile = path.join(dir, 'stack.yaml');
    fs.writeFileSync(
      stackFile,
      `group:
  name: multi
  members:
${members.map((m) => `    - { id: ${m.id}, host: 127.0.0.1, port: ${m.port}, clientPort: ${m.clientPort}, adminPort: ${m.adminPort} }`).join('\n')}
ordering:
  plugin: sequencer
  options: { heartbeatMs: 50, suspectTimeoutMs: 300 }
substrates:
  - plugin: tcp
    options: { framing: line }
    listen: { host: 127.0.0.1, port: ${tcpPort} }
  - plugin: cli
    options: { timeoutMs: 10000 }
    listen: { host: 127.0.0.1, port: ${cliPort} }
    service: { command: [bash, ${path.join(fixtures, 'counter-cli.sh')}] }
service: { endpoint: { host: 127.0.0.1, port: ${members[0]!.counterPort} } }
client:
  listen: { host: 127.0.0.1, port: ${unusedClientPort} }
  failoverTimeoutMs: 15000
timeouts: { heartbeatMs: 50, suspectMs: 400, connectMs: 1000 }
`,
    );
    const track = (p: Proc): Proc => {
      procs.push(p);
      return p;
    };
    const counters = members.map((m) =>
      track(spawnNode(`counter-${m.id}`, [path.join(fixtures, 'ordered-counter.cjs'), String(m.counterPort)])),
    );
    await Promise.all(counters.map((c) => c.waitFor((l) => l === 'listening', 10_000, 'listening')));
    for (const m of members)
      m.proc = track(
        spawnNode(m.id, vclServiceArgs(vcl, stackFile, m.id, m.counterPort), { COUNTER_PORT: String(m.counterPort) }),
      );
    await Promise.all(
      members.map((m) =>
        m.proc!.waitFor(
          (l) => logLine(l)?.['msg'] === 'view installed' && (logLine(l)!['members'] as unknown[]).length === 3,
          20_000,
          'full view',
        ),
      ),
    );
    const client = track(spawnNode('vcl-client', [vcl, 'client', '--config', stackFile]));
    await client.waitFor(
      () => client.lines.filter((l) => logLine(l)?.['msg'] === 'client interceptor listening').length === 2,
      10_000,
      'both listeners',
    );
    const listening = client.lines.map(logLine).filter((f) => f?.['msg'] === 'client interceptor listening');
    expect(listening.map((f) => [f!['substrate'], (f!['endpoint'] as { port: number }).port])).toEqual([
      ['tcp', tcpPort],
      ['cli', cliPort],
    ]);
    const started = Date.now() - t0;
    const marks: string[] = [];
    const mark = (what: string): number => marks.push(`${what} ${Date.now() - t0}`);

    const live = () => members.filter((m) => !m.killed);
    const status = async () =>
      JSON.parse(await httpGet(live()[0]!.adminPort, '/status')) as {
        sessions: { id: string; attached: string; substrate?: string }[];
      };

    // Net sessions until every member serves at least one, so the kill below hits a net client too
    // (the client-side interceptor picks a session's first member at random); a session landing on
    // a member already covered is ended after its first answer.
    const nets: NetSession[] = [];
    const netAttached = new Set<string>();
    while (netAttached.size < 3 && nets.length < 30) {
      const s = new NetSession(`t${nets.length + 1}`, tcpPort);
      nets.push(s);
      await until('first answer', () => s.answers.length > 0);
      const sessions = (await status()).sessions;
      expect(sessions.every((x) => x.substrate === 'tcp')).toBe(true);
      const attached = sessions[sessions.length - 1]!.attached;
      if (netAttached.has(attached)) s.stop();
      else netAttached.add(attached);
    }
    expect(netAttached.size).toBe(3);
    mark('nets');
    const netSessionIds = new Set((await status()).sessions.map((s) => s.id));

    const execs: ExecResult[] = [];
    const vclExec = (tag: string, extra: string[] = []): Promise<ExecResult> =>
      new Promise((resolve) => {
        const child = spawn(
          process.execPath,
          [vclExecBin, '--config', stackFile, '--no-stdin', '--', tag, '10', ...extra],
          {
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => {
          const r = { tag, code, stdout, stderr };
          execs.push(r);
          resolve(r);
        });
      });
    const execBatch = async (tags: string[]): Promise<void> => {
      for (let i = 0; i < tags.length; i += 2) await Promise.all(tags.slice(i, i + 2).map((t) => vclExec(t)));
    };

    await execBatch(['x1', 'x2', 'x3', 'x4']);
    mark('x');

    // A slow command: once every replica has applied it (the command still sleeps before
    // answering), kill the member its session is attached to.
    const slow = vclExec('s1', ['slow']);
    await until('every replica applied the slow command', async () =>
      (await Promise.all(members.map((m) => counterLog(m.counterPort)))).every((log) => log.some(([t]) => t === 's1')),
    );
    let slowSession: { id: string; attached: string } | undefined;
    await until('the slow session is the only open cli session', async () => {
      const cliSessions = (await status()).sessions.filter((s) => !netSessionIds.has(s.id));
      slowSession = cliSessions.length === 1 ? cliSessions[0] : undefined;
      return slowSession !== undefined;
    });
    const victim = members.find((m) => m.id === slowSession!.attached)!;
    victim.killed = true;
    await victim.proc!.terminate();
    mark('kill');

    await execBatch(['y1', 'y2', 'y3', 'y4']);
    await slow;
    for (const s of nets) s.stop();
    await Promise.all(nets.map((s) => s.done));
    mark('y');

    // Every client got every answer exactly once, in order.
    for (const s of nets) {
      expect(s.error).toBeUndefined();
      expect(s.answers.map((a) => a.split(' ')[0])).toEqual(s.sent);
    }
    const execTags = ['x1', 'x2', 'x3', 'x4', 's1', 'y1', 'y2', 'y3', 'y4'];
    expect(execs.map((e) => e.tag).sort()).toEqual([...execTags].sort());
    for (const e of execs) {
      expect({ tag: e.tag, code: e.code, stderr: e.stderr }).toEqual({ tag: e.tag, code: 0, stderr: '' });
      expect(e.stdout).toMatch(new RegExp(`^cli ${e.tag} \\d+ \\d+\\n$`));
    }

    // Every surviving replica applied every request once, in one and the same order.
    const all = [...nets.flatMap((s) => s.sent), ...execTags];
    const logs = async () => Promise.all(live().map((m) => counterLog(m.counterPort)));
    await until('every survivor applied every request', async () =>
      (await logs()).every((log) => log.length >= all.length),
    );
    const [log, ...others] = await logs();
    for (const other of others) expect(other).toEqual(log);
    expect(log!.map(([t]) => t).sort()).toEqual([...all].sort());
    // The killed member's replica stopped somewhere in that same order.
    const victimLog = await counterLog(victim.counterPort);
    expect(log!.slice(0, victimLog.length)).toEqual(victimLog);

    // Each answer is the state at its request's place in that one order.
    const at = new Map<string, string>();
    let total = 0;
    log!.forEach(([tag, k], i) => at.set(tag, `${tag} ${i + 1} ${(total += k)}`));
    for (const s of nets) expect(s.answers).toEqual(s.sent.map((t) => at.get(t)));
    for (const e of execs) expect(e.stdout).toBe(`cli ${at.get(e.tag)}\n`);
    // The two substrates' requests interleave in it (net requests ran before, between and after the commands).
    const position = (tag: string): number => log!.findIndex(([t]) => t === tag);
    const netPositions = nets.flatMap((s) => s.sent).map(position);
    for (const tag of ['x1', 's1', 'y4'])
      expect([netPositions.some((p) => p < position(tag)), netPositions.some((p) => p > position(tag))]).toEqual([
        true,
        true,
      ]);

    // Sessions of both substrates failed over from the killed member (the slow command's, and the
    // net sessions it served). On a loaded machine a starved member can also look silent for
    // longer than suspectMs, and sessions move away from it too: allowed, it costs no answer.
    const failovers = client.lines.map(logLine).filter((f) => f?.['msg'] === 'fail-over complete');
    const fromVictim = failovers.filter((f) => f!['from'] === victim.id);
    expect(new Set(fromVictim.map((f) => f!['substrate']))).toEqual(new Set(['tcp', 'cli']));
    const reasons = failovers
      .filter((f) => f!['from'] !== victim.id)
      .map((f) => String(f!['reason']).replace(/\d+/g, 'N'));
    console.log(
      `multi-substrate e2e: started in ${started} ms, ${nets.length} net sessions (3 kept), ${all.length} requests, ` +
        `${fromVictim.length} fail-overs from the killed member, ${reasons.length} others (${[...new Set(reasons)].join('; ')}), ` +
        `total ${Date.now() - t0} ms (${marks.join(', ')})`,
    );
  });
});
