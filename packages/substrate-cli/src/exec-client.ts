import * as net from 'node:net';
import type { Endpoint } from '@vcl/core';
import { UnavailableError } from '@vcl/core/errors';
import { CommandFramer, decodeResponse, encodeRequest, type CommandRequest, type CommandResult } from './codec';

/** Options of `execRemote`. */
export interface ExecRemoteOptions {
  /** Where the client-side interceptor (or any `cli` listener) accepts `vcl-exec`. */
  readonly endpoint: Endpoint;
  /** Largest response accepted, in bytes. Default 64 MiB. */
  readonly maxResponseBytes?: number;
  /** Cancels the wait; the connection is closed. */
  readonly signal?: AbortSignal;
}

/**
 * Sends one command run (argv + stdin) and resolves with the replicated command's result. Rejects
 * with `UnavailableError` when the endpoint cannot be reached or closes without a reply.
 */
export function execRemote(request: CommandRequest, options: ExecRemoteOptions): Promise<CommandResult> {
  const { host = '127.0.0.1', port } = options.endpoint;
  return new Promise((resolve, reject) => {
    const framer = new CommandFramer('response', options.maxResponseBytes ?? 64 * 1024 * 1024, decodeResponse);
    const socket = net.connect({ host, port: port ?? 0 });
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      fn();
      socket.destroy();
    };
    const onAbort = (): void =>
      settle(() => reject(options.signal?.reason instanceof Error ? options.signal.reason : new Error('aborted')));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => socket.write(encodeRequest(request)));
    socket.on('data', (b: Buffer) => {
      let messages: Uint8Array[];
      try {
        messages = framer.push(new Uint8Array(b.buffer, b.byteOffset, b.length));
      } catch (e) {
        return settle(() => reject(e));
      }
      const [first] = messages;
      if (first) settle(() => resolve(decodeResponse(first)));
    });
    socket.on('error', (e) =>
      settle(() => reject(new UnavailableError(`cannot reach ${host}:${port}: ${e.message}`, { cause: e }))),
    );
    socket.on('close', () =>
      settle(() => reject(new UnavailableError(`${host}:${port} closed the connection without a reply`))),
    );
  });
}
