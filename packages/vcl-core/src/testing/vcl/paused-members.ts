import { createOrderingMember } from '../../assembly/ordering-member';
import type { Logger } from '../../contracts/logger';
import type { MemberId } from '../../contracts/network';
import type { OrderingProtocol } from '../../contracts/ordering';
import type { Plugin } from '../../contracts/plugin';
import type { Conversation } from '../../contracts/substrate';
import { handlerBackend } from '../../vcl/backend';
import { ClientInterceptor } from '../../vcl/client-interceptor';
import type { MemberAddress } from '../../vcl/link-frames';
import { Recovery } from '../../vcl/recovery/recovery';
import { ServiceInterceptor } from '../../vcl/service-interceptor';
import { Simulator } from '../sim/simulator';
import type { SeededRandom } from '../sim/prng';
import { lineSubstrate } from './line-substrate';
import { MemoryLinkTransport } from './memory-link';

// A seeded scenario for the fail-over path under stalls: members of a real ordering plugin with
// service-side interceptors (snapshot recovery) and a replicated register, clients through
// client-side interceptors, and members paused like SIGSTOP for less or more than failure
// detection, then resumed. Every answer a client gets must be the one the group's total order
// produced for its request, and that order must respect real time: the history is linearizable
// with the total order as witness.

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One request as the replica applied it. */
export interface AppliedRequest {
  /** `<client> <seq>`. */
  readonly key: string;
  /** The answer the replica gave. */
  readonly result: string;
}

/**
 * A deterministic register for the scenario: `<client> <seq> w <v>` writes, `<client> <seq> r`
 * reads; both are answered `<client> <seq> <register>`. It keeps every applied request (its log is
 * its state, so a state transfer carries it).
 */
export class RegisterReplica {
  /** The register. */
  value = '0';
  /** Every applied request, in application order. */
  log: AppliedRequest[] = [];

  /** Applies one request line and returns the answer line. */
  handle(request: Uint8Array): Uint8Array {
    const [client = '', seq = '', op = '', v = ''] = dec.decode(request).trim().split(' ');
    if (op === 'w') this.value = v;
    const result = this.value;
    this.log.push({ key: `${client} ${seq}`, result });
    return enc.encode(`${client} ${seq} ${result}\n`);
  }

  /** The replica's state, for snapshot recovery. */
  async save(): Promise<Uint8Array> {
    return enc.encode(JSON.stringify({ value: this.value, log: this.log }));
  }

  /** Replaces the state. */
  async load(state: Uint8Array): Promise<void> {
    const s = JSON.parse(dec.decode(state)) as { value: string; log: AppliedRequest[] };
    this.value = s.value;
    this.log = s.log;
  }
}

/** Options of one run of the paused-members scenario. */
export interface PausedMembersOptions {
  /** Simulator seed (workload, pauses and link delays follow from it). */
  readonly seed: number;
  /** The ordering plugin under test (e.g. `tokenRing({ tokenLossMs: 400 })`). */
  readonly plugin: Plugin;
  /** Members. Default 5. */
  readonly members?: number;
  /** Clients, each through its own client-side interceptor. Default 4. */
  readonly clients?: number;
  /** Requests each client keeps in flight. Default 2. */
  readonly window?: number;
  /** Virtual ms of workload under pauses. Default 6000. */
  readonly durationMs?: number;
  /** Client link keep-alive and silence timeout (the stack's heartbeatMs and suspectMs). Default 50 and 400 ms. */
  readonly heartbeatMs?: number;
  /** See `heartbeatMs`. */
  readonly suspectMs?: number;
  /**
   * Each client-side interceptor's silence timeout is drawn from `suspectMs` up to this (a starved
   * client process notices a silent member late, as on a loaded machine, while the ring has already
   * excluded it). Default 3 × `suspectMs`.
   */
  readonly maxClientSuspectMs?: number;
  /** Longest pause in virtual ms; pauses are drawn from 30 ms up to it. Default 1500. */
  readonly maxPauseMs?: number;
  /**
   * Whether the members transfer state to a member the group re-admits (snapshot recovery). Default
   * true; false runs the interceptors without a state-transfer hook, as before replica recovery
   * existed: a member excluded while alive comes back with its stale replica (the tests show the
   * scenario catches that).
   */
  readonly stateTransfer?: boolean;
  /** Logger (default: silent). */
  readonly logger?: Logger;
}

