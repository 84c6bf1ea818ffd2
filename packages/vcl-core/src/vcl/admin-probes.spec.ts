import * as http from 'node:http';
import { parseStack } from '../config/load-stack';
import type { Network } from '../contracts/network';
import { PluginRegistry } from '../registry/plugin-registry';
import { realClock } from '../runtime/real-clock';
import { freePorts } from '../testing/process/harness';
import { FakeTotalOrder, fakeOrderingRegistration } from '../testing/vcl/fake-total-order';
import { RecordingLogger } from '../testing/vcl/recording-logger';
import { readiness, type MemberStatus } from './admin';
import { startServiceMember, type ServiceMember } from './deployment';

const nullNetwork = (self: string): Network => ({
  self,
  incarnation: 1,
  members: [],
  start: async () => undefined,
  stop: async () => undefined,
  send: () => undefined,
  onMessage: () => undefined,
  onPeerDown: () => undefined,
});

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('/healthz and /readyz', () => {
  it('healthz answers while the process is up; readyz is 200 in a primary view, 503 with the reason once the member is left in a minority', async () => {
    const ports = await freePorts(8);
    const stack = parseStack(
      `
group:
  name: probes
  members:
    - { id: n1, host: 127.0.0.1, port: ${ports[0]}, clientPort: ${ports[1]}, adminPort: ${ports[2]} }
    - { id: n2, host: 127.0.0.1, port: ${ports[3]}, clientPort: ${ports[4]} }
    - { id: n3, host: 127.0.0.1, port: ${ports[5]}, clientPort: ${ports[6]} }
ordering: { plugin: fake }
substrate: { plugin: tcp, options: { framing: line } }
service: { endpoint: { host: 127.0.0.1, port: ${ports[7]} } }
client: { listen: { port: 1 } }
timeouts: { heartbeatMs: 100, suspectMs: 2000 }
`,
      'probes.yaml',
    );
    const order = new FakeTotalOrder({ clock: realClock(), members: ['n1', 'n2', 'n3'], detectMs: 20 });
    const registry = new PluginRegistry();
    registry.add(fakeOrderingRegistration(order));
    const logger = new RecordingLogger();
    const members: ServiceMember[] = [];
    const start = async (id: string): Promise<void> =>
      void members.push(await startServiceMember({ stack, member: id, registry, logger, network: nullNetwork(id) }));
    try {
      await start('n1');
      const admin = ports[2]!;
      expect(await get(admin, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
      await until(async () => (await get(admin, '/readyz')).status === 200);
      expect(JSON.parse((await get(admin, '/readyz')).body)).toEqual({ ready: true, reasons: [] });
      expect((await get(admin, '/metrics')).body).toMatch(/^vcl_ready 1$/m);

      // The other two members fail: n1 is left in a minority view and must not get clients.
      order.crash('n2');
      order.crash('n3');
      await until(async () => (await get(admin, '/readyz')).status === 503);
      expect(JSON.parse((await get(admin, '/readyz')).body)).toEqual({
        ready: false,
        reasons: [expect.stringMatching(/^in a minority view #\d+ \[n1\]$/)],
      });
      expect((await get(admin, '/metrics')).body).toMatch(/^vcl_ready 0$/m);
      expect(await get(admin, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    } finally {
      for (const m of members) await m.stop();
    }
  });

  it('readiness names every reason: not listening, no view, catching up, refused', () => {
    const base = { group: 'g', self: 'n1', sessions: [], cacheBytes: 0, links: 0 } as unknown as MemberStatus;
    expect(readiness(base, false).reasons).toEqual([
      'not accepting client-side interceptors (stopped or not started)',
      'no view installed yet (joining the group)',
    ]);
    const view = { id: 4, members: ['n1', 'n2'], primary: true, cut: 0 };
    expect(readiness({ ...base, view } as MemberStatus, true)).toEqual({ ready: true, reasons: [] });
    const catching = { ...base, view, recovery: { mode: 'snapshot', phase: 'catching-up' } } as unknown as MemberStatus;
    expect(readiness(catching, true).reasons).toEqual(['catching up with the group (installing its state)']);
    const refused = {
      ...base,
      view,
      recovery: { mode: 'none', phase: 'refused', error: 'service.recovery is none' },
    } as unknown as MemberStatus;
    expect(readiness(refused, true).reasons).toEqual(['refused to join the running group: service.recovery is none']);
  });
});

async function until(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
