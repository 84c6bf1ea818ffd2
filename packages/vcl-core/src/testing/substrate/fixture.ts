import type { Conversation, Endpoint, Substrate } from '../../contracts/substrate';

/** A real service started for a conformance run (what `dial` talks to). */
export interface RunningService {
  /** Where `Substrate.dial` reaches it (host/port, or a command for command-line substrates). */
  readonly endpoint: Endpoint;
  /** Stops the service and releases what it holds. */
  close(): Promise<void>;
}

/** A replicated stack started by a fail-over harness. */
export interface ReplicatedStackHandle {
  /** Where real clients connect (the client-side interceptor's listen endpoint). */
  readonly endpoint: Endpoint;
  /** Kills (as SIGKILL would) the member that currently serves the client-side interceptor. */
  killServingMember(): Promise<void>;
  /** Stops every member and interceptor of the stack. */
  stop(): Promise<void>;
}

/**
 * The hook for the fail-over check, which needs the interceptors: a harness that runs the substrate
 * in a replicated stack. The substrate kit does not build stacks itself; the interceptors' test
 * support provides this, and the check runs only when a fixture passes one.
 */
export interface SubstrateFailoverHarness {
  /**
   * Starts `members` service-side interceptors, each in front of its own service from `service`,
   * and one client-side interceptor; resolves once real clients can connect.
   */
  start(options: {
    /** Creates the substrate (one instance per interceptor). */
    readonly substrate: () => Substrate | Promise<Substrate>;
    /** Starts one replica of the real service. */
    readonly service: () => Promise<RunningService>;
    /** Number of members (3 in the kit's check). */
    readonly members: number;
  }): Promise<ReplicatedStackHandle>;
}

/**
 * What the substrate conformance kit needs to know about one substrate. Sample messages are in
 * wire form: the exact bytes a real client sends (requests) or `dial` yields (responses).
 */
export interface SubstrateConformanceFixture {
  /** Names the substrate in test titles (`http`, `tcp line`). */
  readonly name: string;
  /** Creates the substrate under test, configured with the limits the samples below assume. */
  create(): Substrate | Promise<Substrate>;
  /** Well-formed requests, each one complete message; at least two, as varied as the protocol allows. */
  readonly requests: readonly Uint8Array[];
  /** Well-formed responses, each one complete message; at least two. */
  readonly responses: readonly Uint8Array[];
  /**
   * Whether the framers cut exactly at message boundaries. Default true; false only for raw byte
   * streams, where a "message" is whatever arrived and only the bytes and their order must survive.
   */
  readonly exactBoundaries?: boolean;
  /**
   * Inputs the request framer must reject with `FramingError` (not `MessageTooLargeError`). Give
   * at least one whenever the protocol has malformed input (a raw byte stream has none).
   */
  readonly malformedRequests: readonly Uint8Array[];
  /** Inputs the response framer must reject with `FramingError`; default none. */
  readonly malformedResponses?: readonly Uint8Array[];
  /**
   * The largest request the configured limits accept; it must frame as one message. Required
   * whenever the protocol has a message size (every framed protocol); together with
   * `oversizeRequest` and `maxBufferedBytes`, left out only for raw byte streams.
   */
  readonly largestRequest?: Uint8Array;
  /** A request just over the configured limit; the request framer must throw `MessageTooLargeError`. */
  readonly oversizeRequest?: Uint8Array;
  /** The largest response the configured limits accept; default not checked. */
  readonly largestResponse?: Uint8Array;
  /** A response just over the configured limit (`MessageTooLargeError`); default not checked. */
  readonly oversizeResponse?: Uint8Array;
  /**
   * The most bytes the request framer may hold (`buffered`) while reading `oversizeRequest` before it
   * throws: the configured maximum plus the protocol's fixed overhead. Proves the framer rejects
   * early instead of buffering the whole oversize message.
   */
  readonly maxBufferedBytes?: number;
  /** Starts a real service that `dial` can reach and that answers each request with `respond(request)`. */
  startService(): Promise<RunningService>;
  /**
   * The response to `request`, in wire form as a dial conversation yields it; the kit also plays
   * the service with it when it checks `listen`. For raw streams it must work on any piece of a
   * request (an echo).
   */
  respond(request: Uint8Array): Uint8Array;
  /**
   * What a real client receives when a listener's conversation is given `response` (a message as
   * `dial` yields it) to write. Default: the same bytes. (HTTP strips its private HEAD marker.)
   */
  delivered?(response: Uint8Array): Uint8Array;
  /**
   * Opens a raw connection to a listener as a real client of the protocol would (bytes in, bytes
   * out, no framing). Default: TCP to `endpoint.host:endpoint.port` (`connectTcp`).
   */
  connect?(endpoint: Endpoint): Promise<Conversation>;
  /** Where the kit's listeners bind; default `{ host: '127.0.0.1', port: 0 }`. */
  readonly listenEndpoint?: Endpoint;
  /** Conversations run at once by the concurrency checks; default 8. */
  readonly conversations?: number;
  /** Requests sent one after the other in each of those conversations; default 4. */
  readonly requestsPerConversation?: number;
  /** How long a check waits for a response or an end before it fails, in ms; default 10000. */
  readonly timeoutMs?: number;
  /** The fail-over hook (needs the interceptors); the fail-over check runs only when given. */
  readonly failover?: SubstrateFailoverHarness;
}
