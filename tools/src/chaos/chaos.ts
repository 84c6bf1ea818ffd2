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
import { faultSchedule, seededRandom, type FaultEvent } from './schedule';
import { checkWorkload, planRequest, requestLine, type Recorded, type WorkloadOp } from './workload';
import {
  episodes,
  longestDeliveryGap,
  majorityUp,
  refusedWithoutMajority,
  viewsPerFault,
  type EpisodeKind,
  type UpChange,
  type ViewsPerFault,
} from './timeline';

// `npm run chaos`: a replicated register service (`vcl service` + one replica per member), clients
// through `vcl client` processes running a workload whose every answer can be checked, and a seeded
// schedule of SIGKILL, SIGSTOP/SIGCONT and (with --restarts) restarts. Every request is recorded
// with its invoke and complete times, then checked: nothing lost, duplicated or reordered per
// client, every client connection stayed up, equal digests at the replicas that never left the
// group, a linearizable history of the shared register, and no long silence while a majority was
// up. Every process's output, the stack file and the history go to a run directory, kept (and
// named) when a check failed or `keep` is set.

/** How long a client-side interceptor keeps trying members before it closes its client's connection. */
const FAILOVER_TIMEOUT_MS = 15_000;

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
  /** Keep the run directory even when the run is clean. Default false: kept only when a check failed. */
  readonly keep?: boolean;
  /** The longest a group with a majority up may go without delivering before the run fails. Default 5000 ms. */
  readonly maxGapMs?: number;
  /**
   * With `recovery: replay`, give the members the register service's snapshot commands and a
   * small `service.replayLog.maxBytes`, so the replay log is compacted during the run. Default
   * 1 MiB; 0 leaves the snapshot commands out (the log grows with the run, as before compaction).
   */
  readonly compactBytes?: number;
}

/** One state transfer a member installed, from its log. */
export interface RejoinFigure {
  /** Seconds since the workload started. */
  readonly at: number;
  /** The member that installed it. */
  readonly member: string;
  /** `rejoined` (a restarted member), `caught-up` (a re-admitted one) or `kept` (it already held the cut). */
  readonly kind: 'rejoined' | 'caught-up' | 'kept';
  /** The cut of the state. */
  readonly cut: number;
  /** Bytes of the state. */
  readonly stateBytes: number;
  /** From the install call to live. */
  readonly installMs: number;
  /** From the member's start to live (restarted members only). */
  readonly rejoinMs?: number;
}

/** Per-client findings. */
export interface ClientReport {
  /** Client id. */
  readonly id: string;
  /** Requests sent. */
  readonly requests: number;
  /** Requests sent that never got a response, plus counter answers showing a request not applied. */
  readonly lost: number;
  /** Requests never answered because the client-side interceptor gave up while no majority existed. */
  readonly refused: number;
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
  /** Sum over clients: requests refused while no majority existed (not lost, but not clean either). */
  readonly refused: number;
  /** Sum over clients. */
  readonly duplicated: number;
  /** Sum over clients. */
  readonly reordered: number;
  /** Client connections that did not stay up. */
  readonly disconnected: number;
  /** Compared replicas whose digest differs from the most common one. */
  readonly diverged: number;
  /** Linearizability of every object's history (each key checked on its own). */
  readonly linearizable: 'yes' | 'no' | 'unknown';
  /** Per-client findings. */
  readonly clients: readonly ClientReport[];
  /** The faults applied. */
  readonly faults: readonly FaultEvent[];
  /** Digest of each compared member. */
  readonly digests: Readonly<Record<string, string>>;
  /** Members left out of the digest comparison, and why. */
  readonly excluded: Readonly<Record<string, string>>;
  /** Operations checked for linearizability (every request but the own-counter increments). */
  readonly registerOps: number;
  /** Objects (keys) whose histories were checked, each on its own. */
  readonly checkedKeys?: number;
  /** When a history is not linearizable: its key, and for a register the operation whose completion first breaks it. */
  readonly violation?: string;
  /** Wall-clock seconds of the run. */
  readonly seconds: number;
  /** The longest time with a majority of members up and no answer to any client (ms), and when it began (s). */
  readonly longestGap: { readonly ms: number; readonly at: number };
  /** The bound on `longestGap.ms` past which the run fails. */
  readonly maxGapMs: number;
  /** Primary views installed during the workload, in all. */
  readonly views: number;
  /** Primary views charged to each kind of fault episode. */
  readonly viewsPerFault: Readonly<Record<EpisodeKind, ViewsPerFault>>;
  /** Every state transfer a member installed, in time order. */
  readonly rejoins: readonly RejoinFigure[];
  /** Members' reports that they cannot catch up (`cannot catch up` / `cannot join the group` log lines). */
  readonly stuck: readonly string[];
  /** The run directory when it was kept. */
  readonly runDir?: string;
}

