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

/** External mode: each session is a real connection to the real service on this node. */
export function dialBackend(substrate: Pick<Substrate, 'dial'>, endpoint: Endpoint): ServiceBackend {
  return {
    open: (_session, signal) => substrate.dial(endpoint, signal),
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
