import type { AccessRequest } from './aaa';
import type { Startable } from './lifecycle';

/**
 * How a substrate's conversations exchange data.
 * - `request-response`: one response message per request message, request boundaries known; the
 *   service-side interceptor applies the requests of all sessions in the total order, so every
 *   replica goes through the same state transitions.
 * - `stream`: bytes are forwarded in order; output positions are counted in bytes. Request
 *   boundaries are unknown, so the total order cannot decide how the service interleaves
 *   *concurrent* sessions: a stream stack is deterministic only with one session open at a time
 *   or with sessions that share no service state (the stack must say which; see docs/execution.md).
 */
export type ExchangePattern = 'request-response' | 'stream';

/**
 * What the execution engine does with one ordered request of a request-response session.
 * - `write`: every replica applies it at its place in the total order (the default).
 * - `read`: it changes no service state, so only the member serving the session applies it, at
 *   its place in the total order (linearizable); consecutive reads may run at the same time.
 * - `refuse`: it cannot be replicated deterministically or transparently (a random or clock-based
 *   command, a blocking or subscribing one); every replica answers it, at its place in the order,
 *   with `errorResponse(new UnreplicableRequestError(reason))` and the service never sees it.
 */
export type RequestPlan =
  { readonly kind: 'write' } | { readonly kind: 'read' } | { readonly kind: 'refuse'; readonly reason: string };

/**
 * Plans the requests of one session, in the total order. It is created for each session at every
 * member and sees the same requests in the same order everywhere, so it may keep per-session state
 * (a transaction block that makes reads inside it writes, for example) and still decide alike at
 * every replica. It must be a pure function of the requests it has seen.
 */
export interface SessionPlanner {
  /** The plan for the session's next ordered request (`request` is one framed request message). */
  plan(request: Uint8Array): RequestPlan;
}

/**
 * How the service-side engine may apply a request-response substrate's ordered requests
 * (`Substrate.execution`). Absent: every request is a write and requests are not pipelined.
 */
export interface ExecutionTraits {
  /**
   * Whether consecutive requests of one session may be written to the service before the earlier
   * ones are answered (the protocol answers them in order on one conversation: HTTP/1.1, RESP).
   * Requests of other sessions still wait, so the order of application stays the total order.
   */
  readonly pipelining: boolean;
  /** A planner for one session's requests; absent: every request is a `write`. */
  planner?(): SessionPlanner;
}

/**
 * Cuts a byte stream into messages. Must cut identically at every replica: a pure function of
 * the bytes pushed so far.
 */
export interface Framer {
  /**
   * Feeds `chunk` and returns every message completed by it, in order. Throws `FramingError` for
   * malformed input and `MessageTooLargeError` past the maximum size; the framer is unusable after.
   */
  push(chunk: Uint8Array): Uint8Array[];
  /** Bytes held that do not yet form a complete message. */
  readonly buffered: number;
}

/** An address to listen on or dial: TCP host/port, or a command line for command substrates. */
export interface Endpoint {
  /** Host name or IP address (TCP-based substrates). */
  readonly host?: string;
  /** TCP port; 0 to let the system choose when listening. */
  readonly port?: number;
  /** Command and arguments (command-line substrates). */
  readonly command?: readonly string[];
  /** Working directory of `command` (the member's own, `{member}` already expanded); default the interceptor's. */
  readonly cwd?: string;
  /** Environment added for `command`: `VCL_MEMBER`, `VCL_DATA_DIR` when set, then the stack's `service.env`. */
  readonly env?: Readonly<Record<string, string>>;
}

/** One client<->service conversation as a substrate sees it (a TCP connection, an HTTP exchange). */
export interface Conversation {
  /** A description of the remote end for logs (`127.0.0.1:53122`). */
  readonly remote: string;
  /** Writes bytes; returns false when the caller should wait for `onDrain` (backpressure). */
  write(bytes: Uint8Array): boolean;
  /** Sets the handler for bytes read from the remote end. */
  onData(handler: (bytes: Uint8Array) => void): void;
  /** Sets the handler told when a refused `write` may be retried. */
  onDrain(handler: () => void): void;
  /** Sets the handler told once when the conversation ends (`error` set if it broke). */
  onEnd(handler: (error?: Error) => void): void;
  /**
   * Optional half-close support: sets the handler told when the remote end stops sending while it
   * still reads (TCP FIN). With a handler set, the conversation stays writable until `end()`;
   * without one, a half-close ends the conversation as before.
   */
  onInputEnd?(handler: () => void): void;
  /** Stops reading (backpressure towards the remote end). */
  pause(): void;
  /** Resumes reading. */
  resume(): void;
  /** Ends the conversation after pending writes are flushed. */
  end(): void;
  /** Ends the conversation at once. */
  destroy(error?: Error): void;
}

/** A listening endpoint. */
export interface Listener {
  /** The bound endpoint (with the real port when 0 was asked for). */
  readonly endpoint: Endpoint;
  /** Stops accepting and closes the listener. */
  close(): Promise<void>;
  /**
   * Optional: sets the handler told when accepting a connection fails (`EMFILE`: out of file
   * descriptors) while the listener goes on, so the owner can log it rather than lose it.
   */
  onAcceptError?(handler: (error: Error) => void): void;
}

/**
 * Adaptation of the interceptors to one client/service protocol (an RMIX-style provider).
 */
export interface Substrate {
  /** Registered name (`tcp`, `http`, `cli`). */
  readonly name: string;
  /** How requests and responses relate. */
  readonly pattern: ExchangePattern;
  /**
   * Request-response substrates: pipelining, and which requests are reads, writes or refused
   * (see `ExecutionTraits`). Ignored for streams.
   */
  readonly execution?: ExecutionTraits;
  /** A framer for the client -> service direction. */
  requestFramer(): Framer;
  /** A framer for the service -> client direction. */
  responseFramer(): Framer;
  /** Client-side external mode: accepts the real client's conversations. */
  listen(endpoint: Endpoint, onConversation: (conversation: Conversation) => void): Promise<Listener>;
  /** Service-side external mode: opens a conversation with the local real service. */
  dial(endpoint: Endpoint, signal?: AbortSignal): Promise<Conversation>;
  /**
   * What `dial` needs: a `host`/`port` endpoint or a `command`. A member checks its service target
   * against it at start (a `ConfigError` naming the substrate instead of a failure per session).
   * Default: not checked.
   */
  readonly dialTarget?: 'endpoint' | 'command';
  /**
   * The protocol's own way to report a failure to the real client (HTTP 400/403/413, a non-zero
   * exit for a command), or undefined to just close the conversation.
   */
  errorResponse?(error: Error): Uint8Array | undefined;
  /**
   * What an access policy needs to know of one framed request message (HTTP method and path, a
   * command's argv), read before the request enters the total order. Throws for a message it
   * cannot read; the interceptor then authorizes the request without these fields.
   */
  describeRequest?(message: Uint8Array): Pick<AccessRequest, 'method' | 'path' | 'command'>;
  /**
   * The part of one response that divergence detection hashes and compares (request-response
   * substrates); default the whole response. Leaves out what legitimately differs between
   * replicas (an HTTP `Date` header). A pure function of the response; what the client gets is
   * never changed.
   */
  digestView?(response: Uint8Array): Uint8Array;
}

/** A substrate instance that also has a life (e.g. a spawned helper process). */
export type StartableSubstrate = Substrate & Partial<Startable>;
