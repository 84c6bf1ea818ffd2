import type { AccessRequest } from './aaa';
import type { Startable } from './lifecycle';

/**
 * How a substrate's conversations exchange data.
 * - `request-response`: one response message per request message; the service-side interceptor
 *   runs requests one at a time so every replica applies them in the same order.
 * - `stream`: bytes are forwarded in order; output positions are counted in bytes.
 */
export type ExchangePattern = 'request-response' | 'stream';

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
}

/**
 * Adaptation of the interceptors to one client/service protocol (an RMIX-style provider).
 */
export interface Substrate {
  /** Registered name (`tcp`, `http`, `cli`). */
  readonly name: string;
  /** How requests and responses relate. */
  readonly pattern: ExchangePattern;
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
}

/** A substrate instance that also has a life (e.g. a spawned helper process). */
export type StartableSubstrate = Substrate & Partial<Startable>;
