import type { Conversation, Endpoint, Listener, Substrate } from '../../contracts/substrate';

/** Options of `PassThroughRelay.start`. */
export interface PassThroughRelayOptions {
  /** The substrate whose `listen`, `dial`, framers and `errorResponse` are used. */
  readonly substrate: Substrate;
  /** Where the real service is (`dial`'s endpoint). */
  readonly service: Endpoint;
  /** Where to listen for real clients; default `{ host: '127.0.0.1', port: 0 }`. */
  readonly listen?: Endpoint;
}

/**
 * A substrate seen end to end without replication: client conversations from `listen` are framed
 * into requests, each forwarded on its own `dial` conversation, and the framed responses written
 * back. Malformed input gets `errorResponse` and the conversation is ended, while the relay keeps
 * serving others. It plays both interceptors with nothing ordered in between: a conformance test
 * aid, not an interceptor (request-response substrates get one request in flight per conversation,
 * as the service-side interceptor runs them).
 */
export class PassThroughRelay {
  /** Framing errors met on client conversations, in order. */
  readonly errors: Error[] = [];
  /** Client conversations accepted so far. */
  accepted = 0;
  private readonly open = new Set<Conversation>();

  private constructor(
    private readonly substrate: Substrate,
    private readonly service: Endpoint,
    private listener?: Listener,
  ) {}

  /** Starts listening; resolves once real clients can connect to `endpoint`. */
  static async start(options: PassThroughRelayOptions): Promise<PassThroughRelay> {
    const relay = new PassThroughRelay(options.substrate, options.service);
    relay.listener = await options.substrate.listen(options.listen ?? { host: '127.0.0.1', port: 0 }, (c) =>
      relay.serve(c),
    );
    return relay;
  }

  /** Where real clients connect. */
  get endpoint(): Endpoint {
    if (!this.listener) throw new Error('relay not started');
    return this.listener.endpoint;
  }

  /** Stops listening and ends every conversation. */
  async close(): Promise<void> {
    for (const c of this.open) c.destroy();
    await this.listener?.close();
  }

  private serve(client: Conversation): void {
    this.accepted++;
    this.open.add(client);
    const requests = this.substrate.requestFramer();
    const responses = this.substrate.responseFramer();
    const queue: Uint8Array[] = [];
    const oneAtATime = this.substrate.pattern === 'request-response';
    let inFlight = 0;
    let failed = false;
    let service: Conversation | undefined;
    const dialing = this.substrate.dial(this.service).then((s) => {
      service = s;
      this.open.add(s);
      s.onData((bytes) => {
        let out: Uint8Array[];
        try {
          out = responses.push(bytes);
        } catch (e) {
          client.destroy(e as Error);
          s.destroy();
          return;
        }
        for (const m of out) {
          client.write(m);
          inFlight--;
        }
        pump();
      });
      s.onEnd(() => {
        this.open.delete(s);
        if (!failed) client.end();
      });
      pump();
    });
    dialing.catch((e: unknown) => client.destroy(e as Error));
    const pump = (): void => {
      while (service && queue.length && (!oneAtATime || inFlight === 0)) {
        inFlight++;
        service.write(queue.shift() as Uint8Array);
      }
    };
    client.onData((bytes) => {
      if (failed) return;
      try {
        queue.push(...requests.push(bytes));
      } catch (e) {
        failed = true;
        this.errors.push(e as Error);
        const reply = this.substrate.errorResponse?.(e as Error);
        if (reply) client.write(reply);
        client.end();
        void dialing.then(() => service?.end());
        return;
      }
      pump();
    });
    client.onEnd(() => {
      this.open.delete(client);
      void dialing.then(() => service?.end());
    });
  }
}