/** What a run found. */
export interface PausedMembersResult {
  /** Everything that broke a guarantee; empty when the run is clean. */
  readonly violations: string[];
  /** Requests sent. */
  readonly requests: number;
  /** Requests answered. */
  readonly answered: number;
  /** Pauses applied, as `<member>@<start>+<ms>`. */
  readonly pauses: string[];
  /** Fail-overs the client-side interceptors completed. */
  readonly failovers: number;
  /** Views installed at the member that installed the most. */
  readonly views: number;
  /** State transfers installed by members that had already applied deliveries (excluded and re-admitted). */
  readonly catchUps: number;
  /** The group's order of requests (the longest replica log), for a closer look at a failing seed. */
  readonly order: readonly AppliedRequest[];
}

/** One register request a client made, with its virtual invoke and complete times. */
export interface RegisterCall {
  /** Client id. */
  readonly client: string;
  /** The client's request number. */
  readonly seq: number;
  /** The value written; absent for a read. */
  readonly write?: string;
  /** Virtual time the client sent it. */
  readonly call: number;
  /** Virtual time its answer arrived; absent if none did. */
  ret?: number;
  /** The register value in the answer. */
  result?: string;
}

const silent: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silent,
};

/** Runs one seed of the scenario; see the module comment. */
export async function runPausedMembers(o: PausedMembersOptions): Promise<PausedMembersResult> {
  const n = o.members ?? 5;
  const nClients = o.clients ?? 4;
  const window = o.window ?? 2;
  const duration = o.durationMs ?? 6000;
  const heartbeatMs = o.heartbeatMs ?? 50;
  const suspectMs = o.suspectMs ?? 400;
  const maxPause = o.maxPauseMs ?? 1500;
  const ids: MemberId[] = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const sim = new Simulator({ seed: o.seed, members: ids, faults: { minDelayMs: 0.2, maxDelayMs: 2 } });
  const log = o.logger ? stamped(o.logger, sim) : silent;
  const links = new MemoryLinkTransport({ clock: sim.clock, delayMs: 0.5 });
  const addresses: MemberAddress[] = ids.map((id, i) => ({ id, host: id, port: 7000 + i }));
  const substrate = lineSubstrate('request-response');
  const violations: string[] = [];
  const replicas = new Map<MemberId, RegisterReplica>();
  const services = new Map<MemberId, ServiceInterceptor>();
  const orderings = new Map<MemberId, OrderingProtocol>();
  const recoveries = new Map<MemberId, Recovery>();
  let catchUps = 0;
  for (const [i, id] of ids.entries()) {
    const node = sim.node(id);
    const mlog = log.child({ member: id });
    const replica = new RegisterReplica();
    const ordering = createOrderingMember(o.plugin, {
      group: { self: id, members: ids, partition: 'primary-component' },
      network: node.network,
      clock: node.clock,
      random: node.random,
      logger: mlog,
    });
    const recovery = new Recovery({
      self: id,
      mode: 'snapshot',
      service: { save: () => replica.save(), load: (s) => replica.load(s) },
      clock: node.clock,
      logger: noticing(mlog, 'caught up with the group by state transfer', () => catchUps++),
      onFatal: (e) => violations.push(`${id} cannot rejoin: ${e.message}`),
    });
    const service = new ServiceInterceptor({
      self: id,
      ordering,
      substrate,
      backend: handlerBackend(
        () => substrate.requestFramer(),
        (request) => replica.handle(request),
      ),
      transport: links,
      listen: { host: id, port: 7000 + i },
      members: addresses,
      clock: node.clock,
      logger: mlog,
      heartbeatMs,
      linkTimeoutMs: suspectMs,
      ...(o.stateTransfer === false ? {} : { recovery }),
    });
    replicas.set(id, replica);
    orderings.set(id, ordering);
    services.set(id, service);
    recoveries.set(id, recovery);
  }
  for (const id of ids) {
    await sim.node(id).network.start();
    await orderings.get(id)!.start();
    await services.get(id)!.start();
  }
  const fullView = (): boolean => ids.every((id) => orderings.get(id)!.view()?.members.length === n);
  if (!(await sim.runUntil(fullView, 10_000))) violations.push('no full view within 10 s');

  const ops: RegisterCall[] = [];
  const interceptors: ClientInterceptor[] = [];
  const drivers: ClientDriver[] = [];
  const workload = sim.random.fork('workload');
  for (let c = 0; c < nClients; c++) {
    const random = sim.random.fork(`client-${c}`);
    const ci = new ClientInterceptor({
      members: addresses,
      transport: links,
      substrate,
      clock: sim.clock,
      random,
      logger: log.child({ client: `c${c + 1}` }),
      heartbeatMs,
      linkTimeoutMs: Math.round(suspectMs + random.next() * ((o.maxClientSuspectMs ?? 3 * suspectMs) - suspectMs)),
      failoverTimeoutMs: 15_000,
    });
    await ci.start();
    interceptors.push(ci);
    drivers.push(new ClientDriver(`c${c + 1}`, ci.connect(), sim, workload.fork(`c${c}`), window, ops, violations));
  }
  const t0 = sim.now;
  for (const d of drivers) d.pump();

  // Pauses: never more than a minority at once, so the group keeps a primary component.
  const faults = sim.random.fork('pauses');
  const pauses: string[] = [];
  const maxDown = Math.floor((n - 1) / 2);
  const pausedUntil = new Map<MemberId, number>();
  let t = t0 + 300 + faults.next() * 500;
  while (t < t0 + duration - 1000) {
    await sim.runUntilTime(t);
    const now = sim.now;
    const live = ids.filter((id) => (pausedUntil.get(id) ?? 0) <= now);
    if (n - live.length < maxDown) {
      // Half of the pauses hit the member most sessions are attached to, so clients fail over.
      const attached = mostAttached(services, live);
      const id = attached && faults.chance(0.5) ? attached : faults.pick(live);
      const ms = faults.chance(0.5) ? 30 + faults.next() * 270 : 300 + faults.next() * (maxPause - 300);
      sim.pause(id);
      links.freeze(id, 7000 + ids.indexOf(id), true);
      pausedUntil.set(id, now + ms);
      pauses.push(`${id}@${Math.round(now - t0)}+${Math.round(ms)}`);
      sim.schedule(ms, () => {
        sim.resume(id);
        links.freeze(id, 7000 + ids.indexOf(id), false);
      });
    }
    t += 100 + faults.next() * 700;
  }
  await sim.runUntilTime(t0 + duration);
  for (const d of drivers) d.stopping = true;
  const settled = await sim.runUntil(
    () => drivers.every((d) => d.inflight === 0) && ids.every((id) => !sim.paused(id)),
    30_000,
  );
  // Let the last acks and any re-admission finish, then compare the replicas.
  await sim.runUntil(() => sameLogs(replicas, ids) && fullView(), 20_000);

  for (const d of drivers) d.finish();
  const answered = ops.filter((op) => op.ret !== undefined).length;
  if (!settled)
    violations.push(
      `${ops.length - answered} requests never answered: ` +
        ops
          .filter((op) => op.ret === undefined)
          .map((op) => {
            const at = interceptors[Number(op.client.slice(1)) - 1]!.status().sessions[0];
            return `${op.client} ${op.seq} (attached to ${at?.member ?? '-'}, ${at?.state ?? 'closed'})`;
          })
          .join(', '),
    );
  if (!sameLogs(replicas, ids))
    violations.push(
      `replicas differ: ${ids.map((id) => `${id}=${replicas.get(id)!.log.length}:${replicas.get(id)!.value}`).join(' ')}`,
    );
  // The group's order: the longest log (equal to every other one in a clean run; a replica that
  // missed deliveries holds less).
  const order = ids.map((id) => replicas.get(id)!.log).reduce((a, b) => (b.length > a.length ? b : a));
  violations.push(...checkAgainstOrder(ops, order));
  const failovers = interceptors.reduce((a, ci) => a + ci.counters.failovers, 0);
  const views = Math.max(...ids.map((id) => services.get(id)!.counters.viewChanges));
  for (const ci of interceptors) await ci.stop();
  for (const id of ids) {
    await services.get(id)!.stop();
    await orderings.get(id)!.stop();
    recoveries.get(id)!.stop();
  }
  return { violations, requests: ops.length, answered, pauses, failovers, views, catchUps, order };
}

