import { closeSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createOrderingMember } from '../../assembly/ordering-member';
import type { Logger } from '../../contracts/logger';
import type { OrderingProtocol, View } from '../../contracts/ordering';
import { tcpNetwork, type TcpNetwork } from '../../link/tcp-network';
import { pluginRegistry } from '../../registry/plugin-registry';
import { createLogger, silentLogger } from '../../runtime/logger';
import { realClock, realRandom } from '../../runtime/real-clock';
import { naiveOrderingRegistrations } from '../conformance/naive-ordering';
import { chainDigest, INITIAL_DIGEST, messageId } from '../conformance/history';
import { parseWorkload, type MemberProcessConfig, type Workload } from './member-config';
import type { MemberLogEvent } from './member-log';
import { decodeProcessPayload, encodeProcessPayload } from './payload';

/** What a member process reports when the harness asks (`stats` over the IPC channel). */
export interface MemberProcessStats {
  /** The member id. */
  readonly member: string;
  /** Its incarnation. */
  readonly incarnation: number;
  /** CPU time used by the process so far (`process.cpuUsage()`), in microseconds. */
  readonly cpu: { readonly user: number; readonly system: number };
  /** Resident set size in bytes. */
  readonly rss: number;
  /** The highest seq delivered (or installed by state transfer). */
  readonly delivered: number;
  /** Deliveries so far. */
  readonly deliveries: number;
  /** Broadcasts made, and how many are unresolved. */
  readonly broadcasts: number;
  readonly pending: number;
  /** The installed view. */
  readonly view?: { readonly id: number; readonly members: readonly string[]; readonly primary: boolean };
  /** The plugin's role (`status().role`). */
  readonly role: string;
  /** The wall-clock time of the report (same scale as log `t`). */
  readonly t: number;
  /**
   * Latencies in ms from `broadcast` to local delivery of this member's own messages since the
   * previous drain (only when asked with `drainLatencies`).
   */
  readonly latenciesMs?: number[];
}

/** A request from the harness over the IPC channel. */
export type MemberRequest =
  | { readonly type: 'workload'; readonly workload: Workload }
  | { readonly type: 'stats'; readonly req: number; readonly drainLatencies?: boolean }
  | { readonly type: 'stop' };

/** A reply to the harness over the IPC channel. */
export type MemberReply =
  | { readonly type: 'stats'; readonly req: number; readonly stats: MemberProcessStats }
  | { readonly type: 'error'; readonly req?: number; readonly error: string };

