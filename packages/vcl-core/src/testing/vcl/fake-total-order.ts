import type { Clock } from '../../contracts/clock';
import type { MemberId } from '../../contracts/network';
import type {
  Delivery,
  Ordered,
  OrderingProtocol,
  OrderingStatus,
  StateTransfer,
  View,
} from '../../contracts/ordering';
import type { PluginRegistration } from '../../contracts/plugin';
import { resolve } from '../../contracts/token';
import { GROUP, ORDERING } from '../../contracts/tokens';
import { StoppedError, VclError } from '../../errors';

/** Options of a `FakeTotalOrder`. */
export interface FakeTotalOrderOptions {
  /** Time source for delays (the simulator's clock in engine tests). */
  readonly clock: Clock;
  /** The configured members. */
  readonly members: readonly MemberId[];
  /** Delay from `broadcast` to ordering, in ms. Default 1. */
  readonly orderDelayMs?: number;
  /** Time the group stays blocked after a crash or freeze before the new view is installed, in ms. Default 50. */
  readonly detectMs?: number;
}

/**
 * A test double of a total-order group: one shared log that delivers every message to every member
 * of the current view in the same order, with views installed after crashes. It keeps the
 * `OrderingProtocol` guarantees trivially (one process, one log), so engine tests can focus on the
 * session protocol. Not a group communication system: use a real ordering plugin outside tests.
 */
export class FakeTotalOrder {
  /** Every message ordered so far, in order. */
  readonly log: Delivery[] = [];
  private readonly handles = new Map<MemberId, FakeMember>();
  private viewMembers: MemberId[];
  private viewId = 1;
  private blockedUntil = 0;
  private readonly queue: {
    from: FakeMember;
    payload: Uint8Array;
    resolve: (o: Ordered) => void;
    reject: (e: Error) => void;
  }[] = [];
  private pumpScheduled = false;
  private readonly orderDelayMs: number;
  private readonly detectMs: number;
  private readonly slow = new Map<MemberId, number>();

  constructor(private readonly options: FakeTotalOrderOptions) {
    this.viewMembers = [...options.members];
    this.orderDelayMs = options.orderDelayMs ?? 1;
    this.detectMs = options.detectMs ?? 50;
  }

  /** The ordering member for `id` (one per member; the same object on every call). */
  member(id: MemberId): OrderingProtocol {
    if (!this.options.members.includes(id)) throw new VclError(`unknown member ${id}`);
    let h = this.handles.get(id);
    if (!h) {
      h = new FakeMember(id, this);
      this.handles.set(id, h);
    }
    return h;
  }

  /** The current view. */
  view(): View {
    return {
      id: this.viewId,
      members: this.viewMembers,
      primary: this.viewMembers.length * 2 > this.options.members.length,
      cut: this.log.length,
    };
  }

  /**
   * Removes `id` from the group: its undelivered broadcasts are lost, the group blocks for
   * `detectMs` (failure detection) and then installs a view without it.
   */
  crash(id: MemberId): void {
    const h = this.handles.get(id);
    if (h) h.dead = true;
    this.exclude(id);
  }

  /** Freezes `id` (SIGSTOP): it receives nothing, and the group excludes it after `detectMs`. */
  freeze(id: MemberId): void {
    const h = this.handles.get(id);
    if (h) h.frozen = true;
    this.exclude(id);
  }

  /**
   * Makes `id`'s broadcasts take `ms` to be ordered (a slow path to the sequencer); each member's
   * broadcasts stay in order among themselves.
   */
  setOrderDelay(id: MemberId, ms: number): void {
    this.slow.set(id, ms);
  }

  /** @internal */
  submit(from: FakeMember, payload: Uint8Array): Promise<Ordered> {
    return new Promise((resolve, reject) => {
      this.options.clock.setTimer(this.slow.get(from.self) ?? this.orderDelayMs, () => {
        this.queue.push({ from, payload: payload.slice(), resolve, reject });
        this.pump();
      });
    });
  }

