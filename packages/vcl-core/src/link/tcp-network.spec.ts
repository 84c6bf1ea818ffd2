import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { LinkFrame, LinkSecurity } from '../contracts/link-security';
import type { Logger } from '../contracts/logger';
import type { MemberId } from '../contracts/network';
import { AuthenticationError, ConfigError, FrameTooLargeError, IntegrityError, ListenError } from '../errors';
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder, writeFrameHeader, type Frame } from './frame';
import { decodeLinkError, encodeMemberHello, MemberFrameType } from './member-frames';
import { tcpNetwork, type TcpNetwork, type TcpNetworkOptions } from './tcp-network';

interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  msg?: string;
}

/** A Logger that keeps every entry (shared by its children) for assertions. */
class RecordingLogger implements Logger {
  constructor(
    readonly entries: LogEntry[] = [],
    private readonly bindings: Record<string, unknown> = {},
  ) {}
  debug(obj: object, msg?: string): void {
    this.add('debug', obj, msg);
  }
  info(obj: object, msg?: string): void {
    this.add('info', obj, msg);
  }
  warn(obj: object, msg?: string): void {
    this.add('warn', obj, msg);
  }
  error(obj: object, msg?: string): void {
    this.add('error', obj, msg);
  }
  child(bindings: Record<string, unknown>): Logger {
    return new RecordingLogger(this.entries, { ...this.bindings, ...bindings });
  }
  warnings(member?: string): LogEntry[] {
    return this.entries.filter((e) => e.level === 'warn' && (!member || e.fields['member'] === member));
  }
  private add(level: LogEntry['level'], obj: object, msg?: string): void {
    this.entries.push({ level, fields: { ...this.bindings, ...obj }, msg });
  }
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve) => {
          const s = net.createServer();
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function waitFor(what: string, done: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Received messages per receiver, as `from:text`. */
type Inbox = Map<MemberId, string[]>;

let networks: TcpNetwork[] = [];
let sockets: net.Socket[] = [];
let logger: RecordingLogger;

afterEach(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(networks.map((n) => n.stop()));
  networks = [];
  sockets = [];
});

beforeEach(() => {
  logger = new RecordingLogger();
});

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

async function group(
  ids: readonly MemberId[],
  options: Partial<TcpNetworkOptions> = {},
  only: readonly MemberId[] = ids,
): Promise<{ nets: Map<MemberId, TcpNetwork>; inbox: Inbox; ports: Map<MemberId, number> }> {
  const portList = await freePorts(ids.length);
  const ports = new Map(ids.map((id, i) => [id, portList[i]!]));
  const members = ids.map((id) => ({ id, host: '127.0.0.1', port: ports.get(id)! }));
  const nets = new Map<MemberId, TcpNetwork>();
  const inbox: Inbox = new Map();
  for (const id of only) {
    const n = tcpNetwork({ self: id, members, logger, reconnect: { initialMs: 10, maxMs: 100 }, ...options });
    inbox.set(id, []);
    n.onMessage((from, bytes) => inbox.get(id)!.push(`${from}:${str(bytes)}`));
    networks.push(n);
    nets.set(id, n);
  }
  await Promise.all([...nets.values()].map((n) => n.start()));
  return { nets, inbox, ports };
}

/** A raw TCP client that speaks (or fails to speak) the member link protocol. */
async function rawClient(port: number): Promise<{
  socket: net.Socket;
  frames: Frame[];
  closed: Promise<void>;
  write(bytes: Uint8Array): void;
}> {
  const socket = net.connect({ host: '127.0.0.1', port });
  sockets.push(socket);
  socket.on('error', () => {});
  const frames: Frame[] = [];
  const decoder = new FrameDecoder();
  socket.on('data', (chunk) => frames.push(...decoder.push(chunk)));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise<void>((r) => socket.once('connect', () => r()));
  return { socket, frames, closed, write: (b) => socket.write(b) };
}

function hello(from: string, to: string, incarnation = 1, security = 'none'): Uint8Array {
  return encodeFrame({
    type: MemberFrameType.HELLO,
    body: encodeMemberHello({ from, to, incarnation, security }),
  });
}

function data(body: Uint8Array): Uint8Array {
  return encodeFrame({ type: MemberFrameType.DATA, body });
}

/**
 * A toy security hook for tests: each end sends `secret` in the handshake and checks the other's;
 * every frame gets a trailing tag byte (`tag`), checked on open.
 */
function toySecurity(secret: string, tag = 0x5a): LinkSecurity {
  return {
    name: 'toy',
    async handshake(link) {
      link.send(text(secret));
      const theirs = str(await link.receive());
      if (theirs !== secret) throw new AuthenticationError(`wrong secret from ${link.claimedId}`);
      return {
        peerId: link.claimedId,
        seal: (f: LinkFrame) => {
          const body = new Uint8Array(f.body.length + 1);
          body.set(f.body);
          body[f.body.length] = tag;
          return { ...f, body };
        },
        open: (f: LinkFrame) => {
          if (f.body[f.body.length - 1] !== 0x5a) throw new IntegrityError('bad tag');
          return { ...f, body: f.body.subarray(0, f.body.length - 1) };
        },
      };
    },
  };
}

/** Self-signed test certificates (EC P-256, CN vcl-group / vcl-rogue, 100 years), for the TLS fit test only. */
const pem = {
  groupCert: `-----BEGIN CERTIFICATE-----
MIIBkTCCATagAwIBAgIUfAiumx2lEl/plb5UxbeVG9uHsOcwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJdmNsLWdyb3VwMCAXDTI2MTEyNjE1MzU1NVoYDzIxMjYxMTAy
MTUzNTU1WjAUMRIwEAYDVQQDDAl2Y2wtZ3JvdXAwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARjRR3IJMKEPQ9k+miYuCZcQc+/bZwkNq4rIyjmcYVUMcKu500WzYBZ
vAKity7VUWNlLUraphR5685V+q30qzpyo2QwYjAdBgNVHQ4EFgQUDHC1ahJAXqfF
0KBa4sXPPQtfcMAwHwYDVR0jBBgwFoAUDHC1ahJAXqfF0KBa4sXPPQtfcMAwDwYD
VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0kAMEYC
IQCqWPt+Tb9pgHEeSac6F/zyvbUeknIrHJ/MyyfE5/Bq1AIhAIvZxh9N5Sc7h1gg
COYfCJuu8ztyVQGn0tR5OvvarIgc
-----END CERTIFICATE-----`,
  groupKey: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgF/1EzGrUB5ryB3ev
picLyCnT06zrrV2XUgKHcZp0OZehRANCAARjRR3IJMKEPQ9k+miYuCZcQc+/bZwk
Nq4rIyjmcYVUMcKu500WzYBZvAKity7VUWNlLUraphR5685V+q30qzpy
-----END PRIVATE KEY-----`,
  rogueCert: `-----BEGIN CERTIFICATE-----
MIIBkTCCATagAwIBAgIUdzs20qQ2xR0lhxdYUbNREuPCw6AwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJdmNsLXJvZ3VlMCAXDTI2MTEyNjE1MzU1NVoYDzIxMjYxMTAy
MTUzNTU1WjAUMRIwEAYDVQQDDAl2Y2wtcm9ndWUwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQSq5vzl0jsoG8KtQ+WHEF/msze6SNiM95ugtDgHNe7g78q7gc/ZfOd
DXbe54WxNWT3pCCbODpvPUwvz0D+yAn9o2QwYjAdBgNVHQ4EFgQURqYT2X+bwzGH
9HgmGSXTvbs8ABYwHwYDVR0jBBgwFoAURqYT2X+bwzGH9HgmGSXTvbs8ABYwDwYD
VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0kAMEYC
IQDr5cKDGutNyr+8xUfV6HxL3GnM9UqAtFyiSKXzM6DzeAIhANFOy0EBbUW1niM/
qGmcL4ZzIRdhHTzsdoM62iBX8mGO
-----END CERTIFICATE-----`,
  rogueKey: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9Gz64gK0gMgchxG/
NfcDfEoygeg57TvV8g81DudEiA+hRANCAAQSq5vzl0jsoG8KtQ+WHEF/msze6SNi
M95ugtDgHNe7g78q7gc/ZfOdDXbe54WxNWT3pCCbODpvPUwvz0D+yAn9
-----END PRIVATE KEY-----`,
};

/**
 * A mutual-TLS link security for tests, to prove the contract fits TLS: `secureSocket` wraps the
 * socket and reports the certificate's CN; the handshake trusts only `vcl-group`.
 */
function tlsSecurity(cert: string, key: string): LinkSecurity {
  const secureContext = tls.createSecureContext({ cert, key, ca: pem.groupCert });
  return {
    name: 'tls-test',
    async secureSocket(socket, role, signal) {
      const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        if (role === 'dialer') {
          const client = tls.connect({ socket, secureContext, checkServerIdentity: () => undefined });
          client.once('secureConnect', () => resolve(client));
          client.once('error', reject);
          return;
        }
        // An accepted socket goes through a (never listening) tls.Server, which checks the client
        // certificate and sets `authorized`.
        const server = tls.createServer({ cert, key, ca: pem.groupCert, requestCert: true, rejectUnauthorized: true });
        server.once('secureConnection', resolve);
        server.once('tlsClientError', reject);
        server.emit('connection', socket);
      });
      if (!secure.authorized) {
        secure.destroy();
        throw new AuthenticationError(`untrusted certificate: ${String(secure.authorizationError)}`);
      }
      return { socket: secure, identity: secure.getPeerCertificate().subject.CN as string };
    },
    async handshake(link) {
      if (link.peer.tlsIdentity !== 'vcl-group')
        throw new AuthenticationError(`certificate ${link.peer.tlsIdentity} is not the group's`);
      return { peerId: link.claimedId, transparent: true, seal: (f) => f, open: (f) => f };
    },
  };
}

