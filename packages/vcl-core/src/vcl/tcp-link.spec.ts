import * as net from 'node:net';
import { realClock, realRandom } from '../runtime/real-clock';
import { CounterService } from '../testing/vcl/counter-service';
import { FakeTotalOrder } from '../testing/vcl/fake-total-order';
import { LineClient } from '../testing/vcl/engine-harness';
import { lineSubstrate } from '../testing/vcl/line-substrate';
import { RecordingLogger } from '../testing/vcl/recording-logger';
import { ClientInterceptor } from './client-interceptor';
import type { LinkConnection } from './link';
import { decodeMemberFrame, encodeClientFrame } from './link-frames';
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
  it('carries whole frames however TCP cuts the stream', async () => {
    const t = new TcpLinkTransport();
    const got: number[][] = [];
    const listener = await t.listen('127.0.0.1', 0, (link) => link.onFrame((f) => got.push([...f])));
    try {
      // Hand-made stream: three frames (one empty) written one byte at a time.
      const socket = net.connect(listener.port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      const bytes = [0, 0, 0, 2, 7, 8, 0, 0, 0, 0, 0, 0, 0, 1, 9];
      for (const b of bytes) {
        socket.write(Buffer.from([b]));
        await new Promise((r) => setTimeout(r, 1));
      }
      await until(() => got.length === 3);
      expect(got).toEqual([[7, 8], [], [9]]);
      socket.destroy();
    } finally {
      await listener.close();
    }
  });

  it('reports an oversize frame once and reads nothing after it', async () => {
    const t = new TcpLinkTransport({ maxFrameBytes: 10 });
    const invalid: string[] = [];
    const frames: number[] = [];
    const listener = await t.listen('127.0.0.1', 0, (link) => {
      link.onFrame((f) => frames.push(f.length));
      link.onInvalid((e) => invalid.push(`${e.code}: ${e.message}`));
    });
    try {
      const socket = net.connect(listener.port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      socket.write(Buffer.from([0, 0, 0, 1, 5, 0, 0, 0, 11, 1, 2, 3, 0, 0, 0, 1, 5]));
      await until(() => invalid.length === 1);
      await new Promise((r) => setTimeout(r, 30));
      expect(frames).toEqual([1]);
      expect(invalid).toEqual(['VCL_FRAME_TOO_LARGE: link frame of 11 bytes exceeds the maximum of 10']);
      socket.destroy();
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

  it('runs the interceptors over real TCP links, answering an oversize frame with a typed error frame', async () => {
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
      raw.send(encodeClientFrame({ type: 'data', inSeq: 1, ackOutSeq: 0, bytes: new Uint8Array(5000) }));
      await until(() => frames.length === 1);
      expect(frames[0]).toMatchObject({ type: 'error', code: 'VCL_FRAME_TOO_LARGE', fatal: true });

      c.send('t:4', 4);
      await until(() => c.responses.length === 4);
      expect(replicas.map((r) => r.digest())).toEqual([replicas[0]!.digest(), replicas[0]!.digest()]);
    } finally {
      await client.stop();
      for (const s of services) await s.stop();
    }
  });
});