  /** @internal */
  started(h: FakeMember): void {
    if (this.viewMembers.includes(h.self)) h.install(this.view());
  }

  private exclude(id: MemberId): void {
    if (!this.viewMembers.includes(id)) return;
    const now = this.options.clock.now();
    this.blockedUntil = Math.max(this.blockedUntil, now) + this.detectMs;
    this.options.clock.setTimer(this.blockedUntil - now, () => {
      this.viewMembers = this.viewMembers.filter((m) => m !== id);
      this.viewId++;
      const view = this.view();
      for (const m of this.viewMembers) this.handles.get(m)?.install(view);
      const h = this.handles.get(id);
      if (h && !h.dead) h.install({ id: this.viewId, members: [id], primary: false, cut: this.log.length });
      this.pump();
    });
  }

  private pump(): void {
    const now = this.options.clock.now();
    if (now < this.blockedUntil) {
      if (!this.pumpScheduled) {
        this.pumpScheduled = true;
        this.options.clock.setTimer(this.blockedUntil - now, () => {
          this.pumpScheduled = false;
          this.pump();
        });
      }
      return;
    }
    const view = this.view();
    while (this.queue.length > 0) {
      const item = this.queue.shift()!;
      if (!view.primary || item.from.dead || !this.viewMembers.includes(item.from.self)) {
        item.reject(new StoppedError(`member ${item.from.self} is not in the primary view`));
        continue;
      }
      const d: Delivery = { view: view.id, seq: this.log.length + 1, sender: item.from.self, payload: item.payload };
      this.log.push(d);
      for (const m of this.viewMembers) {
        const h = this.handles.get(m);
        if (h && !h.dead && !h.frozen) h.deliver(d);
      }
      item.resolve({ view: d.view, seq: d.seq });
    }
  }
}

class FakeMember implements OrderingProtocol {
  dead = false;
  frozen = false;
  private running = false;
  private deliverHandler: ((d: Delivery) => void) | undefined;
  private viewHandler: ((v: View) => void) | undefined;
  private current: View | undefined;
  private delivered = 0;

  constructor(
    readonly self: MemberId,
    private readonly group: FakeTotalOrder,
  ) {}

  async start(): Promise<void> {
    this.running = true;
    this.group.started(this);
  }

  async stop(): Promise<void> {
    this.running = false;
  }

  broadcast(payload: Uint8Array): Promise<Ordered> {
    if (!this.running || this.dead) return Promise.reject(new StoppedError(`member ${this.self} is stopped`));
    return this.group.submit(this, payload);
  }

  onDeliver(handler: (d: Delivery) => void): void {
    this.deliverHandler = handler;
  }

  onView(handler: (v: View) => void): void {
    this.viewHandler = handler;
  }

  setStateTransfer(_hook: StateTransfer): void {}

  view(): View | undefined {
    return this.current;
  }

  status(): OrderingStatus {
    return { ...(this.current ? { view: this.current } : {}), role: 'member', pending: 0, delivered: this.delivered };
  }

  install(view: View): void {
    if (!this.running) return;
    this.current = view;
    this.viewHandler?.(view);
  }

  deliver(d: Delivery): void {
    if (!this.running) return;
    this.delivered = d.seq;
    this.deliverHandler?.(d);
  }
}

/**
 * An ordering plugin named `fake` whose members are `order`'s: stacks with `ordering: { plugin:
 * fake }` run on the fake total order (tests of assembly, where the ordering is not the subject).
 */
export function fakeOrderingRegistration(order: FakeTotalOrder): PluginRegistration {
  return {
    kind: 'ordering',
    name: 'fake',
    packageName: 'test',
    description: 'fake total order',
    create: () => ({
      kind: 'ordering',
      name: 'fake',
      register: (c) => {
        c.register(ORDERING, { useValue: order.member(resolve(c, GROUP).self) });
      },
    }),
  };
}