/** `log` with the virtual time in every line (`t`). */
function stamped(log: Logger, sim: Simulator): Logger {
  const at = (obj: object): object => ({ t: Number(sim.now.toFixed(2)), ...obj });
  return {
    debug: (obj, m) => log.debug(at(obj), m),
    info: (obj, m) => log.info(at(obj), m),
    warn: (obj, m) => log.warn(at(obj), m),
    error: (obj, m) => log.error(at(obj), m),
    child: (bindings) => stamped(log.child(bindings), sim),
  };
}

/** `log`, calling `seen` whenever an info line says `msg` (a member re-admitted with a state). */
function noticing(log: Logger, msg: string, seen: () => void): Logger {
  return {
    debug: (obj, m) => log.debug(obj, m),
    info: (obj, m) => {
      if (m === msg) seen();
      log.info(obj, m);
    },
    warn: (obj, m) => log.warn(obj, m),
    error: (obj, m) => log.error(obj, m),
    child: (bindings) => noticing(log.child(bindings), msg, seen),
  };
}

function mostAttached(services: Map<MemberId, ServiceInterceptor>, live: readonly MemberId[]): MemberId | undefined {
  const counts = new Map<MemberId, number>();
  for (const s of services.get(live[0]!)?.status().sessions ?? [])
    counts.set(s.attached, (counts.get(s.attached) ?? 0) + 1);
  return live.filter((id) => counts.has(id)).sort((a, b) => counts.get(b)! - counts.get(a)!)[0];
}

