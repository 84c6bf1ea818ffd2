import type { Clock } from '../contracts/clock';
import type { Conversation, Endpoint, Framer, Substrate } from '../contracts/substrate';
import { conversationPair } from './conversation-pair';
import type { SessionId } from './session-events';

/** Where a service-side interceptor applies a session's ordered requests: the local service. */
export interface ServiceBackend {
  /** Opens the conversation with the local service for a new session. */
  open(session: SessionId, signal?: AbortSignal): Promise<Conversation>;
  /**
   * Whether the service still accepts a fresh conversation: asked when a conversation broke or
   * ended although its client did not close it. False means the service process is gone and this
   * replica can no longer follow the total order. Absent: the service is taken to be alive.
   */
  probe?(): Promise<boolean>;
}

/** How long a probe dial may take before the service counts as gone. */
const PROBE_TIMEOUT_MS = 3000;

/** How `dialBackend` waits for a local service that refuses connections (not up yet, restarting). */
export interface DialRetry {
  /** How long a session's dial keeps retrying a refused connection, in ms (`timeouts.connectMs`). */
  readonly forMs: number;
  /** Time for the backoff. */
  readonly clock: Clock;
  /** Told of every failed attempt that will be retried, with the pause before the next. */
  readonly onRetry?: (error: Error, delayMs: number) => void;
}

/**
 * External mode: each session is a real connection to the real service on this node. With `retry`,
 * a refused dial is retried with backoff for `retry.forMs`, so a member started a moment before its
 * service does not fail its first sessions; past that the session fails and its client moves on.
 * `probe` dials once, without retry: a conversation that broke while the service refuses new ones
 * means the service is gone.
 */
export function dialBackend(substrate: Pick<Substrate, 'dial'>, endpoint: Endpoint, retry?: DialRetry): ServiceBackend {
  return {
    open: async (_session, signal) => {
      const started = retry?.clock.now() ?? 0;
      for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
        try {
          return await substrate.dial(endpoint, signal);
        } catch (error) {
          const left = retry ? started + retry.forMs - retry.clock.now() : 0;
          if (!retry || left <= 0 || signal?.aborted || !refused(error)) throw error;
          const pause = Math.min(delay, left);
          retry.onRetry?.(error as Error, pause);
          await new Promise<void>((resolve) => retry.clock.setTimer(pause, resolve));
        }
      }
    },
    probe: () =>
      substrate.dial(endpoint, AbortSignal.timeout(PROBE_TIMEOUT_MS)).then(
        (c) => {
          c.destroy();
          return true;
        },
        () => false,
      ),
  };
}

/** Whether a dial failed because nothing accepts at the endpoint yet (somewhere in its cause chain). */
function refused(error: unknown): boolean {
  for (let e = error as (Error & { code?: string; cause?: unknown }) | undefined; e; e = e.cause as typeof e)
    if (e.code === 'ECONNREFUSED' || e.code === 'ENOENT' || e.code === 'ECONNRESET') return true;
  return false;
}

/**
 * Internal mode: each session is handed to the program as the far end of an in-process
 * conversation (what a `net`-compatible `createServer` wraps into a socket).
 */
export function inProcessBackend(onSession: (conversation: Conversation, session: SessionId) => void): ServiceBackend {
  return {
    open: async (session) => {
      const [engineSide, appSide] = conversationPair({ remote: `session ${session}` });
      onSession(appSide, session);
      return engineSide;
    },
  };
}

/**
 * Internal mode for request-response substrates: a plain function from one request message to one
 * response message. `framer` cuts the request stream (the substrate's request framer).
 */
export function handlerBackend(
  framer: () => Framer,
  handler: (request: Uint8Array, session: SessionId) => Uint8Array | Promise<Uint8Array>,
): ServiceBackend {
  return inProcessBackend((conversation, session) => {
    const f = framer();
    let chain = Promise.resolve();
    conversation.onData((bytes) => {
      let messages: Uint8Array[];
      try {
        messages = f.push(bytes);
      } catch (error) {
        conversation.destroy(error as Error);
        return;
      }
      for (const m of messages)
        chain = chain.then(async () => {
          conversation.write(await handler(m, session));
        });
      chain = chain.catch((error: unknown) => conversation.destroy(error as Error));
    });
    // Like a typical server: once the client stops sending, answer what it sent, then close.
    conversation.onInputEnd?.(() => void chain.then(() => conversation.end()));
    conversation.onEnd(() => undefined);
  });
}

/**
 * Internal mode for any substrate: the sessions of a service-side interceptor, handed to the
 * program as in-process conversations (a `net`-compatible `createServer` wraps each into a socket).
 * Sessions that open before the program accepts are held until it does.
 */
export class InProcessService {
  /** The backend to give the `ServiceInterceptor`. */
  readonly backend: ServiceBackend;
  private handler: ((conversation: Conversation, session: SessionId) => void) | undefined;
  private readonly waiting: [Conversation, SessionId][] = [];

  constructor() {
    this.backend = inProcessBackend((conversation, session) => {
      if (this.handler) this.handler(conversation, session);
      else this.waiting.push([conversation, session]);
    });
  }

  /** Sets the program's session handler (one; a later call replaces it) and hands it held sessions. */
  accept(handler: (conversation: Conversation, session: SessionId) => void): void {
    this.handler = handler;
    for (const [c, s] of this.waiting.splice(0)) handler(c, s);
  }
}
