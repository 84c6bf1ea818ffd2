import type { Clock, Timer } from '../../contracts/clock';
import type { MemberId, Network } from '../../contracts/network';
import type { Random } from '../../contracts/random';
import { VclError } from '../../errors';
import { EventQueue } from './event-queue';
import { SeededRandom } from './prng';

/** What the simulated links do to messages. Every field is a probability or a delay in ms. */
export interface LinkFaults {
  /** Probability that a message is lost. Default 0. */
  readonly drop: number;
  /** Probability that a message arrives twice. Default 0. */
  readonly duplicate: number;
  /** Smallest one-way delay in virtual ms. Default 1. */
  readonly minDelayMs: number;
  /** Largest one-way delay in virtual ms. Default 5. */
  readonly maxDelayMs: number;
  /** Keep each link FIFO (like TCP); false lets later messages overtake earlier ones. Default true. */
  readonly fifo: boolean;
}

/** Options of a `Simulator`. */
export interface SimulatorOptions {
  /** The seed; the same seed (and the same code driving it) gives the same run, bit for bit. */
  readonly seed: number;
  /** The configured members. */
  readonly members: readonly MemberId[];
  /** Initial link behaviour; see `LinkFaults` for defaults. */
  readonly faults?: Partial<LinkFaults>;
}

/** One member as the simulator runs it: its current incarnation's network, clock and randomness. */
export interface SimNode {
  /** The member id. */
  readonly id: MemberId;
  /** 1 at the first start, +1 at every restart. */
  readonly incarnation: number;
  /** False once crashed (until restarted, which makes a new `SimNode`). */
  readonly up: boolean;
  /** This incarnation's links; dead after a crash. */
  readonly network: Network;
  /** Virtual time; timers of a crashed incarnation never fire. */
  readonly clock: Clock;
  /** This incarnation's seeded randomness. */
  readonly random: Random;
}

/** Counters of what the simulated network did. */
export interface SimStats {
  /** Messages handed to `send`. */
  sent: number;
  /** Messages handed to a receiver (duplicates counted). */
  delivered: number;
  /** Messages lost (random drop, partition, crashed or stopped ends). */
  dropped: number;
  /** Extra copies made. */
  duplicated: number;
  /** Events run. */
  events: number;
}

const DEFAULT_FAULTS: LinkFaults = { drop: 0, duplicate: 0, minDelayMs: 1, maxDelayMs: 5, fifo: true };

/** A simulator misused by the test that drives it (unknown member, restart of a live node). */
export class SimulationError extends VclError {
  override readonly code = 'VCL_SIMULATION';
}

/**
 * A deterministic discrete-event simulator: a virtual clock, in-memory links between members and
 * a seeded scheduler that can delay, drop, duplicate and reorder messages, partition and heal the
 * group, and crash and restart members. Everything that happens is a function of the seed and of
 * the code driving it; `fingerprint()` summarises a run so tests can prove it.
 */