/** The last line: `chaos: ordering=... requests=R failovers=F lost=0 duplicated=0 reordered=0 diverged=0 linearizable=yes`. */
export function chaosLine(r: ChaosReport): string {
  const clean = chaosClean(r);
  return (
    `chaos: ordering=${r.ordering} requests=${r.requests} failovers=${r.failovers} lost=${r.lost} ` +
    `duplicated=${r.duplicated} reordered=${r.reordered} diverged=${r.diverged} linearizable=${r.linearizable}` +
    (r.refused ? ` refused=${r.refused}` : '') +
    (r.disconnected ? ` disconnected=${r.disconnected}` : '') +
    (r.longestGap.ms > r.maxGapMs ? ` gap=${r.longestGap.ms}ms@${r.longestGap.at}s` : '') +
    (clean ? '' : ` seed=${r.seed}`)
  );
}

/** The run's figures beyond the verdict: views per fault, the longest delivery gap, each state transfer over time. */
export function chaosFigures(r: ChaosReport): string[] {
  const per = Object.entries(r.viewsPerFault)
    .map(
      ([k, v]) =>
        `${k} ${v.faults} -> ${v.views} views${v.faults ? ` (${(v.views / v.faults).toFixed(2)}/fault)` : ''}`,
    )
    .join(', ');
  return [
    `views: ${r.views} primary views installed; ${per}`,
    `longest delivery gap with a majority up: ${r.longestGap.ms} ms at ${r.longestGap.at} s (bound ${r.maxGapMs} ms)`,
    `state transfers: ${r.rejoins.length}${r.rejoins.length ? ' (at s member kind cut bytes install ms [start to live ms])' : ''}`,
    ...r.rejoins.map(
      (j) =>
        `  ${j.at} ${j.member} ${j.kind} ${j.cut} ${j.stateBytes} ${j.installMs}${j.rejoinMs !== undefined ? ` ${j.rejoinMs}` : ''}`,
    ),
    ...r.stuck.map((s) => `cannot catch up: ${s}`),
  ];
}

/** Whether every check passed. */
export function chaosClean(r: ChaosReport): boolean {
  return (
    r.lost === 0 &&
    r.refused === 0 &&
    r.longestGap.ms <= r.maxGapMs &&
    r.duplicated === 0 &&
    r.reordered === 0 &&
    r.diverged === 0 &&
    r.disconnected === 0 &&
    r.linearizable === 'yes'
  );
}

