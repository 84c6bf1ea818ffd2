import * as net from 'node:net';
import {
  AuthenticationError,
  AuthorizationError,
  FramingError,
  StoppedError,
  TimeoutError,
  UnreplicableRequestError,
  VclError,
  type Conversation,
  type Endpoint,
  type ExecutionTraits,
  type Framer,
  type Listener,
  type SessionPlanner,
  type Substrate,
} from '@vcl/core';
import { CommandTable, commandName } from './commands';
import { requestArgs, RespReplyFramer, RespRequestFramer } from './framers';
import type { ResolvedRespOptions } from './options';
import { SocketConversation } from './socket-conversation';

/** One RESP simple error line: no CR or LF inside, as the protocol requires. */
const errorLine = (prefix: string, message: string): Uint8Array =>
  new Uint8Array(Buffer.from(`-${prefix} ${message.replace(/[\r\n]+/g, ' ')}\r\n`, 'utf8'));

/** The RESP error that reports `error` to a Redis client. */
export function respErrorResponse(error: Error): Uint8Array {
  if (error instanceof UnreplicableRequestError) return errorLine('ERR', `VCL: ${error.message}`);
  if (error instanceof FramingError) return errorLine('ERR', `Protocol error: ${error.message}`);
  if (error instanceof AuthorizationError) return errorLine('NOPERM', `VCL: ${error.message}`);
  if (error instanceof AuthenticationError) return errorLine('NOAUTH', `VCL: ${error.message}`);
  return errorLine('ERR', `VCL: ${error.message}`);
}

/**
 * The Redis protocol (RESP2 and RESP3) as a VCL substrate: request-response over TCP, pipelined,
 * with every command planned as a read, a write or refused from Redis's own command table
 * (`CommandTable`), so `redis-cli`, `redis-benchmark` and client libraries work unchanged.
 */
export class RespSubstrate implements Substrate {
  readonly name = 'resp';
  readonly pattern = 'request-response' as const;
  readonly dialTarget = 'endpoint' as const;
  readonly execution: ExecutionTraits;
  /** The command table with the stack's overrides. */
  readonly commands: CommandTable;

  constructor(
    /** The resolved options. */
    readonly options: ResolvedRespOptions,
  ) {
    this.commands = new CommandTable(options);
    const table = this.commands;
    this.execution = { pipelining: options.pipelining, planner: (): SessionPlanner => table.planner() };
  }

  requestFramer(): Framer {
    return new RespRequestFramer(this.options.maxRequestBytes);
  }

  responseFramer(): Framer {
    return new RespReplyFramer(this.options.maxReplyBytes);
  }

  async listen(endpoint: Endpoint, onConversation: (conversation: Conversation) => void): Promise<Listener> {
    const sockets = new Set<net.Socket>();
    // Half-open: a client that sends its commands and shuts its write side (`redis-cli < file`,
    // `nc -N`) still reads every reply.
    const server = net.createServer({ noDelay: this.options.noDelay, allowHalfOpen: true }, (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      onConversation(new SocketConversation(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(endpoint.port ?? 0, endpoint.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as net.AddressInfo;
    return {
      endpoint: { host: address.address, port: address.port },
      close: () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    };
  }

  dial(endpoint: Endpoint, signal?: AbortSignal): Promise<Conversation> {
    const { host = '127.0.0.1', port } = endpoint;
    if (port === undefined) return Promise.reject(new VclError('resp substrate: dial needs host and port'));
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new StoppedError('dial aborted'));
      const socket = net.connect({ host, port, noDelay: this.options.noDelay });
      const fail = (error: Error): void => {
        cleanup();
        socket.destroy();
        reject(error);
      };
      const onError = (e: Error): void =>
        fail(new VclError(`resp substrate: cannot reach Redis at ${host}:${port}: ${e.message}`, { cause: e }));
      const onAbort = (): void => fail(new StoppedError('dial aborted'));
      const timer = setTimeout(
        () =>
          fail(
            new TimeoutError(
              `resp substrate: no connection to ${host}:${port} within ${this.options.connectTimeoutMs} ms`,
            ),
          ),
        this.options.connectTimeoutMs,
      );
      const cleanup = (): void => {
        clearTimeout(timer);
        socket.off('error', onError);
        signal?.removeEventListener('abort', onAbort);
      };
      socket.once('error', onError);
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        cleanup();
        resolve(new SocketConversation(socket));
      });
    });
  }

  /** `-ERR VCL: <COMMAND> cannot be replicated: <reason>` for a refused command; `-ERR Protocol error: ...` for bad input. */
  errorResponse(error: Error): Uint8Array {
    return respErrorResponse(error);
  }

  /** The command's name, as words (`['GET']`, `['CLIENT', 'KILL']`); key names and values stay out of policies and logs. */
  describeRequest(message: Uint8Array): { command: readonly string[] } {
    const args = requestArgs(message);
    if (!args.length) throw new FramingError('request: an empty command');
    return { command: commandName(args).split(' ') };
  }
}
