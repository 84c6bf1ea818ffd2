import * as net from 'node:net';
import {
  realClock,
  StoppedError,
  UnavailableError,
  type Clock,
  type Conversation,
  type Endpoint,
  type Framer,
  type Listener,
  type Substrate,
} from '@vcl/core';
import { LineFramer } from './framer';
import type { ResolvedRespOptions } from './options';
import { SocketConversation } from './socket-conversation';

const abortReason = (signal?: AbortSignal): Error =>
  signal?.reason instanceof Error ? signal.reason : new StoppedError('dial aborted');

/**
 * The resp protocol as a VCL substrate: request-response over TCP, one response message
 * per request message, cut by `LineFramer`.
 */
export class RespSubstrate implements Substrate {
  readonly name = 'resp';
  readonly pattern = 'request-response' as const;

  constructor(
    /** The resolved options. */
    readonly options: ResolvedRespOptions,
    private readonly clock: Clock = realClock(),
  ) {}

  requestFramer(): Framer {
    return new LineFramer('request', this.options.maxMessageBytes);
  }

  responseFramer(): Framer {
    return new LineFramer('response', this.options.maxMessageBytes);
  }

  listen(endpoint: Endpoint, onConversation: (conversation: Conversation) => void): Promise<Listener> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      onConversation(new SocketConversation(socket, this.clock, this.options.lingerMs));
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: endpoint.host ?? '127.0.0.1', port: endpoint.port ?? 0 }, () => {
        server.off('error', reject);
        const { address, port } = server.address() as net.AddressInfo;
        resolve({
          endpoint: { host: address, port },
          close: () =>
            new Promise<void>((done) => {
              for (const s of sockets) s.destroy();
              server.close(() => done());
            }),
        });
      });
    });
  }

  dial(endpoint: Endpoint, signal?: AbortSignal): Promise<Conversation> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      const socket = net.connect({ host: endpoint.host ?? '127.0.0.1', port: endpoint.port ?? 0 });
      const onAbort = (): void => {
        socket.destroy();
        reject(abortReason(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', (e) => {
        signal?.removeEventListener('abort', onAbort);
        reject(
          new UnavailableError(`cannot reach the service at ${endpoint.host}:${endpoint.port}: ${e.message}`, {
            cause: e,
          }),
        );
      });
      socket.once('connect', () => {
        signal?.removeEventListener('abort', onAbort);
        socket.removeAllListeners('error');
        resolve(new SocketConversation(socket, this.clock, this.options.lingerMs));
      });
    });
  }

  /** The protocol's own error reply: one `ERROR <reason>` line. */
  errorResponse(error: Error): Uint8Array {
    const line = `ERROR ${error.message.replace(/[\r\n\0]+/g, ' ')}`.slice(0, this.options.maxMessageBytes - 1);
    return new TextEncoder().encode(`${line}\n`);
  }
}
