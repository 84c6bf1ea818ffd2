import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { MemberId } from '../../contracts/network';
import type { PartitionMode, View } from '../../contracts/ordering';
import { TimeoutError } from '../../errors';
import type { LogLevel } from '../../runtime/logger';
import { checkOrderingHistory } from '../conformance/check';
import type {
  FaultRecord,
  IncarnationHistory,
  OrderingHistory,
  RecordedBroadcast,
  Violation,
} from '../conformance/history';
import { formatTimeline, formatViolations } from '../conformance/report';
import { MemberProcessError, MissingBuildError } from './errors';
import type { MemberLogMode, MemberProcessConfig, ProcessMemberAddress, Workload } from './member-config';
import { MemberLogTail, type MemberLogEvent } from './member-log';
import { wallNow, type MemberProcessStats, type MemberReply, type MemberRequest } from './member-process';

/** Options of `OrderingProcessGroup.start`. */
export interface OrderingProcessGroupOptions {
  /** The ordering plugin's registry name (`sequencer`, `tokenring`, the test-only `naive` or `broken-<flaw>`). */
  readonly plugin: string;
  /** The plugin's options (plain data, as in a stack file); default none. */
  readonly pluginOptions?: unknown;
  /** Group size (members `n1..nK`) or the member ids; default 3. */
  readonly members?: number | readonly MemberId[];
  /** Partition mode; default `primary-component`. */
  readonly partition?: PartitionMode;
  /** Every member's initial workload; default idle. */
  readonly workload?: Workload;
  /** Which events members log; default `all`. */
  readonly logMode?: MemberLogMode;
  /** Loopback address members listen on; default `127.0.0.1`. */
  readonly host?: string;
  /** Directory for configs and logs; default a fresh directory under the OS temp dir. */
  readonly dir?: string;
  /**
   * Keep the directory on `stop()`; default: kept when a wait timed out, a member failed or a check
   * found violations (and always when `VCL_KEEP_PROCESS_LOGS=1`), removed otherwise.
   */
  readonly keepLogs?: boolean;
  /** Level of each member's diagnostics log (plugin and network, pino JSON); default `info`. */
  readonly diagnosticsLevel?: LogLevel;
  /** Time allowed for a member process to listen, in ms; default 20000. */
  readonly startTimeoutMs?: number;
  /** The member entry (`member-main.js`); default `memberEntryPath()`. */
  readonly memberEntry?: string;
  /** Largest TCP redial delay, in ms; default 250. */
  readonly reconnectMaxMs?: number;
}

/** What the harness knows about one member (its latest incarnation), from its log. */
export interface MemberSnapshot {
  /** The member id. */
  readonly id: MemberId;
  /** Its latest incarnation. */
  readonly incarnation: number;
  /** Process state as the harness made it. */
  readonly status: 'running' | 'frozen' | 'killed' | 'exited';
  /** Its pid. */
  readonly pid: number | undefined;
  /** The view it installed last. */
  readonly view: (View & { readonly t: number }) | undefined;
  /** The highest seq it delivered or installed by state transfer. */
  readonly delivered: number;
  /** Deliveries logged. */
  readonly deliveries: number;
  /** Broadcasts made and not yet resolved or rejected. */
  readonly unresolved: number;
  /** Wall time of its last logged delivery. */
  readonly lastDeliveryAt: number | undefined;
  /** Whether `member.start()` resolved. */
  readonly running: boolean;
}

/** A wait condition over the group. */
export type GroupCondition = (group: OrderingProcessGroup) => boolean;

interface Incarnation {
  readonly member: MemberId;
  readonly incarnation: number;
  readonly logFile: string;
  readonly stderrFile: string;
  readonly tail: MemberLogTail;
  readonly events: MemberLogEvent[];
  readonly startedAt: number;
  killedAt?: number;
  view?: View & { t: number };
  delivered: number;
  deliveries: number;
  unresolved: Set<string>;
  lastDeliveryAt?: number;
  listening: boolean;
  running: boolean;
  error?: string;
  /** The process has exited (its log may still hold unread lines). */
  exited: boolean;
  /** Read to the end after the exit. */
  done: boolean;
}