export class Simulator {
  /** Virtual time for test code (the same time every node sees). */
  readonly clock: Clock;
  /** The run's master randomness, for test code that picks faults (forked from the seed). */
  readonly random: SeededRandom;
  /** The configured members. */
  readonly members: readonly MemberId[];
  /** What the network did so far. */
  readonly stats: SimStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, events: 0 };

  private readonly queue = new EventQueue();
  private readonly linkRandom: SeededRandom;
  private readonly root: SeededRandom;
  private readonly nodes = new Map<MemberId, NodeState>();
  private readonly lastArrival = new Map<string, number>();
  private faults: LinkFaults;
  private groups: Map<MemberId, number> | undefined;
  private time = 0;
  private hash = 0x811c9dc5;

  constructor(options: SimulatorOptions) {
    if (options.members.length === 0) throw new SimulationError('a simulation needs at least one member');
    if (new Set(options.members).size !== options.members.length)
      throw new SimulationError(`member ids must be unique, got ${options.members.join(', ')}`);
    this.members = [...options.members];
    this.root = new SeededRandom(options.seed);
    this.random = this.root.fork('test');
    this.linkRandom = this.root.fork('links');
    this.faults = { ...DEFAULT_FAULTS, ...options.faults };
    this.clock = { now: () => this.time, setTimer: (ms, fn) => this.schedule(ms, fn) };
    for (const id of this.members) this.nodes.set(id, this.newIncarnation(id, 1));
  }

  /** The current virtual time in ms. */
  get now(): number {
    return this.time;
  }

  /** Events still scheduled. */
  get pending(): number {
    return this.queue.size;
  }

  /** The current incarnation of member `id`. */
  node(id: MemberId): SimNode {
    return this.state(id).node;
  }

  /** Changes link behaviour from now on (messages already in flight keep their fate). */
  setFaults(faults: Partial<LinkFaults>): void {
    this.faults = { ...this.faults, ...faults };
    this.mix(`faults:${JSON.stringify(this.faults)}`);
  }

  /** The link behaviour in force. */
  get linkFaults(): LinkFaults {
    return this.faults;
  }

  /**
   * Splits the members into groups that cannot reach each other; a member not named is alone.
   * Messages already in flight across the cut are lost when they arrive.
   */
  partition(groups: readonly (readonly MemberId[])[]): void {
    const map = new Map<MemberId, number>();
    groups.forEach((g, i) => g.forEach((id) => (this.state(id), map.set(id, i))));
    let lone = groups.length;
    for (const id of this.members) if (!map.has(id)) map.set(id, lone++);
    this.groups = map;
    this.mix(`partition:${groups.map((g) => g.join(',')).join('|')}`);
  }

  /** Removes every partition. */
  heal(): void {
    this.groups = undefined;
    this.mix('heal');
  }

  /** Whether `a` and `b` can exchange messages now (both up, same side of any partition). */
  connected(a: MemberId, b: MemberId): boolean {
    const sa = this.state(a);
    const sb = this.state(b);
    return sa.node.up && sb.node.up && (!this.groups || this.groups.get(a) === this.groups.get(b));
  }

  /** Crashes member `id`: its timers never fire, its links go silent, in-flight messages to it are lost. */
  crash(id: MemberId): void {
    const s = this.state(id);
    if (!s.node.up) return;
    s.up = false;
    this.mix(`crash:${id}`);
    for (const other of this.members) {
      if (other === id || !this.connected(other, other)) continue;
      const peer = this.state(other);
      const delay = this.faults.maxDelayMs;
      this.schedule(delay, () => {
        if (peer.up && !this.groupsSplit(other, id)) peer.peerDown?.(id);
      });
    }
  }

  /**
   * Pauses member `id` like SIGSTOP: its timers that come due and the messages that reach it wait,
   * in the order they came, until `resume`; its peers see nothing (no peer-down), as with a stopped
   * process whose connections stay open.
   */
  pause(id: MemberId): void {
    const s = this.state(id);
    if (!s.node.up || s.paused) return;
    s.paused = true;
    this.mix(`pause:${id}`);
  }

  /** Resumes paused member `id` like SIGCONT: what waited runs now, in the order it came due. */
  resume(id: MemberId): void {
    const s = this.state(id);
    if (!s.paused) return;
    s.paused = false;
    this.mix(`resume:${id}`);
    for (const run of s.deferred.splice(0)) this.queue.push(this.time, run);
  }

  /** Whether member `id` is paused. */
  paused(id: MemberId): boolean {
    return this.state(id).paused;
  }

  /** Restarts crashed member `id` as a new incarnation (fresh network, clock and randomness). */
  restart(id: MemberId): SimNode {
    const s = this.state(id);
    if (s.node.up) throw new SimulationError(`member ${id} is up; crash it before restarting it`);
    const next = this.newIncarnation(id, s.node.incarnation + 1);
    this.nodes.set(id, next);
    this.mix(`restart:${id}`);
    return next.node;
  }

  /** Runs `fn` after `ms` virtual ms (for test code; not tied to any member). */
  schedule(ms: number, fn: () => void): Timer {
    const event = this.queue.push(this.time + Math.max(0, ms), fn);
    return { cancel: () => void (event.cancelled = true) };
  }

  /**
   * Runs events in time order until virtual time `untilMs` (inclusive) or until none is left.
   * Promise continuations started by an event run before the next event, as they would in Node.
   */
  async runUntilTime(untilMs: number): Promise<void> {
    for (;;) {
      const next = this.queue.peek();
      if (!next || next.time > untilMs) break;
      await this.step();
    }
    if (this.time < untilMs) this.time = untilMs;
  }

  /** Runs for `ms` more virtual ms. */
  async runFor(ms: number): Promise<void> {
    await this.runUntilTime(this.time + ms);
  }

  /**
   * Runs until `done()` is true (checked after every event) or `timeoutMs` of virtual time pass.
   * Returns whether `done()` became true.
   */
  async runUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const limit = this.time + timeoutMs;
    while (!done()) {
      const next = this.queue.peek();
      if (!next || next.time > limit) {
        if (this.time < limit) this.time = limit;
        return done();
      }
      await this.step();
    }
    return true;
  }

  /** A digest of every event so far (sends, arrivals, faults); equal digests mean equal runs. */
  fingerprint(): string {
    return `${(this.hash >>> 0).toString(16).padStart(8, '0')}:${this.stats.events}:${this.time}`;
  }

  private async step(): Promise<void> {
    const event = this.queue.pop();
    if (!event) return;
    this.time = event.time;
    if (event.cancelled) return;
    this.stats.events++;
    event.run();
    await drainMicrotasks();
  }

  private newIncarnation(id: MemberId, incarnation: number): NodeState {
    const random = this.root.fork(`node:${id}:${incarnation}`);
    const state = { up: true, paused: false, deferred: [] as (() => void)[] } as NodeState;
    const alive = (): boolean => state.up && this.nodes.get(id) === state;
    const clock: Clock = {
      now: () => this.time,
      setTimer: (ms, fn) => {
        let cancelled = false;
        const run = (): void => {
          if (cancelled || !alive()) return;
          if (state.paused) state.deferred.push(run);
          else fn();
        };
        const timer = this.schedule(ms, run);
        return {
          cancel: () => {
            cancelled = true;
            timer.cancel();
          },
        };
      },
    };
    let started = false;
    let stopped = false;
    const network: Network = {
      self: id,
      incarnation,
      members: this.members,
      async start() {
        started = true;
      },
      async stop() {
        stopped = true;
      },
      send: (to, bytes) => {
        if (!alive() || stopped) return;
        this.transmit(id, to, bytes);
      },
      onMessage(handler) {
        state.message = handler;
      },
      onPeerDown(handler) {
        state.peerDown = handler;
      },
    };
    state.receive = (from, bytes) => {
      if (started && !stopped) state.message?.(from, bytes);
    };
    state.node = {
      id,
      incarnation,
      get up() {
        return alive();
      },
      network,
      clock,
      random,
    };
    return state;
  }

  private transmit(from: MemberId, to: MemberId, bytes: Uint8Array): void {
    this.stats.sent++;
    const target = this.nodes.get(to);
    if (!target) {
      this.stats.dropped++;
      return;
    }
    const copy = bytes.slice();
    this.mixBytes(from, to, copy);
    if (from === to) {
      this.arrive(from, to, copy, this.time);
      return;
    }
    const f = this.faults;
    if (this.groupsSplit(from, to) || this.linkRandom.chance(f.drop)) {
      this.stats.dropped++;
      return;
    }
    const copies = this.linkRandom.chance(f.duplicate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      let at = this.time + f.minDelayMs + this.linkRandom.next() * (f.maxDelayMs - f.minDelayMs);
      if (f.fifo) {
        const key = `${from}>${to}`;
        at = Math.max(at, this.lastArrival.get(key) ?? 0);
        this.lastArrival.set(key, at);
      }
      this.arrive(from, to, copy, at);
    }
  }

  private arrive(from: MemberId, to: MemberId, bytes: Uint8Array, at: number): void {
    this.queue.push(at, () => {
      const target = this.nodes.get(to)!;
      if (!target.up || this.groupsSplit(from, to)) {
        this.stats.dropped++;
        return;
      }
      // A paused member's messages wait in its (kernel) buffers until it resumes.
      if (target.paused) {
        target.deferred.push(() => {
          if (!target.up || this.nodes.get(to) !== target) {
            this.stats.dropped++;
            return;
          }
          this.stats.delivered++;
          target.receive?.(from, bytes);
        });
        return;
      }
      this.stats.delivered++;
      target.receive?.(from, bytes);
    });
  }

  private groupsSplit(a: MemberId, b: MemberId): boolean {
    return this.groups !== undefined && this.groups.get(a) !== this.groups.get(b);
  }

  private state(id: MemberId): NodeState {
    const s = this.nodes.get(id);
    if (!s) throw new SimulationError(`unknown member ${id}; members are ${this.members.join(', ')}`);
    return s;
  }

  private mix(text: string): void {
    let h = this.hash ^ Math.floor(this.time * 1000);
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    this.hash = h >>> 0;
  }

  private mixBytes(from: MemberId, to: MemberId, bytes: Uint8Array): void {
    let h = this.hash ^ Math.floor(this.time * 1000);
    h = Math.imul(h ^ from.length ^ (to.length << 8), 0x01000193);
    for (let i = 0; i < from.length; i++) h = Math.imul(h ^ from.charCodeAt(i), 0x01000193);
    for (let i = 0; i < to.length; i++) h = Math.imul(h ^ to.charCodeAt(i), 0x01000193);
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
    this.hash = h >>> 0;
  }
}

interface NodeState {
  up: boolean;
  /** Stopped like SIGSTOP: timers and arrivals wait in `deferred`. */
  paused: boolean;
  deferred: (() => void)[];
  node: SimNode;
  message?: (from: MemberId, bytes: Uint8Array) => void;
  peerDown?: (peer: MemberId) => void;
  receive?: (from: MemberId, bytes: Uint8Array) => void;
}

/** Lets every pending promise continuation run (one macrotask turn). */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