describe('TcpNetwork', () => {
  it('three members exchange messages in FIFO order per sender, self included', async () => {
    const ids = ['n1', 'n2', 'n3'];
    const { nets, inbox } = await group(ids);
    const count = 300;
    // Sent at once after start: the first ones wait for the links to open, the rest are batched.
    for (let i = 0; i < count; i++)
      for (const from of ids) for (const to of ids) nets.get(from)!.send(to, text(`${i}`));
    await waitFor('all messages', () => ids.every((id) => inbox.get(id)!.length === count * ids.length));
    for (const to of ids)
      for (const from of ids) {
        const got = inbox
          .get(to)!
          .filter((m) => m.startsWith(`${from}:`))
          .map((m) => Number(m.slice(from.length + 1)));
        expect(got).toEqual(Array.from({ length: count }, (_, i) => i));
      }
    for (const n of nets.values()) {
      expect(n.status().every((p) => p.link === 'open' && p.dropped === 0)).toBe(true);
    }
    expect(logger.warnings()).toEqual([]);
  });

  it('delivers to self asynchronously and in order', async () => {
    const { nets, inbox } = await group(['n1', 'n2'], {}, ['n1']);
    const n1 = nets.get('n1')!;
    n1.send('n1', text('a'));
    n1.send('n1', text('b'));
    expect(inbox.get('n1')).toEqual([]);
    await waitFor('self delivery', () => inbox.get('n1')!.length === 2);
    expect(inbox.get('n1')).toEqual(['n1:a', 'n1:b']);
  });

  it('holds messages sent before start() and delivers them once running', async () => {
    const [p1, p2] = await freePorts(2);
    const members = [
      { id: 'n1', host: '127.0.0.1', port: p1! },
      { id: 'n2', host: '127.0.0.1', port: p2! },
    ];
    const make = (self: string): [TcpNetwork, string[]] => {
      const got: string[] = [];
      const n = tcpNetwork({ self, members, logger, reconnect: { initialMs: 10, maxMs: 50 } });
      n.onMessage((from, b) => got.push(`${from}:${str(b)}`));
      networks.push(n);
      return [n, got];
    };
    const [n1, got1] = make('n1');
    const [n2, got2] = make('n2');
    n1.send('n1', text('to self'));
    n1.send('n2', text('to n2'));
    n2.send('n1', text('to n1'));
    await sleep(20);
    expect([got1, got2]).toEqual([[], []]);
    await n1.start();
    await n2.start();
    await waitFor('held messages', () => got1.length === 2 && got2.length === 1);
    expect(got1.sort()).toEqual(['n1:to self', 'n2:to n1']);
    expect(got2).toEqual(['n1:to n2']);
  });

  it('copies a message at send, so the caller may reuse its buffer', async () => {
    const { nets, inbox } = await group(['n1', 'n2']);
    await waitFor('links', () => nets.get('n1')!.status()[0]!.link === 'open');
    const buf = text('x');
    nets.get('n1')!.send('n2', buf);
    nets.get('n1')!.send('n1', buf);
    buf[0] = 'y'.charCodeAt(0);
    await waitFor('delivery', () => inbox.get('n2')!.length === 1 && inbox.get('n1')!.length === 1);
    expect([inbox.get('n2'), inbox.get('n1')]).toEqual([['n1:x'], ['n1:x']]);
  });

  it.each([
    ['the member it dials', 'n1', 'n2'],
    ['the member that dials it', 'n2', 'n1'],
  ])('tells onPeerDown when %s stops, and links again with its next incarnation', async (_case, stays, restarts) => {
    const { nets, inbox, ports } = await group(['n1', 'n2'], { incarnation: 1 });
    const survivor = nets.get(stays)!;
    const downs: string[] = [];
    survivor.onPeerDown((p) => downs.push(p));
    survivor.send(restarts, text('before'));
    await waitFor('first message', () => inbox.get(restarts)!.length === 1);
    await nets.get(restarts)!.stop();
    await waitFor('peer down', () => downs.length > 0);
    expect(downs).toEqual([restarts]);

    const members = [...ports].map(([id, port]) => ({ id, host: '127.0.0.1', port }));
    const again = tcpNetwork({
      self: restarts,
      members,
      logger,
      incarnation: 2,
      reconnect: { initialMs: 10, maxMs: 100 },
    });
    networks.push(again);
    const got: string[] = [];
    again.onMessage((from, b) => got.push(`${from}:${str(b)}`));
    await again.start();
    await waitFor('relinked', () => survivor.status()[0]!.link === 'open');
    expect(survivor.status()[0]!.incarnation).toBe(2);
    survivor.send(restarts, text('after'));
    again.send(stays, text('back'));
    await waitFor('messages after restart', () => got.length === 1 && inbox.get(stays)!.length === 1);
    expect(got).toEqual([`${stays}:after`]);
    expect(inbox.get(stays)).toEqual([`${restarts}:back`]);
    expect(downs).toEqual([restarts]);
  });

  it('refuses a hello from a previous (stale) incarnation of a member', async () => {
    const { nets, ports } = await group(['n1', 'n2'], { incarnation: 5 });
    await waitFor('links', () => nets.get('n2')!.status()[0]!.link === 'open');
    const raw = await rawClient(ports.get('n2')!);
    raw.write(hello('n1', 'n2', 4));
    await raw.closed;
    const refused = logger.warnings('n2').find((w) => w.msg === 'link refused');
    expect(refused?.fields['reason']).toBe('stale incarnation 4 of n1 (already saw 5): another process is member n1');
    expect(nets.get('n2')!.status()[0]!.link).toBe('open');
    // The refused end is told why, with a code it acts on.
    const error = raw.frames.find((f) => f.type === MemberFrameType.ERROR);
    expect(error && decodeLinkError(error.body).code).toBe('VCL_ID_TAKEN');
  });

  it('a member whose id another (newer) incarnation took is told so once, loudly, and can step out', async () => {
    // The real n1 (incarnation 1) and n2; an impostor claiming n1 with a newer incarnation, from
    // another port, dials n2 (no link security: it only needs to reach the port).
    const portList = await freePorts(3);
    const members = [
      { id: 'n1', host: '127.0.0.1', port: portList[0]! },
      { id: 'n2', host: '127.0.0.1', port: portList[1]! },
    ];
    const taken: string[] = [];
    const real = tcpNetwork({
      self: 'n1',
      members,
      logger: logger.child({ who: 'real' }),
      incarnation: 1,
      reconnect: { initialMs: 10, maxMs: 50 },
      onIdTaken: (e) => taken.push(e.code),
    });
    const n2 = tcpNetwork({ self: 'n2', members, logger, incarnation: 1, reconnect: { initialMs: 10, maxMs: 50 } });
    networks.push(real, n2);
    await Promise.all([real.start(), n2.start()]);
    await waitFor('real link', () => n2.status()[0]!.link === 'open');
    const impostor = tcpNetwork({
      self: 'n1',
      members: [{ id: 'n1', host: '127.0.0.1', port: portList[2]! }, members[1]!],
      logger: logger.child({ who: 'impostor' }),
      incarnation: 2,
      reconnect: { initialMs: 10, maxMs: 50 },
    });
    networks.push(impostor);
    await impostor.start();
    await waitFor('the real member told', () => taken.length > 0);
    await sleep(200);
    expect(taken).toEqual(['VCL_ID_TAKEN']);
    const loud = logger.entries.filter(
      (e) => e.level === 'error' && e.msg === 'member id taken by another incarnation',
    );
    expect(loud).toHaveLength(1);
    expect(loud[0]!.fields['who']).toBe('real');
  });

  it('tells onPeerDown when a peer process is killed', async () => {
    const { nets, ports } = await group(['n1', 'n2'], {}, ['n1']);
    const n1 = nets.get('n1')!;
    const downs: string[] = [];
    n1.onPeerDown((p) => downs.push(p));
    // A stand-in for member n2 in its own process: accepts n1's link and answers its hello.
    const reply = Buffer.from(hello('n2', 'n1', 7)).toString('hex');
    const script = `
      const net = require('node:net');
      net.createServer((s) => { s.once('data', () => s.write(Buffer.from('${reply}', 'hex'))); s.on('data', () => {}); })
        .listen(${ports.get('n2')}, '127.0.0.1', () => console.log('ready'));
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((r) => child.stdout.once('data', () => r()));
      await waitFor('link to the child', () => n1.status()[0]!.link === 'open');
      expect(n1.status()[0]!.incarnation).toBe(7);
      child.kill('SIGKILL');
      await waitFor('peer down', () => downs.length === 1);
      expect(downs).toEqual(['n2']);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => (child.exitCode !== null || child.signalCode ? r(null) : child.once('exit', r)));
    }
  });

  it('closes a raw socket sending garbage with a warning, and keeps serving the others', async () => {
    const { nets, inbox, ports } = await group(['n1', 'n2']);
    const raw = await rawClient(ports.get('n1')!);
    raw.write(text('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await raw.closed;
    const warning = logger.warnings('n1').find((w) => w.msg === 'closing link');
    expect(warning?.fields).toMatchObject({ code: 'VCL_MALFORMED_FRAME', role: 'acceptor' });
    expect(warning?.fields['err']).toMatch(/^bad frame magic 0x4745 at stream offset 0/);
    expect(warning?.fields['address']).toMatch(/^127\.0\.0\.1:\d+$/);
    nets.get('n2')!.send('n1', text('still here'));
    await waitFor('message after garbage', () => inbox.get('n1')!.length === 1);
    expect(inbox.get('n1')).toEqual(['n2:still here']);
  });

  it('closes a raw socket announcing an oversized frame before its body arrives', async () => {
    const { nets, inbox, ports } = await group(['n1', 'n2']);
    const raw = await rawClient(ports.get('n1')!);
    const header = new Uint8Array(FRAME_HEADER_BYTES);
    writeFrameHeader(header, 0, MemberFrameType.HELLO, 0, 20 * 1024 * 1024);
    raw.write(header);
    await raw.closed;
    const warning = logger.warnings('n1').find((w) => w.msg === 'closing link');
    expect(warning?.fields).toMatchObject({ code: 'VCL_FRAME_TOO_LARGE' });
    expect(warning?.fields['err']).toMatch(/^frame of 20971520 bytes exceeds the maximum of 65536/);
    nets.get('n2')!.send('n1', text('ok'));
    await waitFor('message after oversize', () => inbox.get('n1')!.length === 1);
  });

  it('delivers what an authenticated peer sent before an oversized frame, then closes its link', async () => {
    const { nets, inbox, ports } = await group(['n1', 'n2', 'n3'], { maxFrameBytes: 4096 }, ['n2', 'n3']);
    const raw = await rawClient(ports.get('n3')!);
    raw.write(hello('n1', 'n3'));
    await waitFor('hello reply', () => raw.frames.length === 1);
    expect(raw.frames[0]!.type).toBe(MemberFrameType.HELLO);
    raw.write(Buffer.concat([data(text('one')), data(text('two')), data(new Uint8Array(5000))]));
    await raw.closed;
    expect(inbox.get('n3')).toEqual(['n1:one', 'n1:two']);
    const error = raw.frames.find((f) => f.type === MemberFrameType.ERROR);
    expect(decodeLinkError(error!.body)).toEqual({
      code: 'VCL_FRAME_TOO_LARGE',
      message: 'frame of 5000 bytes exceeds the maximum of 4096 (type 3 at stream offset 53)',
    });
    const warning = logger.warnings('n3').find((w) => w.msg === 'closing link');
    expect(warning?.fields).toMatchObject({ peer: 'n1', code: 'VCL_FRAME_TOO_LARGE' });
    nets.get('n2')!.send('n3', text('ok'));
    await waitFor('message after oversize', () => inbox.get('n3')!.length === 3);
  });

  it.each([
    ['an unknown member id', hello('n9', 'n1'), /"n9" is not a member \(members: n1, n2\)/],
    ['a wrong target', hello('n2', 'n7'), /this is member n1, not n7/],
    ['a security mismatch', hello('n2', 'n1', 1, 'hmac'), /link security mismatch: n2 uses 'hmac', n1 uses 'none'/],
    ['its own id', hello('n1', 'n1'), /a member claims to be n1, which is this member/],
    [
      'a larger id than its own',
      hello('n2', 'n1'),
      /n2 dialled n1, but of two members the one with the smaller id dials/,
    ],
  ])('refuses a hello with %s, telling the peer why', async (_case, bytes, reason) => {
    const { nets, inbox, ports } = await group(['n1', 'n2']);
    await waitFor('link', () => nets.get('n1')!.status()[0]!.link === 'open');
    const raw = await rawClient(ports.get('n1')!);
    raw.write(bytes);
    raw.write(data(text('sneaky')));
    await raw.closed;
    const refused = logger.warnings('n1').find((w) => w.msg === 'link refused');
    expect(refused?.fields['reason']).toMatch(reason);
    const error = raw.frames.find((f) => f.type === MemberFrameType.ERROR);
    expect(decodeLinkError(error!.body)).toMatchObject({
      code: 'VCL_AUTHENTICATION',
      message: expect.stringMatching(reason),
    });
    nets.get('n2')!.send('n1', text('ok'));
    await waitFor('message after refusal', () => inbox.get('n1')!.length === 1);
    expect(inbox.get('n1')).toEqual(['n2:ok']);
  });

  it('closes a link whose first frame is not a hello', async () => {
    const { ports } = await group(['n1', 'n2']);
    const raw = await rawClient(ports.get('n1')!);
    raw.write(data(text('x')));
    await raw.closed;
    expect(logger.warnings('n1').find((w) => w.msg === 'closing link')?.fields['err']).toBe(
      'expected a hello frame first, got frame type 3',
    );
  });

  it('closes a connection that never says hello within connectTimeoutMs', async () => {
    const { ports } = await group(['n1', 'n2'], { connectTimeoutMs: 200 });
    const raw = await rawClient(ports.get('n1')!);
    await raw.closed;
    expect(logger.warnings('n1').find((w) => w.msg === 'closing link')?.fields['err']).toMatch(
      /was not established within 200 ms/,
    );
  });

  it('disconnects a peer that fails the security handshake; it never delivers a message', async () => {
    const portList = await freePorts(3);
    const members = ['n1', 'n2', 'n3'].map((id, i) => ({ id, host: '127.0.0.1', port: portList[i]! }));
    const got: string[] = [];
    const make = (self: string, secret: string): TcpNetwork => {
      const n = tcpNetwork({
        self,
        members,
        logger,
        security: toySecurity(secret),
        reconnect: { initialMs: 10, maxMs: 50 },
      });
      n.onMessage((from, b) => got.push(`${self}<-${from}:${str(b)}`));
      networks.push(n);
      return n;
    };
    const [n1, n2, n3] = [make('n1', 'right'), make('n2', 'right'), make('n3', 'wrong')];
    await Promise.all([n1.start(), n2.start(), n3.start()]);
    n3.send('n1', text('intruder'));
    n2.send('n1', text('friend'));
    await waitFor('friend message', () => got.includes('n1<-n2:friend'));
    await waitFor('refusals logged', () =>
      logger.warnings('n1').some((w) => w.msg === 'link authentication failed' && w.fields['peer'] === 'n3'),
    );
    await sleep(200);
    expect(got.filter((m) => m.includes('n3'))).toEqual([]);
    expect(n3.status().find((p) => p.id === 'n1')!.link).not.toBe('open');
    const failure = logger.warnings('n1').find((w) => w.msg === 'link authentication failed');
    expect(failure?.fields['err']).toBe('wrong secret from n3');
  });

  it('closes a link whose frame fails the integrity check', async () => {
    const portList = await freePorts(2);
    const members = ['n1', 'n2'].map((id, i) => ({ id, host: '127.0.0.1', port: portList[i]! }));
    const got: string[] = [];
    const n1 = tcpNetwork({ self: 'n1', members, logger, security: toySecurity('s') });
    const n2 = tcpNetwork({ self: 'n2', members, logger, security: toySecurity('s', 0x00) });
    networks.push(n1, n2);
    n1.onMessage((from, b) => got.push(`${from}:${str(b)}`));
    await Promise.all([n1.start(), n2.start()]);
    n2.send('n1', text('tampered'));
    await waitFor('integrity warning', () =>
      logger.warnings('n1').some((w) => w.msg === 'closing link' && w.fields['code'] === 'VCL_INTEGRITY'),
    );
    expect(got).toEqual([]);
  });

  it('runs over mutual TLS through secureSocket, refusing a member with an untrusted certificate', async () => {
    const portList = await freePorts(3);
    const members = ['n1', 'n2', 'n3'].map((id, i) => ({ id, host: '127.0.0.1', port: portList[i]! }));
    const got: string[] = [];
    const make = (self: string, cert: string, key: string): TcpNetwork => {
      const n = tcpNetwork({ self, members, logger, security: tlsSecurity(cert, key), reconnect: { initialMs: 10 } });
      n.onMessage((from, b) => got.push(`${self}<-${from}:${str(b)}`));
      networks.push(n);
      return n;
    };
    const n1 = make('n1', pem.groupCert, pem.groupKey);
    const n2 = make('n2', pem.groupCert, pem.groupKey);
    const n3 = make('n3', pem.rogueCert, pem.rogueKey);
    await Promise.all([n1.start(), n2.start(), n3.start()]);
    n1.send('n2', text('over tls'));
    n2.send('n1', text('and back'));
    n3.send('n1', text('rogue'));
    await waitFor('tls messages', () => got.length >= 2);
    await waitFor('rogue refused', () =>
      logger.warnings('n1').some((w) => w.fields['peer'] === 'n3' && w.fields['code'] === 'VCL_AUTHENTICATION'),
    );
    await sleep(100);
    expect(got.sort()).toEqual(['n1<-n2:and back', 'n2<-n1:over tls']);
    expect(n1.status().find((p) => p.id === 'n3')!.link).not.toBe('open');
  });

  it('bounds what it holds for an unreachable peer and drops the rest with one warning', async () => {
    const { nets } = await group(['n1', 'n2'], { maxQueuedBytes: 10_000, unreachableDropMs: 60_000 }, ['n1']);
    const n1 = nets.get('n1')!;
    for (let i = 0; i < 200; i++) n1.send('n2', new Uint8Array(100));
    const s = n1.status()[0]!;
    expect(s.link).not.toBe('open');
    expect(s.queuedBytes).toBe(10_000);
    expect(s.dropped).toBe(100);
    expect(logger.warnings('n1').filter((w) => w.msg === 'dropping messages to peer')).toHaveLength(1);
  });

  it('drops messages to a peer unreachable for longer than unreachableDropMs', async () => {
    const { nets } = await group(['n1', 'n2'], { unreachableDropMs: 100 }, ['n1']);
    const n1 = nets.get('n1')!;
    n1.send('n2', text('early'));
    expect(n1.status()[0]!.queuedBytes).toBe(5);
    await sleep(300);
    n1.send('n2', text('late'));
    const s = n1.status()[0]!;
    expect(s.queuedBytes).toBe(0);
    expect(s.dropped).toBe(2);
  });

  it('bounds the backlog to a peer that stops reading', async () => {
    const { nets, ports } = await group(['n1', 'n2'], { maxQueuedBytes: 256 * 1024 }, ['n1']);
    const n1 = nets.get('n1')!;
    // A stand-in n2 that answers the hello and then never reads again.
    const server = net.createServer((s) => {
      sockets.push(s);
      s.once('data', () => {
        s.write(hello('n2', 'n1'));
        s.pause();
      });
    });
    await new Promise<void>((r) => server.listen(ports.get('n2'), '127.0.0.1', () => r()));
    try {
      await waitFor('link', () => n1.status()[0]!.link === 'open');
      const chunk = new Uint8Array(16 * 1024);
      for (let round = 0; round < 20 && n1.status()[0]!.dropped === 0; round++) {
        for (let i = 0; i < 64; i++) n1.send('n2', chunk);
        await sleep(10);
      }
      const s = n1.status()[0]!;
      expect(s.dropped).toBeGreaterThan(0);
      expect(s.queuedBytes).toBeLessThanOrEqual(256 * 1024);
      expect(logger.warnings('n1').find((w) => w.msg === 'dropping messages to peer')?.fields['reason']).toMatch(
        /backlog full/,
      );
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  it('refuses a message over maxFrameBytes with FrameTooLargeError', async () => {
    const { nets } = await group(['n1', 'n2'], { maxFrameBytes: 10 }, ['n1']);
    expect(() => nets.get('n1')!.send('n2', new Uint8Array(11))).toThrow(FrameTooLargeError);
  });

  it('logs and drops a send to an unknown member without throwing', async () => {
    const { nets } = await group(['n1', 'n2'], {}, ['n1']);
    nets.get('n1')!.send('n5', text('x'));
    nets.get('n1')!.send('n5', text('y'));
    expect(logger.warnings('n1').filter((w) => w.msg === 'send to an unknown member dropped')).toHaveLength(1);
  });

  it('keeps serving when the message handler throws', async () => {
    const { nets, inbox } = await group(['n1', 'n2']);
    const n1 = nets.get('n1')!;
    let calls = 0;
    n1.onMessage((from, b) => {
      calls++;
      if (str(b) === 'boom') throw new Error('handler bug');
      inbox.get('n1')!.push(`${from}:${str(b)}`);
    });
    nets.get('n2')!.send('n1', text('boom'));
    nets.get('n2')!.send('n1', text('fine'));
    await waitFor('second message', () => inbox.get('n1')!.length === 1);
    expect(calls).toBe(2);
    expect(logger.entries.find((e) => e.level === 'error')?.fields['err']).toBe('handler bug');
  });

  it('rejects start() with a ListenError naming the address when the port is taken', async () => {
    const [port] = await freePorts(1);
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    try {
      const n = tcpNetwork({
        self: 'n1',
        members: [
          { id: 'n1', host: '127.0.0.1', port: port! },
          { id: 'n2', host: '127.0.0.1', port: port! + 1 },
        ],
        logger,
      });
      networks.push(n);
      const started = n.start();
      await expect(started).rejects.toThrow(ListenError);
      await expect(started).rejects.toThrow(
        `member n1 cannot listen on 127.0.0.1:${port}: address already in use (EADDRINUSE)`,
      );
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('rejects bad options with a ConfigError listing every problem', () => {
    let error: unknown;
    try {
      tcpNetwork({
        self: 'n4',
        members: [
          { id: 'n1', host: '127.0.0.1', port: 70000 },
          { id: 'n1', host: '', port: 1 },
        ],
        logger,
        maxFrameBytes: 0,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.path)).toEqual([
      'members[0].port',
      'members[1].id',
      'members[1].host',
      'self',
      'maxFrameBytes',
    ]);
  });

  it('stop() closes every socket, server and timer it opened', async () => {
    const watched = ['TCPSocketWrap', 'TCPServerWrap', 'TCPWRAP', 'Timeout', 'Immediate'];
    const handles = (): string[] =>
      process
        .getActiveResourcesInfo()
        .filter((r) => watched.includes(r))
        .sort();
    await sleep(50);
    const before = handles();
    // n3 never runs: n1 keeps a long retry timer for it that stop() must cancel.
    const { nets, inbox } = await group(['n1', 'n2', 'n3'], { reconnect: { initialMs: 5000, maxMs: 5000 } }, [
      'n1',
      'n2',
    ]);
    await waitFor('n1 gave up on n3 for now', () =>
      logger.entries.some((e) => e.msg === 'link lost' && e.fields['peer'] === 'n3'),
    );
    nets.get('n1')!.send('n2', text('x'));
    nets.get('n1')!.send('n1', text('y'));
    nets.get('n1')!.send('n3', text('z'));
    await waitFor('delivery', () => inbox.get('n2')!.length === 1);
    expect(handles().length).toBeGreaterThan(before.length);
    await Promise.all([...nets.values()].map((n) => n.stop()));
    await Promise.all([...nets.values()].map((n) => n.stop()));
    // Handles present now but not before the test: what stop() left open.
    const leaked = (): string[] => {
      const left = [...before];
      return handles().filter((h) => {
        const i = left.indexOf(h);
        if (i < 0) return true;
        left.splice(i, 1);
        return false;
      });
    };
    await waitFor('handles released', () => leaked().length === 0, 2000).catch(() => undefined);
    expect(leaked()).toEqual([]);
  });
});