interface Slot {
  readonly address: ProcessMemberAddress;
  readonly incarnations: Incarnation[];
  child?: ChildProcess;
  status: 'running' | 'frozen' | 'killed' | 'exited';
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  exited?: Promise<void>;
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;
let reaper: ChildProcess | undefined;

/**
 * Tells the reaper process (started on first use) to SIGKILL `pid` if this process goes away
 * without stopping it. Jest runs test code with a sandboxed `process` whose exit hooks never
 * fire, and a frozen member cannot notice its harness is gone, so a separate process does it.
 */
function reapLater(pid: number | undefined): void {
  if (pid === undefined) return;
  if (!reaper || !reaper.connected) {
    const entry = path.join(path.dirname(memberEntryPath()), 'reaper-main.js');
    if (!existsSync(entry)) return;
    reaper = spawn(process.execPath, [entry], {
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    reaper.on('error', () => undefined);
    reaper.unref();
    (reaper.channel as { unref?: () => void } | undefined)?.unref?.();
  }
  reaper.send({ type: 'watch', pid });
}

/** Tells the reaper that `pid` has exited (so a reused pid is never killed). */
function reaped(pid: number | undefined): void {
  if (pid !== undefined && reaper?.connected) reaper.send({ type: 'unwatch', pid });
}

/** Kills every member process still alive when the host process exits (a failed test, a crash). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of children) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * The built member entry. Next to this file in `dist/`; when this file runs from source (Jest via
 * ts-jest), the same place under the package's `dist/`.
 */
export function memberEntryPath(): string {
  const dir = __dirname.replace(/([\\/])src([\\/]testing[\\/]process)$/, '$1dist$2');
  return path.join(dir, 'member-main.js');
}

/** The first port of the kernel's ephemeral range (Linux: /proc/sys/net/ipv4/ip_local_port_range); 32768 if unknown. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 1024 ? low : 32768;
  } catch {
    return 32768;
  }
}

function canListen(host: string, port: number): Promise<number | undefined> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined));
    server.listen(port, host, () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A free TCP port on `host` for a member to listen on. Picked below the kernel's ephemeral range,
 * so neither an outgoing connection (which takes an ephemeral port) nor a test binding port 0 can
 * take it before the member listens, nor while a killed member waits to be restarted on it. Falls
 * back to a port the kernel chooses.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const max = ephemeralLow() - 1;
  const min = 10_000;
  for (let i = 0; max > min && i < 50; i++) {
    const port = await canListen(host, min + Math.floor(Math.random() * (max - min + 1)));
    if (port !== undefined) return port;
  }
  const port = await canListen(host, 0);
  if (port === undefined) throw new MemberProcessError(`no free TCP port on ${host}`);
  return port;
}

/** `n` distinct free TCP ports on `host`, each picked as `freePort` does. */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort(host));
  return [...ports];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function tailOf(file: string, bytes = 2000): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.length > bytes ? `...${text.slice(-bytes)}` : text;
  } catch {
    return '(none)';
  }
}

/**
 * A group of ordering members, each a separate Node process on loopback TCP, for kill/freeze
 * tests and benchmarks of any ordering plugin: start, SIGKILL, SIGSTOP/SIGCONT, restart, change
 * the workload, wait for conditions read from the members' event logs, and turn the logs into an
 * `OrderingHistory` for the conformance checker. `stop()` kills every process (call it in
 * `afterEach`/`finally`; a process-exit hook and each member's IPC channel back it up).
 *
 * @example
 * ```ts
 * const group = await OrderingProcessGroup.start({ plugin: 'sequencer', members: 3,
 *   workload: { mode: 'rate', perSecond: 20 } });
 * try {
 *   await group.waitForView(['n1', 'n2', 'n3']);
 *   await group.kill('n1');
 *   await group.waitForView(['n2', 'n3']);
 *   await group.settle();
 *   expect(group.check()).toEqual([]);
 * } finally {
 *   await group.stop();
 * }
 * ```
 */
export class OrderingProcessGroup {
  /** The member ids, in configuration order. */
  readonly members: readonly MemberId[];
  /** Where configs and logs are. */
  readonly dir: string;
  /** Wall time the group was created; history times are relative to it. */
  readonly t0: number;
  private readonly slots = new Map<MemberId, Slot>();
  private readonly faults: FaultRecord[] = [];
  private readonly entry: string;
  private readonly pendingReplies = new Map<number, { resolve(s: MemberProcessStats): void; reject(e: Error): void }>();
  private nextReq = 1;
  private troubled = false;
  private stopped = false;