interface Request {
  readonly seq: number;
  readonly op: WorkloadOp;
  readonly key: string;
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
  /** Requests never answered (known at `stop`). */
  unanswered = 0;
  /** When (ms since the workload started) its client-side interceptor gave up, if it did. */
  gaveUpAt: number | undefined;
  /** Whether its unanswered requests count as refused for want of a majority, not lost. */
  refused = false;
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
    this.unanswered = this.requests.filter((q) => q.ret === undefined).length;
    this.socket.destroy();
  }

  private pump(): void {
    while (!this.stopping && this.inflight < this.window && !this.socket.destroyed) {
      const seq = this.requests.length + 1;
      const planned = planRequest(this.id, seq, this.rand(), this.rand());
      const req: Request = {
        seq,
        ...planned,
        expect: planned.op === 'inc' ? ++this.incs : 0,
        call: performance.now(),
      };
      this.requests.push(req);
      this.inflight++;
      this.socket.write(`${requestLine(this.id, seq, planned)}\n`);
    }
  }

  private response(line: string): void {
    const now = performance.now();
    const [client = '', seqText = ''] = line.split(' ', 2);
    const result = line.slice(client.length + seqText.length + 2);
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
      lost: this.lost + (this.refused ? 0 : this.unanswered),
      refused: this.refused ? this.unanswered : 0,
      duplicated: this.duplicated,
      reordered: this.reordered,
      disconnected: this.disconnected,
    };
  }

  /** Every request with its times and answer, for the linearizability check. */
  recorded(): Recorded[] {
    return this.requests.map((q) => ({
      op: q.op,
      key: q.key,
      value: q.value,
      call: q.call,
      ...(q.ret !== undefined ? { ret: q.ret } : {}),
      ...(q.result !== undefined ? { result: q.result } : {}),
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
  /** Restarted and not yet live again (down for the majority count). */
  catchingUp: boolean;
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
    catchingUp: false,
  }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-chaos-'));
  fs.mkdirSync(path.join(dir, 'logs'));
  const stackFile = path.join(dir, 'stack.yaml');
  const compactBytes = o.compactBytes ?? 1024 * 1024;
  const maxGapMs = o.maxGapMs ?? 5000;
  const snapshotCommand = (verb: string): string[] => [process.execPath, toolsProgram('chaos/snapshot-main'), verb];
  // Snapshot commands serve `snapshot` recovery, and compaction of the replay log under `replay`.
  const withSnapshot = o.restarts && (o.recovery === 'snapshot' || compactBytes > 0);
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
      ...(withSnapshot
        ? {
            snapshot: { save: snapshotCommand('save'), load: snapshotCommand('load') },
            resetCommand: snapshotCommand('reset'),
          }
        : {}),
      ...(withSnapshot && o.recovery === 'replay' ? { replayLogMaxBytes: Math.max(4096, compactBytes) } : {}),
      timeouts: { heartbeatMs: 50, suspectMs: 400, connectMs: 1000 },
      failoverTimeoutMs: FAILOVER_TIMEOUT_MS,
    }),
  );
  // The timeline, in ms since the workload started (negative before it).
  let t0 = performance.now();
  const since = (): number => performance.now() - t0;
  const procs: Proc[] = [];
  const logs: fs.WriteStream[] = [];
  // Every process's stdout and stderr go to logs/<name>.log (appended to across restarts).
  const track = (p: Proc): Proc => {
    procs.push(p);
    const out = fs.createWriteStream(path.join(dir, 'logs', `${p.name}.log`), { flags: 'a' });
    logs.push(out);
    out.write(`--- started at ${((performance.now() - t0) / 1000).toFixed(3)} s of the workload, pid ${p.child.pid}\n`);
    p.onLine((l) => out.write(`${l}\n`));
    p.child.stderr?.on('data', (d: Buffer | string) => out.write(d));
    return p;
  };
  let fullViewSeen = false;
  const upChanges: UpChange[] = [];
  const views: { at: number; view: number }[] = [];
  const rejoins: RejoinFigure[] = [];
  const stuck: string[] = [];
  const startService = async (m: ChaosMember): Promise<void> => {
    m.service = track(spawnNode(`service-${m.id}`, [toolsProgram('chaos/service-main'), String(m.servicePort)]));
    await m.service.waitFor((l) => l === 'listening', 15_000, 'listening');
  };
  const startMember = (m: ChaosMember): Proc => {
    const p = track(spawnNode(m.id, vclServiceArgs(vclCli, stackFile, m.id, m.servicePort), {}, false));
    p.onLine((l) => {
      memberLine(m, l);
      if (!l.includes('view installed')) return;
      const ids = (logLine(l)?.['members'] as unknown[] | undefined)?.map(String) ?? [];
      // Only a primary (majority) view says who is out; a member coming back may log its own minority view.
      if (!fullViewSeen || ids.length <= n / 2) return;
      for (const x of members) if (!ids.includes(x.id)) x.leftView = true;
    });
    m.proc = p;
    return p;
  };
  const memberLine = (m: ChaosMember, l: string): void => {
    const f = logLine(l);
    const msg = f?.['msg'];
    if (!f || typeof msg !== 'string') return;
    const num = (k: string): number => Number(f[k] ?? 0);
    if (msg === 'view installed' && f['primary'] === true) views.push({ at: since(), view: num('view') });
    const kind =
      msg === 'rejoined the group: live'
        ? 'rejoined'
        : msg === 'caught up with the group by state transfer'
          ? 'caught-up'
          : msg.startsWith('state transfer at a cut this member already holds')
            ? 'kept'
            : undefined;
    if (kind) {
      rejoins.push({
        at: Number((since() / 1000).toFixed(1)),
        member: m.id,
        kind,
        cut: num(kind === 'rejoined' ? 'joinedAtCut' : 'cut'),
        stateBytes: num('stateBytes'),
        installMs: num('installMs'),
        ...(f['rejoinMs'] !== undefined ? { rejoinMs: num('rejoinMs') } : {}),
      });
      if (m.catchingUp) {
        m.catchingUp = false;
        if (!m.killed && !m.frozen) upChanges.push({ at: since(), member: m.id, up: true });
      }
    }
    if (msg === 'cannot join the group' || msg === 'cannot catch up with the group')
      stuck.push(`${(since() / 1000).toFixed(1)}s ${m.id}: ${String(f['err'] ?? f['reason'] ?? msg)}`);
  };
  const clients: ChaosClient[] = [];
  let failovers = 0;
  let keep = true;
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
        const client = clients[i];
        if (client && l.includes('giving up; closing the client connection')) client.gaveUpAt ??= since();
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
    t0 = performance.now();
    for (const c of clients) c.start();
    const byId = new Map(members.map((m) => [m.id, m]));
    let lastProgress = t0;
    for (const e of schedule) {
      while (performance.now() - t0 < e.at) {
        await sleep(Math.min(100, e.at - (performance.now() - t0)));
        if (performance.now() - lastProgress > 5000) {
          lastProgress = performance.now();
          progress(`${chaosProgress(t0, clients, failovers)} views=${new Set(views.map((v) => v.view)).size}`);
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
          m.catchingUp = false;
          upChanges.push({ at: since(), member: m.id, up: false });
          break;
        case 'freeze':
          m.proc?.signal('SIGSTOP');
          m.frozen = true;
          upChanges.push({ at: since(), member: m.id, up: false });
          break;
        case 'thaw':
          m.proc?.signal('SIGCONT');
          m.frozen = false;
          if (!m.catchingUp) upChanges.push({ at: since(), member: m.id, up: true });
          break;
        case 'restart':
          await Promise.all([m.proc?.exited, m.service?.exited]);
          await startService(m);
          // Down for the majority count until it says it is live again.
          m.catchingUp = true;
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
        progress(`${chaosProgress(t0, clients, failovers)} views=${new Set(views.map((v) => v.view)).size}`);
      }
    }
    const workloadEnd = since();
    for (const m of members)
      if (m.frozen) {
        m.proc?.signal('SIGCONT');
        m.frozen = false;
      }
    await Promise.all(clients.map((c) => c.stop(20_000)));
    const up = majorityUp(
      upChanges,
      members.map((m) => m.id),
      0,
      Math.max(workloadEnd, since()),
    );
    // A client whose interceptor gave up while no majority existed was refused, not robbed.
    for (const c of clients)
      if (c.gaveUpAt !== undefined) c.refused = refusedWithoutMajority(up, c.gaveUpAt, FAILOVER_TIMEOUT_MS, maxGapMs);
    const answeredAt = clients.flatMap((c) => c.requests.flatMap((q) => (q.ret === undefined ? [] : [q.ret - t0])));
    const gap = longestDeliveryGap(answeredAt, up, 0, workloadEnd);
    const eps = episodes(applied);
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
    const history =
      clients
        .flatMap((c) =>
          c.requests.map((q) =>
            JSON.stringify({
              client: c.id,
              seq: q.seq,
              op: q.op,
              key: q.key,
              value: q.value,
              result: q.result,
              call: Number((q.call - t0).toFixed(2)),
              ret: q.ret === undefined ? null : Number((q.ret - t0).toFixed(2)),
            }),
          ),
        )
        .join('\n') + '\n';
    fs.writeFileSync(path.join(dir, 'history.jsonl'), history);
    if (o.historyFile) fs.writeFileSync(o.historyFile, history);
    const lin = checkWorkload(
      clients.flatMap((c) => c.recorded()),
      t0,
    );
    const reports = clients.map((c) => c.report());
    const sum = (f: (r: ClientReport) => number): number => reports.reduce((a, r) => a + f(r), 0);
    const report: ChaosReport = {
      ordering: o.ordering,
      seed: o.seed,
      requests: sum((r) => r.requests),
      failovers,
      lost: sum((r) => r.lost),
      refused: sum((r) => r.refused),
      duplicated: sum((r) => r.duplicated),
      reordered: sum((r) => r.reordered),
      disconnected: reports.filter((r) => r.disconnected).length,
      diverged,
      linearizable: lin.verdict,
      clients: reports,
      faults: applied,
      digests,
      excluded,
      registerOps: lin.operations,
      checkedKeys: lin.keys,
      ...(lin.violation !== undefined ? { violation: lin.violation } : {}),
      seconds: Math.round((performance.now() - startedAt) / 1000),
      longestGap: { ms: Math.round(gap.ms), at: Number((gap.at / 1000).toFixed(1)) },
      maxGapMs,
      views: new Set(views.filter((v) => v.at >= 0).map((v) => v.view)).size,
      viewsPerFault: viewsPerFault(eps, views),
      rejoins,
      stuck,
    };
    keep = o.keep === true || !chaosClean(report);
    fs.writeFileSync(path.join(dir, 'report.json'), JSON.stringify(report, null, 2));
    return keep ? { ...report, runDir: dir } : report;
  } finally {
    await Promise.all(procs.map((p) => p.terminate()));
    await Promise.all(logs.map((s) => new Promise((r) => s.end(r))));
    // A run that failed or threw keeps its evidence: member logs, stack file, history.
    if (keep) progress(`chaos: run directory kept: ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
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
