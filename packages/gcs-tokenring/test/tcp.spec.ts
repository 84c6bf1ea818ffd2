import * as net from 'node:net';
import {
  createOrderingMember,
  realClock,
  realRandom,
  silentLogger,
  tcpNetwork,
  type Delivery,
  type OrderingProtocol,
  type TcpNetwork,
} from '@vcl/core';
import { tokenRing } from '../src';

// The plugin on real TCP links over loopback with the real clock: nothing in it depends on the
// simulator. (The multi-process kill/freeze test lives with the shared harness.)

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

async function waitFor(what: string, done: () => boolean, timeoutMs = 15000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('token ring over TCP (loopback, real clock)', () => {
  const ids = ['n1', 'n2', 'n3'];
  const networks: TcpNetwork[] = [];
  const members: OrderingProtocol[] = [];
  const delivered = new Map<string, string[]>();

  afterAll(async () => {
    for (const m of members) await m.stop();
    for (const n of networks) await n.stop();
  });

  it('orders broadcasts from every member, then goes on without a stopped member', async () => {
    const ports = await freePorts(3);
    const topology = ids.map((id, i) => ({ id, host: '127.0.0.1', port: ports[i]! }));
    for (const id of ids) {
      const network = tcpNetwork({ self: id, members: topology, logger: silentLogger() });
      // Default timeouts: real time on a loaded machine stalls the event loop now and then.
      const member = createOrderingMember(tokenRing(), {
        group: { self: id, members: ids, partition: 'primary-component' },
        network,
        clock: realClock(),
        random: realRandom(),
        logger: silentLogger(),
      });
      delivered.set(id, []);
      member.onDeliver((d: Delivery) => delivered.get(id)!.push(new TextDecoder().decode(d.payload)));
      networks.push(network);
      members.push(member);
    }
    await Promise.all(networks.map((n) => n.start()));
    await Promise.all(members.map((m) => m.start()));
    await waitFor('the first view', () => members.every((m) => m.view()?.members.length === 3));

    const sent = Array.from({ length: 30 }, (_, i) => members[i % 3]!.broadcast(new TextEncoder().encode(`m${i}`)));
    const ordered = await Promise.all(sent);
    await waitFor('every delivery', () => ids.every((id) => delivered.get(id)!.length === 30));
    expect(delivered.get('n2')).toEqual(delivered.get('n1'));
    expect(delivered.get('n3')).toEqual(delivered.get('n1'));
    expect(new Set(ordered.map((o) => o.seq)).size).toBe(30);

    await members[2]!.stop();
    await networks[2]!.stop();
    await waitFor('a view without n3', () => members[0]!.view()?.members.join() === 'n1,n2');
    const after = await members[1]!.broadcast(new TextEncoder().encode('after'));
    expect(after.view).toBe(members[0]!.view()!.id);
    await waitFor('the last delivery', () => delivered.get('n1')!.length === 31);
    expect(delivered.get('n1')![30]).toBe('after');
  }, 60000);
});
