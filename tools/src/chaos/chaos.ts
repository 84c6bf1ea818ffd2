import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  logLine,
  lowPorts,
  sleep,
  spawnNode,
  toolsProgram,
  vclCli,
  vclServiceArgs,
  type Proc,
} from '../bench/processes';
import { stackYaml, type LoopbackMember } from '../bench/stack-file';
import { checkRegister, firstViolation, type RegisterOp } from './linearizability';
import { faultSchedule, seededRandom, type FaultEvent } from './schedule';

// `npm run chaos`: a replicated register service (`vcl service` + one replica per member), clients
// through `vcl client` processes running a workload whose every answer can be checked, and a seeded
// schedule of SIGKILL, SIGSTOP/SIGCONT and (with --restarts) restarts. Every request is recorded
// with its invoke and complete times, then checked: nothing lost, duplicated or reordered per
// client, every client connection stayed up, equal digests at the replicas that never left the
// group, and a linearizable history of the shared register.

/** Options of one chaos run. */
export interface ChaosOptions {
  /** Ordering plugin short name. */
  readonly ordering: 'sequencer' | 'tokenring';
  /** Seconds of workload under faults. */
  readonly durationS: number;
  /** Clients (each through its own `vcl client`). Default 3. */
  readonly clients: number;
  /** Members, 3 or 5. Default 3. */
  readonly members: 3 | 5;
  /** Seed of the fault schedule and the workload. */
  readonly seed: number;
  /**
   * Restart killed members (a fresh replica rejoining with `service.recovery: <recovery>`), and
   * compare the digests of rejoined members too. Off until replica state transfer has landed.
   */
  readonly restarts: boolean;
  /** `service.recovery` written into the stack file when `restarts` is on. Default `replay`. */
  readonly recovery: 'replay' | 'snapshot';
  /** Requests each client keeps in flight. Default 2. */
  readonly window: number;
  /** A fixed schedule instead of the seeded one (tests). */
  readonly schedule?: readonly FaultEvent[];
  /** Write every request (client, seq, op, value, result, invoke/complete ms since start) here as JSON lines. */
  readonly historyFile?: string;
}

/** Per-client findings. */
export interface ClientReport {
  /** Client id. */
  readonly id: string;
  /** Requests sent. */
  readonly requests: number;
  /** Requests sent that never got a response, plus counter answers showing a request not applied. */
  readonly lost: number;
  /** Responses to a request already answered, plus counter answers showing a request applied twice. */
  readonly duplicated: number;
  /** Responses that came before the response to an earlier request. */
  readonly reordered: number;
  /** Whether the client's connection closed or failed before the end. */
  readonly disconnected: boolean;
}

/** What a chaos run found. */
export interface ChaosReport {
  /** Ordering plugin. */
  readonly ordering: string;
  /** Seed to replay. */
  readonly seed: number;
  /** Requests sent by every client. */
  readonly requests: number;
  /** Fail-overs the client-side interceptors completed. */
  readonly failovers: number;
  /** Sum over clients. */
  readonly lost: number;
  /** Sum over clients. */
  readonly duplicated: number;
  /** Sum over clients. */
  readonly reordered: number;
  /** Client connections that did not stay up. */
  readonly disconnected: number;
  /** Compared replicas whose digest differs from the most common one. */
  readonly diverged: number;
  /** Linearizability of the shared register's history. */
  readonly linearizable: 'yes' | 'no' | 'unknown';
  /** Per-client findings. */
  readonly clients: readonly ClientReport[];
  /** The faults applied. */
  readonly faults: readonly FaultEvent[];
  /** Digest of each compared member. */
  readonly digests: Readonly<Record<string, string>>;
  /** Members left out of the digest comparison, and why. */
  readonly excluded: Readonly<Record<string, string>>;
  /** Register operations checked. */
  readonly registerOps: number;
  /** When the register history is not linearizable: the operation whose completion first breaks it. */
  readonly violation?: string;
  /** Wall-clock seconds of the run. */
  readonly seconds: number;
}

