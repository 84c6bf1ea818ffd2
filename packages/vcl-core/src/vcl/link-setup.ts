import type * as net from 'node:net';
import type { PeerInfo } from '../contracts/aaa';
import type { LinkFrame, LinkRole, LinkSecurity, SecuredLink } from '../contracts/link-security';
import { AuthenticationError, MalformedFrameError, StoppedError, TimeoutError, VclError } from '../errors';
import { BodyReader, BodyWriter } from '../link/body';
import { encodeFrame, FrameDecoder } from '../link/frame';
import { decodeMemberFrame, encodeMemberFrame, InterceptorFrameType } from './link-frames';

/**
 * Frame types of an interceptor link's security set-up, which runs before any interceptor frame
 * when the link has a `LinkSecurity` hook: a hello from each end (its id and the hook's name), then
 * the hook's handshake messages. The interceptor frames use 0x20-0x37.
 */
export const LinkSetupFrameType = {
  /** Each end's id and link security name; the dialer sends first. */
  HELLO: 0x40,
  /** One message of the security hook's handshake. */
  HANDSHAKE: 0x41,
} as const;

/** Largest frame accepted from a peer that has not yet passed the handshake. */
const PRE_AUTH_MAX_FRAME_BYTES = 64 * 1024;
/** Handshake messages a peer may send ahead of the hook reading them. */
const MAX_UNREAD_HANDSHAKE_MESSAGES = 16;
const HELLO_VERSION = 1;

/** What `establishLink` needs to know about its end of the link. */
export interface LinkSetupOptions {
  /** The security hook (both ends must use one of the same name). */
  readonly security: LinkSecurity;
  /** Whether this end dialled or accepted. */
  readonly role: LinkRole;
  /** This end's id: the member id, or the client-side interceptor's name. */
  readonly localId: string;
  /** Dialer: the member id it dialled; the other end must prove it. */
  readonly expectedPeer?: string;
  /** What the other end is (`client` for links a member accepts from client-side interceptors). */
  readonly peerKind: PeerInfo['kind'];
  /** The remote address, for errors and the hook. */
  readonly address: string;
  /** Limit for the whole set-up, in ms. */
  readonly timeoutMs: number;
}

/** A link that passed its set-up: the socket to use (a TLS socket may wrap the raw one) and its state. */
export interface EstablishedLink {
  /** The socket to read and write from now on. */
  readonly socket: net.Socket;
  /** The decoder holding any bytes that arrived after the handshake; read on from it. */
  readonly decoder: FrameDecoder;
  /** Whether reading was paused (the other end sent frames before this end's handshake finished). */
  readonly paused: boolean;
  /** Per-frame protection, or undefined when the hook is transparent. */
  readonly secured: SecuredLink | undefined;
  /** The proven id of the other end. */
  readonly peerId: string;
  /** The other end's certificate identity, on a TLS link. */
  readonly tlsIdentity?: string;
}

/**
 * Runs the security set-up of an interceptor link on a freshly connected socket: the hook's socket
 * wrapper (TLS), the hello exchange, then the hook's handshake. Resolves once the other end is
 * proven; rejects with `AuthenticationError` (or `MalformedFrameError`, `TimeoutError`) naming why,
 * after telling the other end when this end is the acceptor. The caller destroys the socket on
 * rejection.
 */
export async function establishLink(raw: net.Socket, options: LinkSetupOptions): Promise<EstablishedLink> {
  const abort = new AbortController();
  const timer = setTimeout(
    () =>
      abort.abort(
        new TimeoutError(`link ${describe(options)}: security set-up not done within ${options.timeoutMs} ms`),
      ),
    options.timeoutMs,
  );
  try {
    let socket = raw;
    let tlsIdentity: string | undefined;
    if (options.security.secureSocket) {
      try {
        const secured = await options.security.secureSocket(raw, options.role, abort.signal);
        socket = secured.socket;
        tlsIdentity = secured.identity;
      } catch (error) {
        throw new AuthenticationError(`link ${describe(options)}: securing the socket failed`, { cause: error });
      }
    }
    const setup = new Setup(socket, options, abort.signal, tlsIdentity);
    try {
      return await setup.run();
    } catch (error) {
      setup.refuse(error);
      throw error;
    } finally {
      setup.detach();
    }
  } finally {
    clearTimeout(timer);
  }
}

