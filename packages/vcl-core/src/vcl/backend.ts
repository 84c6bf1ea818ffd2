import type { Conversation, Endpoint, Framer, Substrate } from '../contracts/substrate';
import { conversationPair } from './conversation-pair';
import type { SessionId } from './session-events';

/** Where a service-side interceptor applies a session's ordered requests: the local service. */
export interface ServiceBackend {
  /** Opens the conversation with the local service for a new session. */
  open(session: SessionId, signal?: AbortSignal): Promise<Conversation>;
}

/** External mode: each session is a real connection to the real service on this node. */
export function dialBackend(substrate: Pick<Substrate, 'dial'>, endpoint: Endpoint): ServiceBackend {
  return { open: (_session, signal) => substrate.dial(endpoint, signal) };
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
    conversation.onEnd(() => undefined);
  });
}