/** The last line: `chaos: ordering=... requests=R failovers=F lost=0 duplicated=0 reordered=0 diverged=0 linearizable=yes`. */
export function chaosLine(r: ChaosReport): string {
  const clean = chaosClean(r);
  return (
    `chaos: ordering=${r.ordering} requests=${r.requests} failovers=${r.failovers} lost=${r.lost} ` +
    `duplicated=${r.duplicated} reordered=${r.reordered} diverged=${r.diverged} linearizable=${r.linearizable}` +
    (r.disconnected ? ` disconnected=${r.disconnected}` : '') +
    (clean ? '' : ` seed=${r.seed}`)
  );
}

/** Whether every check passed. */
export function chaosClean(r: ChaosReport): boolean {
  return (
    r.lost === 0 &&
    r.duplicated === 0 &&
    r.reordered === 0 &&
    r.diverged === 0 &&
    r.disconnected === 0 &&
    r.linearizable === 'yes'
  );
}

interface Request {
  readonly seq: number;
  readonly op: 'inc' | 'w' | 'r';
  readonly value: string;
  /** The counter value an `inc` must return. */
  readonly expect: number;
  readonly call: number;
  ret?: number;
  result?: string;
}

/** One client of the workload: per-client counter increments and reads/writes of the shared register. */
class ChaosClient {
  readonly requests: Request[] = [];
  lost = 0;
  duplicated = 0;
  reordered = 0;
  disconnected = false;
  private inflight = 0;
  private incs = 0;
  private nextExpected = 1;
  private stopping = false;
  private held = '';
  private idle: (() => void) | undefined;

  constructor(
    readonly id: string,
    private readonly socket: net.Socket,
    private readonly rand: () => number,
    private readonly window: number,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.held += d;
      const lines = this.held.split('\n');
      this.held = lines.pop()!;
      for (const l of lines) this.response(l);
    });
    const down = (): void => {
      if (!this.stopping) this.disconnected = true;
      this.idle?.();
    };
    socket.on('close', down);
    socket.on('error', down);
  }

  start(): void {
    this.pump();
  }

  /** Stops sending; resolves once every request in flight is answered or `timeoutMs` passed. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    if (this.inflight > 0 && !this.socket.destroyed) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((r) => {
        this.idle = r;
        timer = setTimeout(r, timeoutMs);
      });
      clearTimeout(timer);
    }
    this.lost += this.requests.filter((q) => q.ret === undefined).length;
    this.socket.destroy();
  }

  private pump(): void {
    while (!this.stopping && this.inflight < this.window && !this.socket.destroyed) {
      const seq = this.requests.length + 1;
      const x = this.rand();
      const op = x < 0.4 ? 'inc' : x < 0.7 ? 'w' : 'r';
      const value = op === 'w' ? `${this.id}.${seq}` : '';
      const req: Request = { seq, op, value, expect: op === 'inc' ? ++this.incs : 0, call: performance.now() };
      this.requests.push(req);
      this.inflight++;
      this.socket.write(`${this.id} ${seq} ${op}${value ? ` ${value}` : ''}\n`);
    }
  }

  private response(line: string): void {
    const now = performance.now();
    const [client, seqText, result = ''] = line.split(' ');
    const seq = Number(seqText);
    const req = client === this.id && Number.isInteger(seq) ? this.requests[seq - 1] : undefined;
    if (!req || req.ret !== undefined) {
      this.duplicated++;
      return;
    }
    if (seq !== this.nextExpected) this.reordered++;
    req.ret = now;
    req.result = result;
    this.inflight--;
    if (req.op === 'inc') {
      const got = Number(result);
      if (got > req.expect) this.duplicated++;
      else if (got < req.expect || !Number.isInteger(got)) this.lost++;
    }
    while (this.requests[this.nextExpected - 1]?.ret !== undefined) this.nextExpected++;
    if (this.inflight === 0) this.idle?.();
    this.pump();
  }

  report(): ClientReport {
    return {
      id: this.id,
      requests: this.requests.length,
      lost: this.lost,
      duplicated: this.duplicated,
      reordered: this.reordered,
      disconnected: this.disconnected,
    };
  }

  registerOps(): RegisterOp[] {
    return this.requests
      .filter((q) => q.op !== 'inc')
      .map((q) => ({
        kind: q.op === 'w' ? 'w' : 'r',
        value: q.op === 'w' ? q.value : (q.result ?? ''),
        call: q.call,
        ...(q.ret !== undefined ? { ret: q.ret } : {}),
        label: `${this.id}:${q.seq}`,
      }));
  }
}

interface ChaosMember extends LoopbackMember {
  proc?: Proc;
  service?: Proc;
  killed: boolean;
  frozen: boolean;
  restarted: boolean;
  /** Left out of some installed view after the first full one (frozen long enough, or killed). */
  leftView: boolean;
}

