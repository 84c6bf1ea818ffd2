import * as net from 'node:net';
import {
  defineOptions,
  StoppedError,
  SUBSTRATE,
  TimeoutError,
  VclError,
  z,
  type Conversation,
  type Endpoint,
  type ExchangePattern,
  type Framer,
  type Listener,
  type Plugin,
  type PluginRegistration,
  type Substrate,
} from '@vcl/core';
import { framerFor, type TcpFraming } from './framers';
import { SocketConversation } from './socket-conversation';

/** Options of the TCP substrate (`tcp({ ... })`, or `substrates[].options` in a stack file). */
export interface TcpOptions {
  /**
   * How the byte stream is cut into messages: `raw` (a stream; output numbered by byte offset),
   * `line` (`\n`-terminated requests, one response line each) or `length-prefixed` (u32 big-endian
   * length + body, one response each). Default `raw`.
   */
  readonly framing: TcpFraming;
  /** Largest message (`line`, `length-prefixed`) in bytes; larger input is refused. Default 1 MiB. */
  readonly maxMessageBytes: number;
  /** Limit for dialling the local service, in ms. Default 2000. */
  readonly connectTimeoutMs: number;
  /** Disable Nagle's algorithm on every socket. Default true. */
  readonly noDelay: boolean;
}

/** The options schema (unknown keys are errors, with a did-you-mean hint). */
export const tcpOptions = defineOptions({
  framing: z.enum(['raw', 'line', 'length-prefixed']).default('raw'),
  maxMessageBytes: z
    .number()
    .int()
    .positive()
    .max(2 ** 31)
    .default(1024 * 1024),
  connectTimeoutMs: z.number().int().positive().default(2000),
  noDelay: z.boolean().default(true),
});

/** TCP byte streams as a VCL substrate. */
export class TcpSubstrate implements Substrate {
  readonly name = 'tcp';
  readonly pattern: ExchangePattern;
  /** `dial` connects to a host and port. */
  readonly dialTarget = 'endpoint' as const;

  constructor(
    /** The validated options. */
    readonly options: TcpOptions,
  ) {
    this.pattern = options.framing === 'raw' ? 'stream' : 'request-response';
  }

  requestFramer(): Framer {
    return framerFor(this.options.framing, this.options.maxMessageBytes);
  }

  responseFramer(): Framer {
    return framerFor(this.options.framing, this.options.maxMessageBytes);
  }

  async listen(endpoint: Endpoint, onConversation: (conversation: Conversation) => void): Promise<Listener> {
    if (endpoint.port === undefined) throw new VclError('tcp substrate: listen needs a port');
    const sockets = new Set<net.Socket>();
    const server = net.createServer({ noDelay: this.options.noDelay, allowHalfOpen: true }, (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      onConversation(new SocketConversation(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(endpoint.port, endpoint.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as net.AddressInfo;
    // An accept error (EMFILE) after listening must reach the owner's log, not vanish.
    let acceptError: (error: Error) => void = () => undefined;
    server.on('error', (error) => acceptError(error));
    return {
      endpoint: { host: address.address, port: address.port },
      onAcceptError: (handler) => void (acceptError = handler),
      close: () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    };
  }

  dial(endpoint: Endpoint, signal?: AbortSignal): Promise<Conversation> {
    const port = endpoint.port;
    if (port === undefined)
      return Promise.reject(
        new VclError('tcp substrate: dial needs host and port (a command is for the cli substrate)'),
      );
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new StoppedError('dial aborted'));
      const socket = net.connect({ host: endpoint.host ?? '127.0.0.1', port, noDelay: this.options.noDelay });
      const fail = (error: Error): void => {
        cleanup();
        socket.destroy();
        reject(error);
      };
      const onError = (e: Error): void =>
        fail(
          new VclError(`tcp substrate: cannot reach the service at ${endpoint.host}:${endpoint.port}: ${e.message}`, {
            cause: e,
          }),
        );
      const onAbort = (): void => fail(new StoppedError('dial aborted'));
      const timer = setTimeout(
        () =>
          fail(
            new TimeoutError(
              `tcp substrate: no connection to ${endpoint.host}:${endpoint.port} within ${this.options.connectTimeoutMs} ms`,
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
}

/**
 * The TCP substrate plugin: `tcp({ framing: 'line' })`. Throws `OptionsError` naming each bad
 * option.
 */
export function tcp(options: Partial<TcpOptions> = {}): Plugin & { readonly substrate: TcpSubstrate } {
  const substrate = new TcpSubstrate(tcpOptions.parse(options, 'tcp substrate options'));
  return {
    kind: 'substrate',
    name: 'tcp',
    substrate,
    register(container) {
      container.register(SUBSTRATE, { useValue: substrate });
    },
  };
}

/** The plugin registry entry: a stack file names it `tcp`. */
export const registration: PluginRegistration = {
  kind: 'substrate',
  name: 'tcp',
  packageName: '@vcl/substrate-tcp',
  description: 'TCP byte streams: raw (stream), line or length-prefixed (request-response) framing',
  create: (options) => tcp((options ?? {}) as Partial<TcpOptions>),
};
