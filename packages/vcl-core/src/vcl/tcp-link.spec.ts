import * as net from 'node:net';
import { realClock, realRandom } from '../runtime/real-clock';
import { CounterService } from '../testing/vcl/counter-service';
import { FakeTotalOrder } from '../testing/vcl/fake-total-order';
import { LineClient } from '../testing/vcl/engine-harness';
import { lineSubstrate } from '../testing/vcl/line-substrate';
import { RecordingLogger } from '../testing/vcl/recording-logger';
import { ClientInterceptor } from './client-interceptor';
import type { LinkConnection } from './link';
import type { LinkFrame } from '../contracts/link-security';
import { encodeFrame, FrameDecoder } from '../link/frame';
import { decodeMemberFrame } from './link-frames';
import { ServiceInterceptor } from './service-interceptor';
import { TcpLinkTransport } from './tcp-link';

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('TcpLinkTransport', () => {
  it('carries whole link-codec frames however TCP cuts the stream', async () => {
    const t = new TcpLinkTransport();
    const got: LinkFrame[] = [];
    const listener = await t.listen('127.0.0.1', 0, (link) => link.onFrame((f) => got.push(f)));
    try {
      // Three frames (one with an empty body) written one byte at a time.
      const socket = net.connect(listener.port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      const frames = [
        { type: 0x22, flags: 0, body: new Uint8Array([7, 8]) },
        { type: 0x25, flags: 0, body: new Uint8Array() },
        { type: 0x23, flags: 1, body: new Uint8Array([9]) },
      ];
      const bytes = Buffer.concat(frames.map((f) => encodeFrame(f)));
      for (const b of bytes) {
        socket.write(Buffer.from([b]));
        await new Promise((r) => setTimeout(r, 1));
      }
      await until(() => got.length === 3);
      expect(got.map((f) => [f.type, f.flags, [...f.body]])).toEqual(frames.map((f) => [f.type, f.flags, [...f.body]]));
      socket.destroy();
    } finally {
      await listener.close();
    }
  });

  it('reports an oversize frame or a stream that is not VCL once, and reads nothing after it', async () => {
    const t = new TcpLinkTransport({ maxFrameBytes: 10 });
    const invalid: string[] = [];
    const frames: number[] = [];
    const listener = await t.listen('127.0.0.1', 0, (link) => {
      link.onFrame((f) => frames.push(f.body.length));
      link.onInvalid((e) => invalid.push(e.code));
    });
    try {
      const socket = net.connect(listener.port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      const ok = encodeFrame({ type: 0x25, body: new Uint8Array([5]) });
      const big = encodeFrame({ type: 0x22, body: new Uint8Array(11) });
      socket.write(Buffer.concat([ok, big, ok]));
      const http = net.connect(listener.port, '127.0.0.1');
      await new Promise((r) => http.once('connect', r));
      http.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => invalid.length === 2);
      await new Promise((r) => setTimeout(r, 30));
      expect(frames).toEqual([1]);
      expect(invalid.sort()).toEqual(['VCL_FRAME_TOO_LARGE', 'VCL_MALFORMED_FRAME']);
      socket.destroy();
      http.destroy();
    } finally {
      await listener.close();
    }
  });

  it('rejects a connect to a closed port, naming the member', async () => {
    const t = new TcpLinkTransport();
    const l = await t.listen('127.0.0.1', 0, () => undefined);
    await l.close();
    await expect(t.connect({ id: 'n9', host: '127.0.0.1', port: l.port })).rejects.toThrow(/member n9 at 127\.0\.0\.1/);
  });

  it('runs the interceptors over real TCP links, answering an oversize or malformed frame with a typed error frame', async () => {
    const clock = realClock();
    const order = new FakeTotalOrder({ clock, members: ['n1', 'n2'] });
    const transport = new TcpLinkTransport({ maxFrameBytes: 4096 });
    const substrate = lineSubstrate();
    const logger = new RecordingLogger();
    const services: ServiceInterceptor[] = [];
    const replicas = [new CounterService(), new CounterService()];
    const addresses: { id: string; host: string; port: number }[] = [];
    for (const [i, id] of ['n1', 'n2'].entries()) {
      await order.member(id).start();
      const s = new ServiceInterceptor({
        self: id,
        ordering: order.member(id),
        substrate,
        backend: replicas[i]!.backend(substrate),
        transport,
        listen: { host: '127.0.0.1', port: 0 },
        members: addresses,
        clock,
        logger,
      });
      await s.start();
      addresses.push({ id, ...s.address! });
      services.push(s);
    }
    const client = new ClientInterceptor({
      members: addresses,
      transport,
      substrate,
      clock,
      random: realRandom(),
      logger,
    });
    await client.start();
    try {
      const c = new LineClient(client.connect());
      for (let i = 1; i <= 3; i++) c.send(`t:${i}`, i);
      await until(() => c.responses.length === 3);
      expect(c.responses).toEqual(['t:1 1', 't:2 3', 't:3 6']);

      const raw: LinkConnection = await transport.connect(addresses[0]!);
      const frames: ReturnType<typeof decodeMemberFrame>[] = [];
      raw.onFrame((f) => frames.push(decodeMemberFrame(f)));
      // A frame over the member's limit, sent by hand (the transport would refuse to encode it).
      const socket = net.connect(addresses[0]!.port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      const answers: LinkFrame[] = [];
      const decoder = new FrameDecoder();
      socket.on('data', (d) => answers.push(...decoder.push(d)));
      socket.write(encodeFrame({ type: 0x22, body: new Uint8Array(5000) }));
      await until(() => answers.length === 1);
      expect(decodeMemberFrame(answers[0]!)).toMatchObject({ type: 'error', code: 'VCL_FRAME_TOO_LARGE', fatal: true });
      raw.send({ type: 0x22, flags: 0, body: new Uint8Array([1]) });
      await until(() => frames.length === 1);
      expect(frames[0]).toMatchObject({ type: 'error', code: 'VCL_MALFORMED_FRAME', fatal: true });

      c.send('t:4', 4);
      await until(() => c.responses.length === 4);
      expect(replicas.map((r) => r.digest())).toEqual([replicas[0]!.digest(), replicas[0]!.digest()]);
    } finally {
      await client.stop();
      for (const s of services) await s.stop();
    }
  });
});
