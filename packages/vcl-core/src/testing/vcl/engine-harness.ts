import type { SessionsPolicy } from '../../config/stack';
import type { MemberId } from '../../contracts/network';
import type { Conversation, ExchangePattern, ExecutionTraits, Substrate } from '../../contracts/substrate';
import type { ServiceBackend } from '../../vcl/backend';
import { ClientInterceptor, type ClientInterceptorOptions } from '../../vcl/client-interceptor';
import type { MemberAddress } from '../../vcl/link-frames';
import { ServiceInterceptor, type ServiceInterceptorOptions } from '../../vcl/service-interceptor';
import { Simulator } from '../sim/simulator';
import { CounterService } from './counter-service';
import { FakeTotalOrder } from './fake-total-order';
import { lineSubstrate } from './line-substrate';
import { MemoryLinkTransport } from './memory-link';
import { RecordingLogger } from './recording-logger';

/** Options of a `VclHarness`. */
export interface VclHarnessOptions {
  /** Simulator seed. */
  readonly seed: number;
  /** Number of members. Default 3. */
  readonly members?: number;
  /** Exchange pattern of the test substrate. Default `request-response`. */
  readonly pattern?: ExchangePattern;
  /** Delay from broadcast to delivery. Default 1 ms. */
  readonly orderDelayMs?: number;
  /** One-way link delay. Default 1 ms. */
  readonly linkDelayMs?: number;
  /** Group blocked time after a failure. Default 50 ms. */
  readonly detectMs?: number;
  /** Overrides for every service-side interceptor. */
  readonly service?: Partial<ServiceInterceptorOptions>;
  /** Overrides for the client-side interceptor. */
  readonly client?: Partial<ClientInterceptorOptions>;
  /** Logger (default: a silent recorder). */
  readonly logger?: RecordingLogger;
  /** The service replica for a member (default: a new `CounterService`), e.g. a non-deterministic one. */
  readonly replica?: (member: MemberId) => CounterService;
  /**
   * Virtual time a member takes to open its conversation with the service (a slow dial), drawn
   * per session from `[0, openDelayMs]`. Default 0.
   */
  readonly openDelayMs?: number;
  /** The test substrate's execution traits (pipelining, planner). Default none. */
  readonly execution?: ExecutionTraits;
  /** The substrate's sessions policy (`substrates[].sessions`). Default none. */
  readonly sessions?: SessionsPolicy;
}

/**
 * Service- and client-side interceptors wired in process on the seeded simulator: a
 * `FakeTotalOrder`, in-memory links and one `CounterService` replica per member. Crashes and
 * freezes hit the ordering, the links and the member's timers together, like a killed or stopped
 * process.
 */
export class VclHarness {
  /** The simulator (virtual time). */
  readonly sim: Simulator;
  /** The total order. */
  readonly order: FakeTotalOrder;
  /** The links. */
  readonly links: MemoryLinkTransport;
  /** Member ids. */
  readonly members: MemberId[];
  /** Client addresses of the members. */
  readonly addresses: MemberAddress[];
  /** The service replica at each member. */
  readonly replicas = new Map<MemberId, CounterService>();
  /** The service-side interceptor at each member. */
  readonly services = new Map<MemberId, ServiceInterceptor>();
  /** The client-side interceptor. */
  readonly client: ClientInterceptor;
  /** Everything logged. */
  readonly logger: RecordingLogger;
  private readonly down = new Set<MemberId>();
  private readonly deadServices = new Set<MemberId>();
  private readonly serviceConversations = new Map<MemberId, Set<Conversation>>();