function sameLogs(replicas: Map<MemberId, RegisterReplica>, ids: readonly MemberId[]): boolean {
  const first = replicas.get(ids[0]!)!.log;
  return ids.every((id) => {
    const l = replicas.get(id)!.log;
    return l.length === first.length && l.every((e, i) => e.key === first[i]!.key && e.result === first[i]!.result);
  });
}

/**
 * Linearizability with the total order as witness: every answer must be the one the order gave
 * its request (a stale replica answers otherwise), and an operation that completed before another
 * was invoked must come first in the order.
 */
export function checkAgainstOrder(ops: readonly RegisterCall[], order: readonly AppliedRequest[]): string[] {
  const out: string[] = [];
  const pos = new Map<string, number>();
  order.forEach((e, i) => {
    if (pos.has(e.key)) out.push(`request ${e.key} applied twice (at ${pos.get(e.key)} and ${i})`);
    else pos.set(e.key, i);
  });
  const placed: { op: RegisterCall; at: number }[] = [];
  for (const op of ops) {
    const key = `${op.client} ${op.seq}`;
    const at = pos.get(key);
    if (op.ret === undefined) continue;
    if (at === undefined) {
      out.push(`${key} answered ${op.result} at ${op.ret.toFixed(1)} but never applied by the group`);
      continue;
    }
    if (order[at]!.result !== op.result)
      out.push(
        `${key} (${op.write ? `write ${op.write}` : 'read'}) answered ${op.result} at ${op.ret.toFixed(1)}; ` +
          `the group's order answered ${order[at]!.result}`,
      );
    placed.push({ op, at });
  }
  placed.sort((a, b) => b.at - a.at);
  let minRetAfter = Number.POSITIVE_INFINITY;
  let culprit: RegisterCall | undefined;
  for (const { op } of placed) {
    if (minRetAfter < op.call)
      out.push(
        `${op.client} ${op.seq} invoked at ${op.call.toFixed(1)} is ordered before ${culprit!.client} ${culprit!.seq}, ` +
          `which completed at ${minRetAfter.toFixed(1)}`,
      );
    if (op.ret! < minRetAfter) {
      minRetAfter = op.ret!;
      culprit = op;
    }
  }
  return out;
}

/** One client: keeps `window` register requests in flight, checks each answer arrives once, in order. */
class ClientDriver {
  stopping = false;
  inflight = 0;
  private seq = 0;
  private next = 1;
  private held = '';
  private readonly mine = new Map<number, RegisterCall>();

  constructor(
    readonly id: string,
    private readonly conversation: Conversation,
    private readonly sim: Simulator,
    private readonly random: SeededRandom,
    private readonly window: number,
    private readonly ops: RegisterCall[],
    private readonly violations: string[],
  ) {
    conversation.onData((bytes) => {
      this.held += dec.decode(bytes);
      const lines = this.held.split('\n');
      this.held = lines.pop()!;
      for (const l of lines) this.answer(l);
    });
    conversation.onEnd((error) => {
      if (!this.stopping) violations.push(`${id}: connection ended${error ? `: ${error.message}` : ''}`);
    });
  }

  pump(): void {
    while (!this.stopping && this.inflight < this.window) {
      const seq = ++this.seq;
      const write = this.random.chance(0.5) ? `${this.id}.${seq}` : undefined;
      const op: RegisterCall = { client: this.id, seq, ...(write ? { write } : {}), call: this.sim.now };
      this.mine.set(seq, op);
      this.ops.push(op);
      this.inflight++;
      this.conversation.write(enc.encode(`${this.id} ${seq} ${write ? `w ${write}` : 'r'}\n`));
    }
  }

  finish(): void {
    this.stopping = true;
    this.conversation.end();
  }

  private answer(line: string): void {
    const [client, seqText, result = ''] = line.split(' ');
    const seq = Number(seqText);
    const op = client === this.id ? this.mine.get(seq) : undefined;
    if (!op || op.ret !== undefined) {
      this.violations.push(`${this.id}: unexpected or repeated answer "${line}"`);
      return;
    }
    if (seq !== this.next) this.violations.push(`${this.id}: answer to ${seq} before ${this.next}`);
    this.next = seq + 1;
    op.ret = this.sim.now;
    op.result = result;
    this.inflight--;
    this.pump();
  }
}
