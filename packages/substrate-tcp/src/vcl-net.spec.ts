import * as net from 'node:net';
import { ClientInterceptor, InProcessService, realClock, realRandom, ServiceInterceptor } from '@vcl/core';
import { FakeTotalOrder, MemoryLinkTransport, RecordingLogger } from '@vcl/core/testing';
import { tcp } from './tcp-substrate';
import { vclNet, type VclSocket } from './vcl-net';

/** A line-based counter server written against `net`, exactly as it would run unreplicated. */
function counterServer(
  netModule: Pick<typeof net, 'createServer'> | ReturnType<typeof vclNet>,
  state: { total: number },
) {
  return (
    netModule.createServer as (l: (s: net.Socket | VclSocket) => void) => { listen: (...a: unknown[]) => unknown }
  )((socket) => {
    let held = '';
    socket.on('data', (chunk: Buffer) => {
      held += chunk.toString();
      const lines = held.split('\n');
      held = lines.pop()!;
      for (const line of lines) {
        state.total += Number(line);
        socket.write(`${state.total}\n`);
      }
    });
  });
}

describe('vclNet: the net-compatible internal API', () => {
  it('runs an unmodified net server and client replicated over three members', async () => {
    const clock = realClock();
    const order = new FakeTotalOrder({ clock, members: ['n1', 'n2', 'n3'] });
    const links = new MemoryLinkTransport({ clock });
    const { substrate } = tcp({ framing: 'line' });
    const addresses = ['n1', 'n2', 'n3'].map((id, i) => ({ id, host: id, port: 9000 + i }));
    const states = addresses.map(() => ({ total: 0 }));
    const services: ServiceInterceptor[] = [];
    for (const [i, a] of addresses.entries()) {
      const port = new InProcessService();
      counterServer(vclNet({ service: port }), states[i]!).listen(1234);
      await order.member(a.id).start();
      const s = new ServiceInterceptor({
        self: a.id,
        ordering: order.member(a.id),
        substrate,
        backend: port.backend,
        transport: links,
        listen: { host: a.host, port: a.port },
        members: addresses,
        clock,
        logger: new RecordingLogger(),
      });
      await s.start();
      services.push(s);
    }
    const client = new ClientInterceptor({
      members: addresses,
      transport: links,
      substrate,
      clock,
      random: realRandom(),
      logger: new RecordingLogger(),
    });
    await client.start();
    try {
      const socket = vclNet({ client }).connect(1234, 'localhost');
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      const lines: string[] = [];
      let held = '';
      socket.on('data', (chunk: Buffer) => {
        held += chunk.toString();
        const parts = held.split('\n');
        held = parts.pop()!;
        lines.push(...parts);
      });
      for (let i = 1; i <= 5; i++) socket.write(`${i}\n`);
      const deadline = Date.now() + 3000;
      while (lines.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(lines).toEqual(['1', '3', '6', '10', '15']);
      expect(states.map((s) => s.total)).toEqual([15, 15, 15]);
      // The client side learns of the session's close over its link, after the members have
      // ordered it: wait for the socket's own end before stopping the interceptor under it.
      let timer: NodeJS.Timeout | undefined;
      const closed = new Promise<string>((resolve) => {
        socket.once('error', (e) => resolve(`error: ${e.message}`));
        socket.once('close', () => resolve('closed'));
        timer = setTimeout(() => resolve('still open after 3 s'), 3000);
      }).finally(() => clearTimeout(timer));
      socket.end();
      expect(await closed).toBe('closed');
      const closedBy = Date.now() + 2000;
      while (services.some((s) => s.status().sessions.length > 0) && Date.now() < closedBy)
        await new Promise((r) => setTimeout(r, 5));
      expect(services.map((s) => s.status().sessions.length)).toEqual([0, 0, 0]);
    } finally {
      await client.stop();
      for (const s of services) await s.stop();
    }
  });
});