  constructor(readonly options: VclHarnessOptions) {
    const n = options.members ?? 3;
    this.members = Array.from({ length: n }, (_, i) => `n${i + 1}`);
    this.sim = new Simulator({ seed: options.seed, members: [...this.members, 'client'] });
    this.logger = options.logger ?? new RecordingLogger();
    this.order = new FakeTotalOrder({
      clock: this.sim.clock,
      members: this.members,
      orderDelayMs: options.orderDelayMs ?? 1,
      detectMs: options.detectMs ?? 50,
    });
    this.links = new MemoryLinkTransport({ clock: this.sim.clock, delayMs: options.linkDelayMs ?? 1 });
    this.addresses = this.members.map((id, i) => ({ id, host: id, port: 7000 + i }));
    const substrate: Substrate = {
      ...lineSubstrate(options.pattern ?? 'request-response'),
      ...(options.execution ? { execution: options.execution } : {}),
    };
    for (const [i, id] of this.members.entries()) {
      const replica = options.replica?.(id) ?? new CounterService();
      this.replicas.set(id, replica);
      const node = this.sim.node(id);
      const direct = replica.backend(substrate);
      const delay = options.openDelayMs ?? 0;
      const opened = new Set<Conversation>();
      this.serviceConversations.set(id, opened);
      const open = (session: string, signal?: AbortSignal): Promise<Conversation> => {
        if (this.deadServices.has(id)) return Promise.reject(new Error(`service of ${id} is gone`));
        return direct.open(session, signal).then((c) => {
          opened.add(c); // (a destroy of an ended conversation does nothing)
          return c;
        });
      };
      const backend: ServiceBackend = {
        open: (session, signal) =>
          delay > 0
            ? new Promise<void>((resolve) => node.clock.setTimer(Math.floor(node.random.next() * delay), resolve)).then(
                () => open(session, signal),
              )
            : open(session, signal),
        probe: async () => !this.deadServices.has(id),
      };
      this.services.set(
        id,
        new ServiceInterceptor({
          self: id,
          ordering: this.order.member(id),
          ...(options.sessions
            ? { substrates: [{ name: substrate.name, substrate, backend, sessions: options.sessions }] }
            : { substrate, backend }),
          transport: this.links,
          listen: { host: id, port: 7000 + i },
          members: this.addresses,
          clock: this.sim.node(id).clock,
          logger: this.logger.child({ member: id }),
          ...options.service,
        }),
      );
    }
    const clientNode = this.sim.node('client');
    this.client = new ClientInterceptor({
      members: this.addresses,
      transport: this.links,
      substrate,
      clock: clientNode.clock,
      random: clientNode.random,
      logger: this.logger.child({ side: 'client' }),
      ...options.client,
    });
  }

  /** Starts ordering, then the service-side interceptors, then the client-side one. */
  async start(): Promise<void> {
    for (const id of this.members) await this.order.member(id).start();
    for (const s of this.services.values()) await s.start();
    await this.client.start();
  }

  /**
   * Runs the promise continuations started by test code outside a simulator event, at the current
   * virtual time (otherwise they would run at the time of the next event).
   */
  async settle(): Promise<void> {
    for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Members neither crashed nor frozen. */
  live(): MemberId[] {
    return this.members.filter((m) => !this.down.has(m));
  }

  /** Kills member `id` like SIGKILL: links reset, ordering excludes it, its timers stop. */
  crash(id: MemberId): void {
    const i = this.members.indexOf(id);
    this.down.add(id);
    this.links.crash(id, 7000 + i);
    this.order.crash(id);
    this.sim.crash(id);
  }

  /**
   * Kills member `id`'s service process (not the member): every conversation with it ends as a
   * dying process's sockets do, and new dials and probes are refused.
   */
  killService(id: MemberId): void {
    this.deadServices.add(id);
    for (const c of [...(this.serviceConversations.get(id) ?? [])]) c.destroy();
  }

  /** The conversations member `id` opened with its service (some may have ended). */
  serviceConversationsOf(id: MemberId): Conversation[] {
    return [...(this.serviceConversations.get(id) ?? [])];
  }

  /** Breaks member `id`'s client links (and refuses new ones) while it stays in the group. */
  cutClientLinks(id: MemberId): void {
    this.links.crash(id, 7000 + this.members.indexOf(id));
  }

  /** Freezes member `id` like SIGSTOP: links stay open but silent, ordering excludes it, timers stop. */
  freeze(id: MemberId): void {
    const i = this.members.indexOf(id);
    this.down.add(id);
    this.links.freeze(id, 7000 + i, true);
    this.order.freeze(id);
    this.sim.crash(id);
  }

  /** The member a session is attached to, per the (replicated) session table of a live member. */
  attachedTo(session: string): MemberId | undefined {
    const any = this.services.get(this.live()[0]!);
    return any?.status().sessions.find((s) => s.id === session)?.attached;
  }

  /** Digests of the live replicas' states. */
  digests(): string[] {
    return this.live().map((m) => this.replicas.get(m)!.digest());
  }
}

/** Drives one session of a line-based request-response client and records what it receives. */
export class LineClient {
  /** Response lines received, in order. */
  readonly responses: string[] = [];
  /** Set when the client connection ended. */
  ended = false;
  /** The error it ended with, if any. */
  error: Error | undefined;
  /** Called for every response line. */
  onResponse: ((line: string) => void) | undefined;
  private held = '';
  private readonly dec = new TextDecoder();
  private readonly enc = new TextEncoder();

  constructor(
    /** The client's conversation. */
    readonly conversation: Conversation,
  ) {
    conversation.onData((bytes) => {
      this.held += this.dec.decode(bytes);
      const lines = this.held.split('\n');
      this.held = lines.pop()!;
      for (const line of lines) {
        this.responses.push(line);
        this.onResponse?.(line);
      }
    });
    conversation.onEnd((error) => {
      this.ended = true;
      this.error = error;
    });
  }

  /** Sends request `<tag> <k>`. */
  send(tag: string, k: number): void {
    this.conversation.write(this.enc.encode(`${tag} ${k}\n`));
  }
}