function describe(o: LinkSetupOptions): string {
  return `${o.role === 'dialer' ? 'to' : 'from'} ${o.expectedPeer ? `${o.expectedPeer} at ` : ''}${o.address}`;
}

/** One link's hello exchange and handshake. */
class Setup {
  readonly decoder = new FrameDecoder({ maxFrameBytes: PRE_AUTH_MAX_FRAME_BYTES });
  private phase: 'hello' | 'handshake' | 'open' = 'hello';
  private paused = false;
  private ownHello: Uint8Array | undefined;
  private peerHello: ((body: Uint8Array) => void) | undefined;
  private failed: ((error: Error) => void) | undefined;
  private inbox: Uint8Array[] = [];
  private waiter: { resolve: (m: Uint8Array) => void; reject: (e: unknown) => void } | undefined;
  private readonly onData = (chunk: Buffer): void => this.read(chunk);
  // Under TLS 1.3 a server that rejects the client's certificate just closes after the client
  // thinks the TLS handshake is done, so a close here is most often a refusal.
  private readonly onEnd = (): void =>
    this.fail(
      new AuthenticationError(
        `link ${describe(this.o)} was closed by the other end during its security set-up (refused, or going away)`,
      ),
    );
  private readonly onError = (e: Error): void =>
    this.fail(new VclError(`link ${describe(this.o)}: ${e.message}`, { cause: e }));
  private readonly onAbort = (): void => this.fail(this.signal.reason as Error);

  constructor(
    private readonly socket: net.Socket,
    private readonly o: LinkSetupOptions,
    private readonly signal: AbortSignal,
    private readonly tlsIdentity: string | undefined,
  ) {}

  async run(): Promise<EstablishedLink> {
    const stopped = new Promise<never>((_, reject) => (this.failed = reject));
    stopped.catch(() => undefined);
    this.socket.on('data', this.onData);
    this.socket.on('end', this.onEnd);
    this.socket.on('close', this.onEnd);
    this.socket.on('error', this.onError);
    this.signal.addEventListener('abort', this.onAbort, { once: true });
    if (this.signal.aborted) this.onAbort();
    if (this.o.role === 'dialer') this.sendHello();
    const helloBody = await Promise.race([new Promise<Uint8Array>((r) => (this.peerHello = r)), stopped]);
    const hello = decodeHello(helloBody);
    if (hello.security !== this.o.security.name)
      throw new AuthenticationError(
        `link security mismatch: ${hello.id} at ${this.o.address} uses '${hello.security}', this end uses '${this.o.security.name}'`,
      );
    if (this.o.expectedPeer !== undefined && hello.id !== this.o.expectedPeer)
      throw new AuthenticationError(
        `dialled member ${this.o.expectedPeer} at ${this.o.address} but the member there says it is ${hello.id}`,
      );
    if (this.o.role === 'acceptor') this.sendHello();
    this.phase = 'handshake';
    const [dialer, acceptor] = this.o.role === 'dialer' ? [this.ownHello!, helloBody] : [helloBody, this.ownHello!];
    const transcript = new Uint8Array(dialer.length + acceptor.length);
    transcript.set(dialer);
    transcript.set(acceptor, dialer.length);
    const secured = await Promise.race([
      this.o.security.handshake({
        role: this.o.role,
        localId: this.o.localId,
        claimedId: hello.id,
        transcript,
        peer: { kind: this.o.peerKind, address: this.o.address, claimedId: hello.id, tlsIdentity: this.tlsIdentity },
        signal: this.signal,
        send: (message) => void this.write({ type: LinkSetupFrameType.HANDSHAKE, flags: 0, body: message }),
        receive: () => this.receive(),
      }),
      stopped,
    ]);
    // A member must prove the id that was dialled; a client-side interceptor is whoever the hook
    // proves (its certificate identity), which the authenticator then maps to a principal.
    if (this.o.peerKind === 'member' && secured.peerId !== hello.id)
      throw new AuthenticationError(`peer proved identity ${secured.peerId} but claimed ${hello.id}`);
    this.phase = 'open';
    return {
      socket: this.socket,
      decoder: this.decoder,
      paused: this.paused,
      secured: secured.transparent ? undefined : secured,
      peerId: secured.peerId,
      ...(this.tlsIdentity !== undefined ? { tlsIdentity: this.tlsIdentity } : {}),
    };
  }

