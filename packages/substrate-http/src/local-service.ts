import type * as nodeHttp from 'node:http';
import { Duplex } from 'node:stream';
import type { ResolvedHttpOptions } from './options';
import { ServiceConversation, type ServiceConnection, type ServiceConnectionEvents } from './service-conversation';

/**
 * The socket an in-process node:http server reads requests from and writes responses to. Node's
 * own HTTP machinery (llhttp, IncomingMessage, ServerResponse) runs unchanged on top of it, which
 * is what makes the internal API behave exactly like node:http.
 */
class InProcessSocket extends Duplex {
  // What node:http reads from a socket for logs and `req.socket`; replicas must see the same.
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 0;
  readonly localAddress = '127.0.0.1';
  readonly localPort = 0;
  readonly encrypted = false;

  constructor(private readonly output: (chunk: Uint8Array) => void) {
    super({ allowHalfOpen: true });
  }

  override _read(): void {}

  private held?: () => void;
  private holding = false;

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.output(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    // While held, the server's writes back up (res.write returns false), as on a real socket.
    if (this.holding) this.held = () => done();
    else done();
  }

  /** Holds (or releases) the server's output: backpressure towards the in-process server. */
  hold(on: boolean): void {
    this.holding = on;
    if (!on && this.held) {
      const release = this.held;
      this.held = undefined;
      release();
    }
  }

  setTimeout(): this {
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  address(): { address: string; family: string; port: number } {
    return { address: '127.0.0.1', family: 'IPv4', port: 0 };
  }
}

/**
 * A conversation with an in-process node:http server, shaped like the one `dial` opens with an
 * external service: request messages in, normalized response messages out. It is how a
 * service-side interceptor reaches a program that uses the internal API.
 */
export class InProcessServiceConversation extends ServiceConversation {
  readonly remote = 'in-process';

  constructor(
    private readonly server: nodeHttp.Server,
    options: ResolvedHttpOptions,
  ) {
    super(options);
    void this.open();
  }

  protected connect(events: ServiceConnectionEvents): Promise<ServiceConnection> {
    let error: Error | undefined;
    const socket = new InProcessSocket(events.data);
    socket.on('error', (e) => (error ??= e));
    // node:http ends its side when it is done with the connection; that is this connection's close.
    socket.on('finish', () => socket.destroy());
    socket.on('close', () => events.close(error));
    this.server.emit('connection', socket);
    return Promise.resolve({
      write: (bytes) => socket.push(bytes),
      end: () => socket.push(null),
      destroy: () => socket.destroy(),
      pause: () => socket.hold(true),
      resume: () => socket.hold(false),
    });
  }
}
