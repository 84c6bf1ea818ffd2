import * as net from 'node:net';
import type { AuditEvent } from '../contracts/aaa';
import type { LinkFrame } from '../contracts/link-security';
import { FRAME_HEADER_BYTES, FrameDecoder } from '../link/frame';
import { realClock, realRandom } from '../runtime/real-clock';
import { CounterService } from '../testing/vcl/counter-service';
import { LineClient, VclHarness } from '../testing/vcl/engine-harness';
import { FakeTotalOrder } from '../testing/vcl/fake-total-order';
import { lineSubstrate } from '../testing/vcl/line-substrate';
import { RecordingLogger } from '../testing/vcl/recording-logger';
import { ClientInterceptor } from './client-interceptor';
import { remoteHost } from './connection-limits';
import { decodeMemberFrame, encodeClientFrame, type MemberFrame } from './link-frames';
import { ServiceInterceptor, type ClientPortLimits } from './service-interceptor';
import { TcpLinkTransport } from './tcp-link';
import { encodeFrame } from '../link/frame';

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A raw TCP peer of a member's client port: what it is told, and whether it was closed. */
async function rawPeer(port: number): Promise<{ socket: net.Socket; frames: MemberFrame[]; closed: () => boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const frames: MemberFrame[] = [];
  const decoder = new FrameDecoder();
  let closed = false;
  socket.on('data', (d) => decoder.push(d).forEach((f: LinkFrame) => frames.push(decodeMemberFrame(f))));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  return { socket, frames, closed: () => closed };
}

/** One member (FakeTotalOrder, real TCP) with the given client-port limits, and a good client. */
async function member(limits: ClientPortLimits) {
  const clock = realClock();
  const order = new FakeTotalOrder({ clock, members: ['n1'] });
  await order.member('n1').start();
  const audit: AuditEvent[] = [];
  const logger = new RecordingLogger();
  const substrate = lineSubstrate();
  const replica = new CounterService();
  const service = new ServiceInterceptor({
    self: 'n1',
    ordering: order.member('n1'),
    substrate,
    backend: replica.backend(substrate),
    transport: new TcpLinkTransport({ preAuthFrameBytes: limits.preAuthFrameBytes ?? 64 * 1024 }),
    listen: { host: '127.0.0.1', port: 0 },
    members: [],
    clock,
    logger,
    auditor: { audit: (e) => audit.push(e) },
    limits,
  });
  await service.start();
  const address = { id: 'n1', ...service.address! };
  const client = new ClientInterceptor({
    members: [address],
    transport: new TcpLinkTransport(),
    substrate,
    clock,
    random: realRandom(),
    logger,
  });
  await client.start();
  const good = new LineClient(client.connect());
  let sent = 0;
  const ask = async (): Promise<void> => {
    const i = ++sent;
    good.send(`g:${i}`, i);
    await until(() => good.responses.length === i);
  };
  await ask();
  return {
    service,
    address,
    audit,
    logger,
    good,
    ask,
    stop: async () => {
      await client.stop();
      await service.stop();
    },
  };
}