  /** The acceptor tells a refused dialer why (the dialer just closes). */
  refuse(error: unknown): void {
    if (this.o.role !== 'acceptor' || this.socket.destroyed || !this.socket.writable) return;
    const message =
      error instanceof AuthenticationError && this.phase === 'handshake'
        ? 'link authentication failed'
        : error instanceof Error
          ? error.message
          : String(error);
    const code = error instanceof VclError ? error.code : 'VCL_AUTHENTICATION';
    this.socket.end(encodeFrame(encodeMemberFrame({ type: 'error', code, message, fatal: true })));
  }

  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    this.signal.removeEventListener('abort', this.onAbort);
    const reason = new StoppedError(`link ${describe(this.o)} set-up ended`);
    this.waiter?.reject(reason);
    this.waiter = undefined;
  }

  private sendHello(): void {
    const w = new BodyWriter(64);
    w.u8(HELLO_VERSION).string(this.o.localId).string(this.o.security.name);
    this.ownHello = w.finish();
    this.write({ type: LinkSetupFrameType.HELLO, flags: 0, body: this.ownHello });
  }

  private write(frame: LinkFrame): void {
    if (this.phase !== 'open' && !this.socket.destroyed) this.socket.write(encodeFrame(frame));
  }

  private read(chunk: Buffer): void {
    try {
      this.decoder.feed(chunk);
      while (this.phase !== 'open' && !this.paused) {
        if (this.phase === 'handshake') {
          const type = this.decoder.peekType();
          if (type === undefined) return;
          if (type !== LinkSetupFrameType.HANDSHAKE && type !== InterceptorFrameType.ERROR) {
            // The other end finished first and already sends link frames: keep them for the link.
            this.paused = true;
            this.socket.pause();
            return;
          }
        }
        const frame = this.decoder.next();
        if (!frame) return;
        this.handle(frame);
      }
    } catch (error) {
      this.fail(error as Error);
    }
  }

  private handle(frame: LinkFrame): void {
    if (frame.type === InterceptorFrameType.ERROR) {
      const f = decodeMemberFrame(frame);
      const message = f.type === 'error' ? f.message : 'refused';
      throw new AuthenticationError(`link ${describe(this.o)} refused by the other end: ${message}`);
    }
    if (this.phase === 'hello') {
      if (frame.type !== LinkSetupFrameType.HELLO)
        throw new MalformedFrameError(
          `link ${describe(this.o)}: expected a link security hello (this end uses '${this.o.security.name}' link security), got frame type 0x${frame.type.toString(16)}`,
        );
      const resolve = this.peerHello;
      this.peerHello = undefined;
      if (!resolve) throw new MalformedFrameError(`link ${describe(this.o)}: a second hello`);
      // Handshake messages may follow in the same chunk, before `run` continues.
      this.phase = 'handshake';
      resolve(frame.body);
      return;
    }
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve(frame.body);
      return;
    }
    if (this.inbox.length >= MAX_UNREAD_HANDSHAKE_MESSAGES)
      throw new MalformedFrameError(
        `link ${describe(this.o)}: more than ${MAX_UNREAD_HANDSHAKE_MESSAGES} unread handshake messages`,
      );
    this.inbox.push(frame.body);
  }

  private receive(): Promise<Uint8Array> {
    if (this.signal.aborted) return Promise.reject(new StoppedError(`link ${describe(this.o)} is closed`));
    const next = this.inbox.shift();
    if (next) return Promise.resolve(next);
    if (this.waiter) return Promise.reject(new StoppedError('handshake receive() called twice without waiting'));
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  private fail(error: Error): void {
    const f = this.failed;
    this.failed = undefined;
    this.waiter?.reject(error);
    this.waiter = undefined;
    f?.(error);
  }
}

function decodeHello(body: Uint8Array): { id: string; security: string } {
  const r = new BodyReader(body, 'link security hello');
  const version = r.u8('version');
  if (version !== HELLO_VERSION)
    throw new MalformedFrameError(`link security hello: version ${version}, this build speaks ${HELLO_VERSION}`);
  const hello = { id: r.string('id'), security: r.string('security') };
  r.end();
  return hello;
}