  private constructor(
    private readonly options: OrderingProcessGroupOptions,
    addresses: readonly ProcessMemberAddress[],
    dir: string,
  ) {
    this.members = addresses.map((a) => a.id);
    this.dir = dir;
    this.t0 = wallNow();
    this.entry = options.memberEntry ?? memberEntryPath();
    for (const address of addresses) this.slots.set(address.id, { address, incarnations: [], status: 'exited' });
  }

  /** Starts every member as its own process and waits until each one listens. */
  static async start(options: OrderingProcessGroupOptions): Promise<OrderingProcessGroup> {
    const entry = options.memberEntry ?? memberEntryPath();
    if (!existsSync(entry))
      throw new MissingBuildError(
        `the member process entry ${entry} is not built; run \`npx nx run @vcl/core:build\` (or \`npx tsc -b packages/vcl-core/tsconfig.lib.json\`) first`,
      );
    const ids =
      typeof options.members === 'object'
        ? [...options.members]
        : Array.from({ length: options.members ?? 3 }, (_, i) => `n${i + 1}`);
    const host = options.host ?? '127.0.0.1';
    const addresses: ProcessMemberAddress[] = [];
    const used = new Set<number>();
    for (const id of ids) {
      let port = await freePort(host);
      while (used.has(port)) port = await freePort(host);
      used.add(port);
      addresses.push({ id, host, port });
    }
    const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), `vcl-proc-${options.plugin}-`));
    mkdirSync(dir, { recursive: true });
    const group = new OrderingProcessGroup(options, addresses, dir);
    try {
      for (const id of ids) group.spawnMember(id);
      await Promise.all(ids.map((id) => group.waitListening(id)));
    } catch (err) {
      group.troubled = true;
      await group.stop();
      throw err;
    }
    return group;
  }

  // ---- processes ------------------------------------------------------------------------------

  private slot(id: MemberId): Slot {
    const s = this.slots.get(id);
    if (!s) throw new MemberProcessError(`unknown member ${id}; members: ${this.members.join(', ')}`);
    return s;
  }

  private spawnMember(id: MemberId, workload = this.options.workload): void {
    const slot = this.slot(id);
    const incarnation = slot.incarnations.length + 1;
    const base = path.join(this.dir, `${id}.${incarnation}`);
    const config: MemberProcessConfig = {
      id,
      members: [...this.slots.values()].map((s) => s.address),
      plugin: {
        name: this.options.plugin,
        ...(this.options.pluginOptions !== undefined ? { options: this.options.pluginOptions } : {}),
      },
      incarnation,
      ...(this.options.partition ? { partition: this.options.partition } : {}),
      ...(workload ? { workload } : {}),
      logFile: `${base}.events.jsonl`,
      logMode: this.options.logMode ?? 'all',
      diagnosticsFile: `${base}.diagnostics.jsonl`,
      diagnosticsLevel: this.options.diagnosticsLevel ?? 'info',
      reconnectMaxMs: this.options.reconnectMaxMs ?? 250,
    };
    writeFileSync(`${base}.config.json`, JSON.stringify(config, null, 2));
    const out = openSync(`${base}.stderr`, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [this.entry, `${base}.config.json`], {
        stdio: ['ignore', out, out, 'ipc'],
        env: { ...process.env, NODE_OPTIONS: '' },
      });
    } finally {
      closeSync(out);
    }
    installExitHook();
    children.add(child);
    reapLater(child.pid);
    const inc: Incarnation = {
      member: id,
      incarnation,
      logFile: config.logFile,
      stderrFile: `${base}.stderr`,
      tail: new MemberLogTail(config.logFile),
      events: [],
      startedAt: wallNow(),
      delivered: 0,
      deliveries: 0,
      unresolved: new Set(),
      listening: false,
      running: false,
      exited: false,
      done: false,
    };
    slot.incarnations.push(inc);
    slot.child = child;
    slot.status = 'running';
    delete slot.exit;
    slot.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        children.delete(child);
        reaped(child.pid);
        inc.exited = true;
        if (slot.child === child) {
          slot.exit = { code, signal };
          if (slot.status !== 'killed') slot.status = 'exited';
        }
        resolve();
      });
    });
    child.on('message', (raw: unknown) => this.onReply(raw as MemberReply));
    child.on('error', () => undefined);
    // The harness must not keep its host alive: Jest exits, the exit hook kills the members.
    child.unref();
    (child.channel as { unref?: () => void } | undefined)?.unref?.();
  }

  private onReply(reply: MemberReply): void {
    if (reply.req === undefined) return;
    const waiting = this.pendingReplies.get(reply.req);
    if (!waiting) return;
    this.pendingReplies.delete(reply.req);
    if (reply.type === 'stats') waiting.resolve(reply.stats);
    else waiting.reject(new MemberProcessError(reply.error));
  }

  private async waitListening(id: MemberId): Promise<void> {
    const inc = this.latest(id);
    await this.waitFor(
      `${id}#${inc.incarnation} listening`,
      () => inc.listening,
      this.options.startTimeoutMs ?? 20_000,
    );
  }

  private note(action: string): void {
    this.faults.push({ at: wallNow() - this.t0, action });
  }

  /** SIGKILLs (or sends `signal` to) a member and waits for its process to exit. */
  async kill(id: MemberId, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const slot = this.slot(id);
    if (!slot.child || slot.status === 'killed' || slot.status === 'exited')
      throw new MemberProcessError(`cannot kill ${id}: it is ${slot.status}`);
    this.refresh();
    const inc = this.latest(id);
    inc.killedAt = wallNow();
    slot.status = 'killed';
    this.note(`kill ${id} (${signal})`);
    slot.child.ref(); // keep the host alive until the exit is seen
    slot.child.kill(signal);
    if (signal !== 'SIGKILL' && signal !== 'SIGTERM') slot.child.kill('SIGCONT');
    await slot.exited;
    this.refresh();
  }

  /** Freezes a member with SIGSTOP: its process keeps its sockets but runs no code until `thaw`. */
  freeze(id: MemberId): void {
    const slot = this.slot(id);
    if (slot.status !== 'running' || !slot.child)
      throw new MemberProcessError(`cannot freeze ${id}: it is ${slot.status}`);
    slot.child.kill('SIGSTOP');
    slot.status = 'frozen';
    this.note(`freeze ${id} (SIGSTOP)`);
  }

  /** Resumes a frozen member with SIGCONT. */
  thaw(id: MemberId): void {
    const slot = this.slot(id);
    if (slot.status !== 'frozen' || !slot.child)
      throw new MemberProcessError(`cannot thaw ${id}: it is ${slot.status}`);
    slot.child.kill('SIGCONT');
    slot.status = 'running';
    this.note(`thaw ${id} (SIGCONT)`);
  }

  /** Starts a killed member again as its next incarnation (same address) and waits until it listens. */
  async restart(id: MemberId, workload = this.options.workload): Promise<void> {
    const slot = this.slot(id);
    if (slot.status === 'running' || slot.status === 'frozen')
      throw new MemberProcessError(`cannot restart ${id}: it is still ${slot.status}; kill it first`);
    this.note(`restart ${id}`);
    this.spawnMember(id, workload);
    await this.waitListening(id);
  }

  /** Sets the workload of the given members (default: every running or frozen one). */
  setWorkload(workload: Workload, ids: readonly MemberId[] = this.alive()): void {
    for (const id of ids) this.send(id, { type: 'workload', workload });
  }

  /** Asks a member for its figures (CPU, deliveries, latencies); rejects if it does not answer in `timeoutMs`. */
  stats(id: MemberId, options: { drainLatencies?: boolean; timeoutMs?: number } = {}): Promise<MemberProcessStats> {
    const req = this.nextReq++;
    return new Promise<MemberProcessStats>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingReplies.delete(req);
        reject(new TimeoutError(`${id} did not answer a stats request within ${options.timeoutMs ?? 5000} ms`));
      }, options.timeoutMs ?? 5000);
      this.pendingReplies.set(req, {
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      try {
        this.send(id, { type: 'stats', req, ...(options.drainLatencies ? { drainLatencies: true } : {}) });
      } catch (err) {
        clearTimeout(timer);
        this.pendingReplies.delete(req);
        reject(err as Error);
      }
    });
  }

  private send(id: MemberId, request: MemberRequest): void {
    const slot = this.slot(id);
    if (!slot.child?.connected || slot.status === 'killed' || slot.status === 'exited')
      throw new MemberProcessError(`cannot reach ${id}: it is ${slot.status}`);
    slot.child.send(request);
  }

  /**
   * SIGKILLs every member process and waits for them to exit; removes the directory unless logs are
   * kept (see `keepLogs`). Safe to call twice.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const exits: Promise<void>[] = [];
    for (const slot of this.slots.values()) {
      if (slot.child && (slot.status === 'running' || slot.status === 'frozen')) {
        slot.child.ref();
        slot.child.kill('SIGKILL');
        exits.push(slot.exited!);
      }
    }
    await Promise.all(exits);
    for (const [req, w] of this.pendingReplies) {
      this.pendingReplies.delete(req);
      w.reject(new MemberProcessError('the group was stopped'));
    }
    const keep = this.options.keepLogs ?? (this.troubled || process.env['VCL_KEEP_PROCESS_LOGS'] === '1');
    if (!keep && !this.options.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Whether logs will be (or were) kept, because something went wrong. */
  get keptLogs(): boolean {
    return this.options.keepLogs ?? (this.troubled || process.env['VCL_KEEP_PROCESS_LOGS'] === '1');
  }

  // ---- reading the logs ----------------------------------------------------------------------

  private latest(id: MemberId): Incarnation {
    const inc = this.slot(id).incarnations.at(-1);
    if (!inc) throw new MemberProcessError(`${id} was never started`);
    return inc;
  }

  /** Reads what every member appended to its log since the last call. */
  refresh(): void {
    for (const slot of this.slots.values())
      for (const inc of slot.incarnations) {
        if (inc.done) continue;
        const exited = inc.exited;
        for (const e of inc.tail.read()) {
          inc.events.push(e);
          apply(inc, e);
        }
        // Read once more after the exit, then never again: the file is complete.
        if (exited) inc.done = true;
      }
  }

  /** Members whose process is up (running or frozen). */
  alive(): MemberId[] {
    return this.members.filter((id) => ['running', 'frozen'].includes(this.slot(id).status));
  }

  /** Members whose process is up and not frozen. */
  running(): MemberId[] {
    return this.members.filter((id) => this.slot(id).status === 'running');
  }

  /** What the logs say about a member's latest incarnation. */
  member(id: MemberId): MemberSnapshot {
    const slot = this.slot(id);
    const inc = this.latest(id);
    return {
      id,
      incarnation: inc.incarnation,
      status: slot.status,
      pid: slot.child?.pid,
      view: inc.view,
      delivered: inc.delivered,
      deliveries: inc.deliveries,
      unresolved: inc.unresolved.size,
      lastDeliveryAt: inc.lastDeliveryAt,
      running: inc.running,
    };
  }

  /** The events a member's latest (or given) incarnation logged so far. */
  events(id: MemberId, incarnation?: number): readonly MemberLogEvent[] {
    const slot = this.slot(id);
    const inc = incarnation === undefined ? this.latest(id) : slot.incarnations[incarnation - 1];
    if (!inc) throw new MemberProcessError(`${id} has no incarnation ${incarnation}`);
    return inc.events;
  }

  /** The highest seq any member delivered. */
  maxDelivered(): number {
    let max = 0;
    for (const slot of this.slots.values()) for (const inc of slot.incarnations) max = Math.max(max, inc.delivered);
    return max;
  }

  /** One line per member: status, view, delivered, unresolved (for wait timeouts and failures). */
  describe(): string {
    this.refresh();
    return this.members
      .map((id) => {
        const m = this.member(id);
        const view = m.view
          ? `view ${m.view.id} {${m.view.members.join(',')}}${m.view.primary ? '' : ' non-primary'}`
          : 'no view';
        const exit = this.slot(id).exit;
        return (
          `  ${id}#${m.incarnation} ${m.status}${exit ? ` (exit code ${exit.code} signal ${exit.signal})` : ''}: ${view}, ` +
          `delivered ${m.delivered}, unresolved ${m.unresolved}${this.latest(id).error ? `, error: ${this.latest(id).error}` : ''}`
        );
      })
      .join('\n');
  }

  // ---- waiting -------------------------------------------------------------------------------

  /**
   * Waits until `condition` holds (checked on fresh logs every 25 ms). Rejects with a
   * `TimeoutError` describing every member after `timeoutMs`, and with a `MemberProcessError`
   * as soon as a member the harness did not kill exits or logs an error.
   */
  async waitFor(what: string, condition: GroupCondition, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.refresh();
      this.checkUnexpectedExits();
      if (condition(this)) return;
      if (Date.now() > deadline) {
        this.troubled = true;
        throw new TimeoutError(
          `timed out after ${timeoutMs} ms waiting for ${what}; members:\n${this.describe()}\nlogs: ${this.dir}`,
        );
      }
      await sleep(25);
    }
  }

  private checkUnexpectedExits(): void {
    for (const [id, slot] of this.slots) {
      const inc = slot.incarnations.at(-1);
      if (!inc) continue;
      if (slot.status === 'exited' || inc.error !== undefined) {
        this.troubled = true;
        throw new MemberProcessError(
          `${id}#${inc.incarnation} failed (${slot.status === 'exited' ? `exited with code ${slot.exit?.code} signal ${slot.exit?.signal}` : 'logged an error'})` +
            `${inc.error ? `: ${inc.error}` : ''}\nstderr: ${tailOf(inc.stderrFile)}\nlogs: ${this.dir}`,
        );
      }
    }
  }

  /**
   * Waits until each of `among` (default: exactly `members`) has installed a primary view whose
   * members are exactly `members`.
   */
  waitForView(
    members: readonly MemberId[],
    options: { among?: readonly MemberId[]; timeoutMs?: number } = {},
  ): Promise<void> {
    const want = [...members].sort().join(',');
    const among = options.among ?? members;
    return this.waitFor(
      `a primary view {${members.join(',')}} at ${among.join(',')}`,
      () =>
        among.every((id) => {
          const v = this.latest(id).view;
          return v !== undefined && v.primary && [...v.members].sort().join(',') === want;
        }),
      options.timeoutMs,
    );
  }

  /** Waits until each of `among` (default: every running member) has delivered up to `seq`. */
  waitForDelivered(seq: number, options: { among?: readonly MemberId[]; timeoutMs?: number } = {}): Promise<void> {
    const among = options.among ?? this.running();
    return this.waitFor(
      `delivery of seq ${seq} at ${among.join(',')}`,
      () => among.every((id) => this.latest(id).delivered >= seq),
      options.timeoutMs,
    );
  }

  /**
   * Stops the workload of every running member and waits until each of `among` (default: every
   * running member) has no unresolved broadcast, all installed the same view, and all delivered up
   * to the same seq: the quiet end of a run, after which the logs can be compared.
   */
  async settle(options: { among?: readonly MemberId[]; timeoutMs?: number } = {}): Promise<void> {
    this.setWorkload({ mode: 'idle' }, this.running());
    const among = options.among ?? this.running();
    await this.waitFor(
      `${among.join(',')} to settle (no unresolved broadcast, one view, one delivered seq)`,
      () => {
        const ms = among.map((id) => this.latest(id));
        return (
          ms.every((m) => m.unresolved.size === 0 && m.view !== undefined && m.running) &&
          new Set(ms.map((m) => m.view!.id)).size === 1 &&
          new Set(ms.map((m) => m.delivered)).size === 1
        );
      },
      options.timeoutMs,
    );
  }

  // ---- history -------------------------------------------------------------------------------

  /**
   * The run so far as an `OrderingHistory` (times in ms since the group started; killed
   * incarnations are crashed at their kill time). With `ended`, `endedAt` and `faultsEndedAt` are
   * set so the checker also checks liveness: only for a run that ends with every member up.
   */
  history(options: { ended?: boolean } = {}): OrderingHistory {
    this.refresh();
    const at = (t: number) => Math.round((t - this.t0) * 1000) / 1000;
    const incarnations: IncarnationHistory[] = [];
    for (const slot of this.slots.values())
      for (const inc of slot.incarnations) incarnations.push(toIncarnationHistory(inc, at));
    incarnations.sort((a, b) => a.startedAt - b.startedAt);
    const history: OrderingHistory = {
      members: this.members,
      partition: this.options.partition ?? 'primary-component',
      incarnations,
      faults: [...this.faults],
    };
    if (options.ended) {
      history.faultsEndedAt = this.faults.at(-1)?.at ?? 0;
      history.endedAt = at(wallNow());
    }
    return history;
  }

  /** Runs the six-guarantee checker (and liveness, with `ended`) on the history so far. */
  check(options: { ended?: boolean } = {}): Violation[] {
    const violations = checkOrderingHistory(this.history(options));
    if (violations.length) this.troubled = true;
    return violations;
  }

  /**
   * A report for a failed expectation: the violations, every member's state, a timeline and
   * where the logs are.
   */
  report(violations: readonly Violation[] = []): string {
    const timeline = formatTimeline(this.history()).split('\n');
    return [
      violations.length ? formatViolations(violations) : 'no violations',
      'members:',
      this.describe(),
      'timeline (last 60 lines):',
      ...timeline.slice(-60),
      `logs: ${this.dir}`,
    ].join('\n');
  }

  /** The ordered log of a member's latest (or given) incarnation: `seq id` lines, for comparing survivors. */
  deliveryLog(id: MemberId, incarnation?: number): string[] {
    this.refresh();
    return this.events(id, incarnation)
      .filter((e): e is Extract<MemberLogEvent, { type: 'deliver' }> => e.type === 'deliver')
      .map((e) => `${e.seq} ${e.id ?? `?${e.sender}`}`);
  }

  /** Every message id whose broadcast promise resolved at any incarnation of any member. */
  resolvedEverywhere(): Set<string> {
    this.refresh();
    const ids = new Set<string>();
    for (const slot of this.slots.values())
      for (const inc of slot.incarnations) for (const e of inc.events) if (e.type === 'resolved') ids.add(e.id);
    return ids;
  }

  /** Marks the run as failed, so `stop()` keeps the logs. */
  markFailed(): void {
    this.troubled = true;
  }
}