describe('limits on a member client port (real TCP)', () => {
  it('refuses a frame over the pre-authentication limit before buffering it, and takes large frames once the session is open', async () => {
    const m = await member({ preAuthFrameBytes: 64 * 1024 });
    try {
      // The flood: a header announcing 16 MiB before any OPEN, then 1 MiB of it.
      const attacker = await rawPeer(m.address.port);
      const header = encodeFrame({ type: 0x22, body: new Uint8Array(0) }).subarray(0, FRAME_HEADER_BYTES);
      const announce = Buffer.from(header);
      announce.writeUInt32BE(16 * 1024 * 1024, FRAME_HEADER_BYTES - 4);
      attacker.socket.write(announce);
      attacker.socket.write(Buffer.alloc(1024 * 1024));
      await until(() => attacker.closed());
      expect(attacker.frames).toEqual([expect.objectContaining({ type: 'error', code: 'VCL_FRAME_TOO_LARGE' })]);
      expect(m.audit.filter((e) => e.type === 'limit.refused')).toHaveLength(1);
      expect(m.service.counters.limitRefusals).toBe(1);
      // A good session's frames may be larger than the pre-authentication limit.
      const big = 'x'.repeat(200 * 1024);
      m.good.send(`g:${big}`, 2);
      await until(() => m.good.responses.length === 2);
      expect(m.good.responses[1]).toBe(`g:${big} 3`);
    } finally {
      await m.stop();
    }
  });

  it('refuses connections over the per-address limit with a typed error frame, audited and counted', async () => {
    const m = await member({ maxConnectionsPerAddress: 3 });
    try {
      // The good client's link is one of the three.
      const held = [await rawPeer(m.address.port), await rawPeer(m.address.port)];
      const over = await rawPeer(m.address.port);
      await until(() => over.closed());
      expect(over.frames).toEqual([
        expect.objectContaining({
          type: 'error',
          code: 'VCL_LIMIT',
          fatal: false,
          message: expect.stringMatching(/maxConnectionsPerAddress/),
        }),
      ]);
      expect(m.audit.filter((e) => e.type === 'limit.refused')).toHaveLength(1);
      expect(held.some((h) => h.closed())).toBe(false);
      await m.ask();
      // Room again once one goes.
      held[0]!.socket.destroy();
      await until(() => m.service.status().links === 2);
      const again = await rawPeer(m.address.port);
      again.socket.write(encodeFrame(encodeClientFrame({ type: 'ping' })));
      await new Promise((r) => setTimeout(r, 100));
      expect(again.closed()).toBe(false);
      for (const h of [...held, again]) h.socket.destroy();
    } finally {
      await m.stop();
    }
  });

  it('drops a slowloris link (a byte at a time, never a whole OPEN) with a typed error', async () => {
    const m = await member({ handshakeTimeoutMs: 300 });
    try {
      const slow = await rawPeer(m.address.port);
      const open = encodeFrame(
        encodeClientFrame({ type: 'open', session: 's', credentials: new Uint8Array(), lastInSeq: 0, lastOutSeq: 0 }),
      );
      // The OPEN trickles in a byte every 100 ms and never completes.
      let i = 0;
      const timer = setInterval(() => {
        if (!slow.closed() && i < open.length - 1) slow.socket.write(open.subarray(i, ++i));
      }, 100);
      try {
        await until(() => slow.closed());
      } finally {
        clearInterval(timer);
      }
      expect(slow.frames.filter((f) => f.type !== 'ping')).toEqual([
        expect.objectContaining({
          type: 'error',
          code: 'VCL_LIMIT',
          message: expect.stringMatching(/handshakeTimeoutMs/),
        }),
      ]);
      expect(m.audit.filter((e) => e.type === 'limit.refused')).toHaveLength(1);
      await m.ask();
    } finally {
      await m.stop();
    }
  });

  it('reads the remote address of IPv4 and IPv6 peers', () => {
    expect(remoteHost('10.0.0.1:5312')).toBe('10.0.0.1');
    expect(remoteHost('::1:80')).toBe('::1');
    expect(remoteHost('[::1]:80')).toBe('::1');
  });
});

describe('limits on the client-side interceptor (simulator)', () => {
  it('drops a client whose request trickles in for longer than partialRequestTimeoutMs, answering it with an error, and keeps serving the others', async () => {
    const h = new VclHarness({ seed: 41, client: { limits: { partialRequestTimeoutMs: 500 } } });
    await h.start();
    const good = new LineClient(h.client.connect());
    const slow = h.client.connect();
    const answers: string[] = [];
    let ended = false;
    slow.onData((b) => answers.push(new TextDecoder().decode(b)));
    slow.onEnd(() => (ended = true));
    // One byte every 200 ms: each keeps the connection busy, none completes the request.
    for (let i = 0; i < 10 && !ended; i++) {
      slow.write(new TextEncoder().encode('x'));
      await h.settle();
      await h.sim.runFor(200);
      good.send(`g:${i + 1}`, i + 1);
      await h.settle();
      await h.sim.runUntil(() => good.responses.length === i + 1, 1000);
    }
    expect(ended).toBe(true);
    expect(answers.join('')).toMatch(/partialRequestTimeoutMs/);
    expect(h.client.counters.limitRefusals).toBe(1);
    expect(h.logger.find('warn', 'client connection dropped at a limit')).toHaveLength(1);
    expect(good.error).toBeUndefined();
    expect(good.responses.length).toBeGreaterThanOrEqual(3);
    // Its session is closed at the group, in the total order.
    await h.sim.runFor(200);
    for (const m of h.members) expect(h.services.get(m)!.status().sessions).toHaveLength(1);
  });
});
