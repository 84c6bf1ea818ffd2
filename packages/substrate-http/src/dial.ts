import * as net from 'node:net';
import { StoppedError, UnavailableError, type Endpoint } from '@vcl/core';
import type { ResolvedHttpOptions } from './options';
import { ServiceConversation, type ServiceConnection, type ServiceConnectionEvents } from './service-conversation';

function abortReason(signal?: AbortSignal): Error {
  return signal?.reason instanceof Error ? signal.reason : new StoppedError('dial aborted');
}

/** Opens a TCP connection to `endpoint` and wires it to `events`. */
function connectTcp(
  endpoint: Endpoint,
  events: ServiceConnectionEvents,
  signal?: AbortSignal,
): Promise<ServiceConnection> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const socket = net.connect({ host: endpoint.host ?? '127.0.0.1', port: endpoint.port ?? 80 });
    const onAbort = (): void => {
      socket.destroy();
      reject(abortReason(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const onError = (e: Error): void => {
      signal?.removeEventListener('abort', onAbort);
      reject(
        new UnavailableError(`cannot reach the HTTP service at ${endpoint.host}:${endpoint.port}: ${e.message}`, {
          cause: e,
        }),
      );
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.setNoDelay(true);
      let error: Error | undefined;
      socket.on('error', (e) => (error ??= e));
      socket.on('data', (b: Buffer) => events.data(new Uint8Array(b.buffer, b.byteOffset, b.length)));
      socket.on('drain', () => events.drain());
      socket.on('close', () => events.close(error));
      resolve({
        write: (bytes) => socket.write(bytes),
        end: () => socket.end(),
        destroy: () => socket.destroy(),
        pause: () => socket.pause(),
        resume: () => socket.resume(),
      });
    });
  });
}

/** The service-side conversation with an external HTTP service over TCP (what `dial` returns). */
export class HttpServiceConversation extends ServiceConversation {
  readonly remote: string;

  private constructor(
    private readonly endpoint: Endpoint,
    options: ResolvedHttpOptions,
  ) {
    super(options);
    this.remote = `${endpoint.host ?? '127.0.0.1'}:${endpoint.port}`;
  }

  /** Opens the first connection (an unreachable service fails the dial) and returns the conversation. */
  static async open(
    endpoint: Endpoint,
    options: ResolvedHttpOptions,
    signal?: AbortSignal,
  ): Promise<HttpServiceConversation> {
    const conversation = new HttpServiceConversation(endpoint, options);
    await conversation.openFirst(signal);
    return conversation;
  }

  private signal?: AbortSignal;

  private async openFirst(signal?: AbortSignal): Promise<void> {
    this.signal = signal;
    try {
      await this.open();
    } finally {
      this.signal = undefined;
    }
  }

  protected connect(events: ServiceConnectionEvents): Promise<ServiceConnection> {
    return connectTcp(this.endpoint, events, this.signal);
  }
}