/** Wall-clock ms with sub-ms precision, comparable across processes on one machine. */
export function wallNow(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * Runs one group member in this process: loads the ordering plugin through the plugin registry,
 * runs it over `tcpNetwork`, drives the configured workload, and appends every event to the log
 * file with one synchronous write per line, so a SIGKILL loses at most a partial last line.
 * Resolves once the member runs; the process then lives until stopped, killed or orphaned.
 */
export async function runMemberProcess(config: MemberProcessConfig): Promise<void> {
  const fd = openSync(config.logFile, 'a');
  const logAll = (config.logMode ?? 'all') === 'all';
  const write = (event: MemberLogEvent): void => {
    writeSync(fd, `${JSON.stringify(event)}\n`);
  };
  const self = config.id;
  const inc = config.incarnation;
  write({ type: 'start', t: wallNow(), member: self, incarnation: inc, pid: process.pid, plugin: config.plugin.name });

  let failed = false;
  const fail = (stage: string, err: unknown, code: number): never => {
    // Only the first failure is the cause; anything thrown while exiting is a consequence.
    if (!failed) write({ type: 'error', t: wallNow(), stage, error: errorText(err) });
    failed = true;
    process.exit(code);
  };
  process.on('uncaughtException', (err) => fail('uncaught', err, 70));
  process.on('unhandledRejection', (err) => fail('unhandled-rejection', err, 70));

  // Synchronous writes, like the event log: a SIGKILL or an early exit loses no diagnostic line.
  const diagFd = config.diagnosticsFile ? openSync(config.diagnosticsFile, 'a') : undefined;
  const diagnostics: Logger =
    diagFd === undefined
      ? silentLogger()
      : createLogger({
          level: config.diagnosticsLevel ?? 'info',
          destination: { write: (line: string) => writeSync(diagFd, line) },
        }).child({ member: self, incarnation: inc });

  let member: OrderingProtocol;
  let network: TcpNetwork;
  try {
    for (const r of naiveOrderingRegistrations)
      if (r.name === config.plugin.name && !pluginRegistry.has('ordering', r.name)) pluginRegistry.add(r);
    const registration = await pluginRegistry.load('ordering', config.plugin.name);
    const plugin = registration.create(config.plugin.options);
    network = tcpNetwork({
      self,
      members: config.members,
      incarnation: inc,
      logger: diagnostics,
      reconnect: { initialMs: 20, maxMs: config.reconnectMaxMs ?? 250 },
    });
    member = createOrderingMember(plugin, {
      group: { self, members: config.members.map((m) => m.id), partition: config.partition ?? 'primary-component' },
      network,
      clock: realClock(),
      random: realRandom(),
      logger: diagnostics,
    });
  } catch (err) {
    return fail('plugin', err, 65);
  }

  let view: View | undefined;
  let loggedFirstOfView = -1;
  let delivered = 0;
  let deliveries = 0;
  let digest = INITIAL_DIGEST;
  const sentAt = new Map<number, number>();
  let latencies: number[] = [];

  member.onView((v) => {
    view = v;
    write({ type: 'view', t: wallNow(), id: v.id, members: [...v.members], primary: v.primary, cut: v.cut });
  });
  member.onDeliver((d) => {
    const decoded = decodeProcessPayload(d.payload);
    const id = decoded?.id ?? null;
    deliveries++;
    delivered = d.seq;
    digest = chainDigest(digest, id ?? `?${d.sender}@${d.seq}`);
    if (logAll || loggedFirstOfView !== d.view) {
      loggedFirstOfView = d.view;
      write({ type: 'deliver', t: wallNow(), seq: d.seq, view: d.view, sender: d.sender, id });
    }
    if (decoded && decoded.sender === self && decoded.incarnation === inc) {
      const at = sentAt.get(decoded.counter);
      if (at !== undefined) {
        sentAt.delete(decoded.counter);
        latencies.push(performance.now() - at);
      }
    }
  });
  member.setStateTransfer({
    capture: (cut) => {
      write({ type: 'capture', t: wallNow(), cut, digest, applied: delivered });
      return new TextEncoder().encode(JSON.stringify({ cut, digest }));
    },
    install: (state, cut) => {
      let parsed: { cut?: unknown; digest?: unknown } = {};
      try {
        parsed = JSON.parse(new TextDecoder().decode(state)) as typeof parsed;
      } catch {
        parsed = {};
      }
      digest = typeof parsed.digest === 'string' ? parsed.digest : `unreadable state (${state.length} bytes)`;
      delivered = cut;
      write({
        type: 'install',
        t: wallNow(),
        cut,
        digest,
        capturedCut: typeof parsed.cut === 'number' ? parsed.cut : -1,
      });
    },
  });

  // ---- workload ------------------------------------------------------------------------------
  let workload: Workload = { mode: 'idle' };
  let counter = 0;
  let pending = 0;
  let ticker: NodeJS.Timeout | undefined;
  let stopping = false;

  const broadcastOne = (payloadBytes: number): void => {
    const c = ++counter;
    const id = messageId(self, inc, c);
    if (logAll) write({ type: 'broadcast', t: wallNow(), id, counter: c });
    pending++;
    sentAt.set(c, performance.now());
    let promise: Promise<{ seq: number; view: number }>;
    try {
      promise = member.broadcast(encodeProcessPayload(self, inc, c, payloadBytes));
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      (o) => {
        pending--;
        if (logAll) write({ type: 'resolved', t: wallNow(), id, seq: o.seq, view: o.view });
        refill();
      },
      (err: unknown) => {
        pending--;
        sentAt.delete(c);
        if (logAll) write({ type: 'rejected', t: wallNow(), id, error: errorText(err) });
      },
    );
  };
  const refill = (): void => {
    if (stopping || workload.mode !== 'saturate') return;
    const max = workload.maxPending ?? 16;
    while (pending < max) broadcastOne(workload.payloadBytes ?? 0);
  };
  const setWorkload = (w: Workload): void => {
    workload = w;
    if (ticker) clearInterval(ticker);
    ticker = undefined;
    if (w.mode === 'saturate') refill();
    if (w.mode === 'rate') {
      const since = performance.now();
      let issued = 0;
      const max = w.maxPending ?? 16;
      // A token bucket ticked every 10 ms: a stalled event loop catches up, a blocked group does not queue up.
      ticker = setInterval(() => {
        const due = Math.floor(((performance.now() - since) * w.perSecond) / 1000) - issued;
        for (let i = 0; i < due; i++) {
          issued++;
          if (!stopping && pending < max) broadcastOne(w.payloadBytes ?? 0);
        }
      }, 10);
    }
  };

  // ---- control -------------------------------------------------------------------------------
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    setWorkload({ mode: 'idle' });
    await member.stop().catch(() => undefined);
    await network.stop().catch(() => undefined);
    write({ type: 'stopped', t: wallNow() });
    closeSync(fd);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  // Orphan protection: the harness holds the IPC channel; when it goes away, so does the member.
  process.on('disconnect', () => process.exit(0));
  setTimeout(
    () => fail('lifetime', new Error(`maxLifetimeMs ${config.maxLifetimeMs ?? 600_000} passed`), 0),
    config.maxLifetimeMs ?? 600_000,
  ).unref();
  process.on('message', (raw: unknown) => {
    const request = raw as MemberRequest;
    const reply = (r: MemberReply): void => {
      if (process.connected) process.send?.(r);
    };
    try {
      if (request.type === 'workload') setWorkload(parseWorkload(request.workload));
      else if (request.type === 'stop') void stop();
      else if (request.type === 'stats') {
        const cpu = process.cpuUsage();
        const status = member.status();
        const drained = request.drainLatencies ? latencies : undefined;
        if (drained) latencies = [];
        reply({
          type: 'stats',
          req: request.req,
          stats: {
            member: self,
            incarnation: inc,
            cpu: { user: cpu.user, system: cpu.system },
            rss: process.memoryUsage.rss(),
            delivered,
            deliveries,
            broadcasts: counter,
            pending,
            ...(view ? { view: { id: view.id, members: [...view.members], primary: view.primary } } : {}),
            role: status.role,
            t: wallNow(),
            ...(drained ? { latenciesMs: drained } : {}),
          },
        });
      } else reply({ type: 'error', error: `unknown request ${JSON.stringify(raw).slice(0, 200)}` });
    } catch (err) {
      reply({ type: 'error', ...(request.type === 'stats' ? { req: request.req } : {}), error: errorText(err) });
    }
  });

  try {
    await network.start();
    write({ type: 'listening', t: wallNow() });
    await member.start();
    write({ type: 'running', t: wallNow() });
  } catch (err) {
    return fail('start', err, 66);
  }
  setWorkload(config.workload ?? { mode: 'idle' });
}
