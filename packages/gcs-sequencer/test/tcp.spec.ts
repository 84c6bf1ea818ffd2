// The plugin on the real TcpNetwork (loopback) and the real clock, in one process: no simulator.
import * as net from 'node:net';
import {
  createOrderingMember,
  realClock,
  realRandom,
  tcpNetwork,
  type Delivery,
  type Logger,
  type OrderingProtocol,
} from '@vcl/core';
import { sequencer } from '../src';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

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

async function until(what: string, done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('sequencer over the real TCP network', () => {
  it('forms a group, orders concurrent broadcasts identically, ignores a stall, and fails over when the sequencer stops', async () => {
    const ids = ['n1', 'n2', 'n3'];
    const ports = await freePorts(3);
    const members = ids.map((id, i) => ({ id, host: '127.0.0.1', port: ports[i]! }));
    const got = new Map<string, Delivery[]>();
    const nodes = ids.map((id) => {
      const network = tcpNetwork({ self: id, members, logger: silent });
      const m: OrderingProtocol = createOrderingMember(sequencer(), {
        group: { self: id, members: ids, partition: 'primary-component' },
        network,
        clock: realClock(),
        random: realRandom(),
        logger: silent,
      });
      got.set(id, []);
      m.onDeliver((d) => got.get(id)!.push(d));
      return { id, network, m };
    });
    try {
      for (const n of nodes) await n.network.start();
      for (const n of nodes) await n.m.start();
      await until('a view of three', () => nodes.every((n) => n.m.view()?.members.length === 3));
      const sent = nodes.flatMap((n) =>
        Array.from({ length: 50 }, (_, i) => n.m.broadcast(new TextEncoder().encode(`${n.id}-${i}`))),
      );
      await Promise.all(sent);
      await until('everything delivered everywhere', () => ids.every((id) => got.get(id)!.length === 150));
      const order = (id: string) => got.get(id)!.map((d) => `${d.seq}:${new TextDecoder().decode(d.payload)}`);
      expect(order('n2')).toEqual(order('n1'));
      expect(order('n3')).toEqual(order('n1'));

      // A stalled event loop (a busy machine) for twice the detection time raises no suspicion:
      // what a member did not hear while it was itself stalled says nothing about its peers.
      const viewBefore = nodes[0]!.m.view()!.id;
      const stallUntil = Date.now() + 1500;
      while (Date.now() < stallUntil) {
        /* busy */
      }
      await new Promise((r) => setTimeout(r, 1500));
      expect(nodes.map((n) => n.m.view()!.id)).toEqual([viewBefore, viewBefore, viewBefore]);
      expect(nodes.map((n) => n.m.status().role)).toEqual(['sequencer', 'member', 'member']);

      const started = Date.now();
      await nodes[0]!.m.stop();
      await nodes[0]!.network.stop();
      await until('a view without n1', () => nodes.slice(1).every((n) => n.m.view()?.members.join() === 'n2,n3'));
      const failover = Date.now() - started;
      const after = await nodes[2]!.m.broadcast(new TextEncoder().encode('after'));
      await until('delivered at n2', () => got.get('n2')!.some((d) => d.seq === after.seq));
      expect(order('n2')).toEqual(order('n3'));
      expect(failover).toBeLessThan(5000);
    } finally {
      for (const n of nodes) {
        await n.m.stop();
        await n.network.stop();
      }
    }
  });
});
