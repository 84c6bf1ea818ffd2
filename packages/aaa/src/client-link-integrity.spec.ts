import * as net from 'node:net';
import {
  ClientInterceptor,
  realClock,
  ServiceInterceptor,
  TcpLinkTransport,
  type AuditEvent,
  type MemberAddress,
} from '@vcl/core';
import { CounterService, FakeTotalOrder, LineClient, lineSubstrate, RecordingLogger } from '@vcl/core/testing';
import { hmacLinkSecurity } from './hmac';

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A TCP relay to `port` that flips one bit of the next client→member chunk when `tamper` is set. */
async function tamperingRelay(port: number): Promise<{ port: number; tamper: () => void; close: () => Promise<void> }> {
  let armed = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(port, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => (inbound.destroy(), outbound.destroy()));
    }
    inbound.on('data', (chunk: Buffer) => {
      if (armed) {
        armed = false;
        chunk = Buffer.from(chunk);
        chunk[chunk.length - 1]! ^= 0x01;
      }
      outbound.write(chunk);
    });
    outbound.on('data', (chunk: Buffer) => inbound.write(chunk));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    tamper: () => (armed = true),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('an integrity failure on a client link (hmac)', () => {
  it('drops the link but not the session: the client-side interceptor reconnects and resumes, every response once and in order', async () => {
    const clock = realClock();
    const security = hmacLinkSecurity({ key: new Uint8Array(32).fill(7) });
    const order = new FakeTotalOrder({ clock, members: ['n1', 'n2'] });
    const substrate = lineSubstrate();
    const logger = new RecordingLogger();
    const audit: AuditEvent[] = [];
    const services: ServiceInterceptor[] = [];
    const replicas = [new CounterService(), new CounterService()];
    const direct: MemberAddress[] = [];
    for (const [i, id] of ['n1', 'n2'].entries()) {
      await order.member(id).start();
      const s = new ServiceInterceptor({
        self: id,
        ordering: order.member(id),
        substrate,
        backend: replicas[i]!.backend(substrate),
        transport: new TcpLinkTransport({ security, localId: id }),
        listen: { host: '127.0.0.1', port: 0 },
        members: direct,
        clock,
        logger,
        auditor: { audit: (e) => audit.push(e) },
      });
      await s.start();
      direct.push({ id, ...s.address! });
      services.push(s);
    }
    // The client reaches n1 through a relay that can tamper with what it sends.
    const relay = await tamperingRelay(direct[0]!.port);
    const client = new ClientInterceptor({
      members: [{ id: 'n1', host: '127.0.0.1', port: relay.port }, direct[1]!],
      transport: new TcpLinkTransport({ security }),
      substrate,
      clock,
      random: { next: () => 0 },
      logger,
    });
    await client.start();
    try {
      const c = new LineClient(client.connect());
      for (let i = 1; i <= 3; i++) c.send(`t:${i}`, i);
      await until(() => c.responses.length === 3);
      relay.tamper();
      for (let i = 4; i <= 8; i++) c.send(`t:${i}`, i);
      await until(() => c.responses.length === 8 || c.ended);
      expect(c.error).toBeUndefined();
      expect(c.responses).toEqual(Array.from({ length: 8 }, (_, i) => `t:${i + 1} ${((i + 1) * (i + 2)) / 2}`));
      expect(client.counters.failovers).toBeGreaterThanOrEqual(1);
      expect(services[0]!.counters.badInput).toBe(1);
      expect(audit.filter((e) => e.type === 'auth.failure' && /integrity/.test(e.reason ?? ''))).toHaveLength(1);
      expect(replicas[0]!.digest()).toBe(replicas[1]!.digest());
    } finally {
      await client.stop();
      for (const s of services) await s.stop();
      await relay.close();
    }
  });
});