function orderingOptions(ordering: string): Record<string, number> {
  return ordering === 'tokenring'
    ? { tokenLossMs: 400, holdMs: 5 }
    : { heartbeatMs: 50, suspectTimeoutMs: 300, confirmTimeoutMs: 150 };
}

/** Runs one chaos run; `progress` gets a line now and then. */
export async function runChaos(o: ChaosOptions, progress: (line: string) => void = () => {}): Promise<ChaosReport> {
  const startedAt = performance.now();
  const n = o.members;
  const ports = await lowPorts(4 * n + o.clients);
  const members: ChaosMember[] = Array.from({ length: n }, (_, i) => ({
    id: `n${i + 1}`,
    port: ports[4 * i]!,
    clientPort: ports[4 * i + 1]!,
    servicePort: ports[4 * i + 2]!,
    adminPort: ports[4 * i + 3]!,
    killed: false,
    frozen: false,
    restarted: false,
    leftView: false,
  }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-chaos-'));
  const stackFile = path.join(dir, 'stack.yaml');
  fs.writeFileSync(
    stackFile,
    stackYaml({
      name: 'chaos',
      members,
      ordering: o.ordering,
      orderingOptions: orderingOptions(o.ordering),
      framing: 'line',
      clientPort: ports[4 * n]!,
      ...(o.restarts ? { recovery: o.recovery, dataDir: path.join(dir, 'data') } : {}),
      timeouts: { heartbeatMs: 50, suspectMs: 400, connectMs: 1000 },
      failoverTimeoutMs: 15000,
    }),
  );
  const procs: Proc[] = [];
  const track = (p: Proc): Proc => (procs.push(p), p);
  let fullViewSeen = false;
  const startService = async (m: ChaosMember): Promise<void> => {
    m.service = track(spawnNode(`service-${m.id}`, [toolsProgram('chaos/service-main'), String(m.servicePort)]));
    await m.service.waitFor((l) => l === 'listening', 15_000, 'listening');
  };
  const startMember = (m: ChaosMember): Proc => {
    const p = track(spawnNode(m.id, vclServiceArgs(vclCli, stackFile, m.id, m.servicePort), {}, false));
    p.onLine((l) => {
      if (!l.includes('view installed')) return;
      const ids = (logLine(l)?.['members'] as unknown[] | undefined)?.map(String) ?? [];
      // Only a primary (majority) view says who is out; a member coming back may log its own minority view.
      if (!fullViewSeen || ids.length <= n / 2) return;
      for (const x of members) if (!ids.includes(x.id)) x.leftView = true;
    });
    m.proc = p;
    return p;
  };
  const clients: ChaosClient[] = [];
  let failovers = 0;
  const applied: FaultEvent[] = [];
  let lastAttached: ChaosMember | undefined;
  try {
    progress(`chaos: starting ${n} members (${o.ordering}), ${o.clients} clients, seed ${o.seed}`);
    await Promise.all(members.map(startService));
    await Promise.all(
      members.map((m) =>
        startMember(m).waitFor(
          (l) => {
            const f = logLine(l);
            return f?.['msg'] === 'view installed' && (f['members'] as unknown[]).length === n;
          },
          60_000,
          'full view',
        ),
      ),
    );
    fullViewSeen = true;
    const rand = seededRandom(o.seed ^ 0x5bd1e995);
    for (let i = 0; i < o.clients; i++) {
      const port = ports[4 * n + i]!;
      const c = track(
        spawnNode(
          `vcl-client-${i + 1}`,
          [vclCli, 'client', '--config', stackFile, '--listen', `127.0.0.1:${port}`],
          {},
          false,
        ),
      );
      c.onLine((l) => {
        if (l.includes('fail-over complete')) failovers++;
      });
      await c.waitFor((l) => logLine(l)?.['msg'] === 'client interceptor listening', 30_000, 'client listening');
      const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      const seedOfClient = Math.floor(rand() * 2 ** 32);
      clients.push(new ChaosClient(`c${i + 1}`, socket, seededRandom(seedOfClient), o.window));
    }
    const schedule =
      o.schedule ??
      faultSchedule({
        seed: o.seed,
        durationMs: o.durationS * 1000,
        members: members.map((m) => m.id),
        restarts: o.restarts,
      });
    const t0 = performance.now();
    for (const c of clients) c.start();
    const byId = new Map(members.map((m) => [m.id, m]));
    let lastProgress = t0;
    for (const e of schedule) {
      while (performance.now() - t0 < e.at) {
        await sleep(Math.min(100, e.at - (performance.now() - t0)));
        if (performance.now() - lastProgress > 5000) {
          lastProgress = performance.now();
          progress(chaosProgress(t0, clients, failovers));
        }
      }
      // `@attached` picks the busiest member for a kill or freeze; a thaw or restart of `@attached`
      // means the member the last freeze or kill of `@attached` hit.
      const m =
        e.member === SAME || (e.member === ATTACHED && (e.kind === 'thaw' || e.kind === 'restart'))
          ? lastAttached
          : e.member === ATTACHED
            ? await attachedMember(members)
            : byId.get(e.member);
      if (e.member === ATTACHED) lastAttached = m;
      if (!m) {
        progress(`chaos: ${e.kind} ${e.member}: no such member, skipped`);
        continue;
      }
      switch (e.kind) {
        case 'kill':
          m.proc?.signal('SIGKILL');
          m.service?.signal('SIGKILL');
          m.killed = true;
          m.frozen = false;
          break;
        case 'freeze':
          m.proc?.signal('SIGSTOP');
          m.frozen = true;
          break;
        case 'thaw':
          m.proc?.signal('SIGCONT');
          m.frozen = false;
          break;
        case 'restart':
          await Promise.all([m.proc?.exited, m.service?.exited]);
          await startService(m);
          startMember(m);
          m.killed = false;
          m.restarted = true;
          break;
      }
      applied.push({ ...e, member: m.id });
      progress(`chaos: ${((performance.now() - t0) / 1000).toFixed(1)} s ${e.kind} ${m.id}`);
    }
    while (performance.now() - t0 < o.durationS * 1000) {
      await sleep(Math.min(200, o.durationS * 1000 - (performance.now() - t0)));
      if (performance.now() - lastProgress > 5000) {
        lastProgress = performance.now();
        progress(chaosProgress(t0, clients, failovers));
      }
    }
    for (const m of members)
      if (m.frozen) {
        m.proc?.signal('SIGCONT');
        m.frozen = false;
      }
    await Promise.all(clients.map((c) => c.stop(20_000)));
    // Replicas that never left the group must agree; a member that was killed, or that left a view
    // and came back, has no state transfer yet unless --restarts says the stack recovers it.
    const excluded: Record<string, string> = {};
    const compared = members.filter((m) => {
      if (m.killed) excluded[m.id] = 'killed';
      else if (!o.restarts && m.restarted) excluded[m.id] = 'restarted without state transfer';
      else if (!o.restarts && m.leftView) excluded[m.id] = 'left a view and rejoined without state transfer';
      else return true;
      return false;
    });
    const digests = await settledDigests(compared);
    for (const m of members)
      if (excluded[m.id] && !m.killed)
        excluded[m.id] += ` (digest ${await digestOf(m.servicePort).catch((e: Error) => e.message)})`;
    const counts = new Map<string, number>();
    for (const d of Object.values(digests)) counts.set(d, (counts.get(d) ?? 0) + 1);
    const majority = Math.max(0, ...counts.values());
    const diverged = Object.keys(digests).length - majority;
    if (o.historyFile)
      fs.writeFileSync(
        o.historyFile,
        clients
          .flatMap((c) =>
            c.requests.map((q) =>
              JSON.stringify({
                client: c.id,
                seq: q.seq,
                op: q.op,
                value: q.value,
                result: q.result,
                call: Number((q.call - t0).toFixed(2)),
                ret: q.ret === undefined ? null : Number((q.ret - t0).toFixed(2)),
              }),
            ),
          )
          .join('\n') + '\n',
      );
    const registerOps = clients.flatMap((c) => c.registerOps());
    const lin = checkRegister(registerOps, '0');
    const culprit = lin.verdict === 'no' ? firstViolation(registerOps, '0') : undefined;
    const reports = clients.map((c) => c.report());
    const sum = (f: (r: ClientReport) => number): number => reports.reduce((a, r) => a + f(r), 0);
    return {
      ordering: o.ordering,
      seed: o.seed,
      requests: sum((r) => r.requests),
      failovers,
      lost: sum((r) => r.lost),
      duplicated: sum((r) => r.duplicated),
      reordered: sum((r) => r.reordered),
      disconnected: reports.filter((r) => r.disconnected).length,
      diverged,
      linearizable: lin.verdict,
      clients: reports,
      faults: applied,
      digests,
      excluded,
      registerOps: registerOps.length,
      ...(culprit
        ? {
            violation:
              `${culprit.label} ${culprit.kind === 'w' ? `write ${culprit.value}` : `read -> ${culprit.value}`}` +
              ` (${(culprit.call - t0).toFixed(1)}..${(culprit.ret! - t0).toFixed(1)} ms)`,
          }
        : {}),
      seconds: Math.round((performance.now() - startedAt) / 1000),
    };
  } finally {
    await Promise.all(procs.map((p) => p.terminate()));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** In a fixed schedule: the live member most client sessions are attached to, resolved when the fault is applied. */
export const ATTACHED = '@attached';

/** In a fixed schedule: the member the last `@attached` fault hit (a thaw or restart of `@attached` means the same). */
export const SAME = '@same';

/** The live, running member most sessions are attached to, per a live member's replicated session table. */
async function attachedMember(members: readonly ChaosMember[]): Promise<ChaosMember | undefined> {
  const live = members.filter((m) => !m.killed && !m.frozen);
  // A member that left a view and came back may hold a stale session table: ask the others first.
  const askers = [...live.filter((m) => !m.leftView), ...live.filter((m) => m.leftView)];
  for (const asker of askers) {
    try {
      const status = JSON.parse(await httpGet(asker.adminPort!, '/status')) as { sessions: { attached?: string }[] };
      const counts = new Map<string, number>();
      for (const s of status.sessions) if (s.attached) counts.set(s.attached, (counts.get(s.attached) ?? 0) + 1);
      const ranked = live.filter((m) => counts.has(m.id)).sort((a, b) => counts.get(b.id)! - counts.get(a.id)!);
      if (ranked[0]) return ranked[0];
    } catch {
      // Ask the next one.
    }
  }
  return live[0];
}

function httpGet(port: number, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, timeout: 2000 }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      })
      .on('error', reject)
      .on('timeout', function (this: http.ClientRequest) {
        this.destroy(new Error('timeout'));
      });
  });
}

function chaosProgress(t0: number, clients: readonly ChaosClient[], failovers: number): string {
  const requests = clients.reduce((a, c) => a + c.requests.length, 0);
  return `chaos: ${((performance.now() - t0) / 1000).toFixed(0)} s requests=${requests} failovers=${failovers}`;
}

/** Asks a replica for its digest directly (bypassing VCL). */
function digestOf(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.setTimeout(2000, () => socket.destroy(new Error('digest timeout')));
    socket.on('data', (d) => {
      got += d.toString();
      if (got.includes('\n')) {
        socket.destroy();
        resolve(got.trim());
      }
    });
    socket.on('error', reject);
    socket.write('?digest\n');
  });
}

/** Digests of `members`, polled until they agree (a replica may still be applying the last requests) or 10 s passed. */
async function settledDigests(members: readonly ChaosMember[]): Promise<Record<string, string>> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const got = await Promise.all(
      members.map((m) => digestOf(m.servicePort).catch((e: Error) => `error: ${e.message}`)),
    );
    if (new Set(got).size <= 1 || performance.now() > deadline)
      return Object.fromEntries(members.map((m, i) => [m.id, got[i]!]));
    await sleep(100);
  }
}