function apply(inc: Incarnation, e: MemberLogEvent): void {
  switch (e.type) {
    case 'listening':
      inc.listening = true;
      break;
    case 'running':
      inc.running = true;
      break;
    case 'view':
      inc.view = { id: e.id, members: e.members, primary: e.primary, cut: e.cut, t: e.t };
      break;
    case 'deliver':
      inc.delivered = Math.max(inc.delivered, e.seq);
      inc.deliveries++;
      inc.lastDeliveryAt = e.t;
      break;
    case 'install':
      inc.delivered = Math.max(inc.delivered, e.cut);
      break;
    case 'broadcast':
      inc.unresolved.add(e.id);
      break;
    case 'resolved':
    case 'rejected':
      inc.unresolved.delete(e.id);
      break;
    case 'error':
      inc.error ??= `${e.stage}: ${e.error}`;
      break;
    default:
      break;
  }
}

function toIncarnationHistory(inc: Incarnation, at: (t: number) => number): IncarnationHistory {
  const h: IncarnationHistory = {
    member: inc.member,
    incarnation: inc.incarnation,
    startedAt: at(inc.startedAt),
    views: [],
    deliveries: [],
    broadcasts: [],
    stateInstalls: [],
    stateCaptures: [],
  };
  if (inc.killedAt !== undefined) h.crashedAt = at(inc.killedAt);
  const broadcasts = new Map<string, RecordedBroadcast>();
  inc.events.forEach((e, step) => {
    switch (e.type) {
      case 'view':
        h.views.push({ id: e.id, members: [...e.members], primary: e.primary, cut: e.cut, at: at(e.t), step });
        break;
      case 'deliver':
        h.deliveries.push({
          view: e.view,
          seq: e.seq,
          sender: e.sender,
          messageId: e.id ?? undefined,
          at: at(e.t),
          step,
        });
        break;
      case 'broadcast': {
        const b: RecordedBroadcast = { messageId: e.id, counter: e.counter, at: at(e.t) };
        broadcasts.set(e.id, b);
        h.broadcasts.push(b);
        break;
      }
      case 'resolved': {
        const b = broadcasts.get(e.id);
        if (b) b.resolved = { at: at(e.t), seq: e.seq, view: e.view };
        break;
      }
      case 'rejected': {
        const b = broadcasts.get(e.id);
        if (b) b.rejected = { at: at(e.t), error: e.error };
        break;
      }
      case 'install':
        h.stateInstalls.push({ cut: e.cut, digest: e.digest, capturedCut: e.capturedCut, at: at(e.t), step });
        break;
      case 'capture':
        h.stateCaptures.push({ cut: e.cut, digest: e.digest, applied: e.applied, at: at(e.t), step });
        break;
      case 'error':
        h.startError ??= `${e.stage}: ${e.error}`;
        break;
      default:
        break;
    }
  });
  return h;
}
