import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import { parseStack } from '../config/load-stack';
import type { Network } from '../contracts/network';
import { PluginRegistry } from '../registry/plugin-registry';
import { realClock } from '../runtime/real-clock';
import { collectStatus, runCli, type CliIo } from '../cli/run';
import { FakeTotalOrder, fakeOrderingRegistration } from '../testing/vcl/fake-total-order';
import { RecordingLogger } from '../testing/vcl/recording-logger';
import { startClientInterceptor, startServiceMember, type ServiceMember } from './deployment';
import { freePorts } from '../testing/process/harness';

/** The real (unreplicated) service: a line-based counter on TCP. */
function counterService(): Promise<{ server: net.Server; port: number; total: () => number }> {
  let total = 0;
  const server = net.createServer((socket) => {
    let held = '';
    socket.on('data', (chunk) => {
      held += chunk.toString();
      const lines = held.split('\n');
      held = lines.pop()!;
      for (const line of lines) {
        total += Number(line.split(' ')[1]);
        socket.write(`${line.split(' ')[0]} ${total}\n`);
      }
    });
    socket.on('error', () => undefined);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as net.AddressInfo).port, total: () => total }),
    ),
  );
}

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

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

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

describe('startServiceMember / startClientInterceptor (external mode, in one process)', () => {
  it('assembles members from a stack, carries a real TCP client through a member stop, and serves /status and /metrics', async () => {
    const ports = await freePorts(10);
    const yaml = `
group:
  name: counter
  members:
    - { id: n1, host: 127.0.0.1, port: ${ports[0]}, clientPort: ${ports[1]}, adminPort: ${ports[2]} }
    - { id: n2, host: 127.0.0.1, port: ${ports[3]}, clientPort: ${ports[4]}, adminPort: ${ports[5]} }
    - { id: n3, host: 127.0.0.1, port: ${ports[7]}, clientPort: ${ports[8]} }
ordering: { plugin: fake }
substrate: { plugin: tcp, options: { framing: line } }
service: { endpoint: { host: 127.0.0.1, port: 1 } }
client: { listen: { host: 127.0.0.1, port: ${ports[9]} }, failoverTimeoutMs: 3000 }
timeouts: { heartbeatMs: 100, suspectMs: 2000 }
`;
    const stack = parseStack(yaml, 'test.yaml');
    // A fake total order stands in for the ordering plugin; this test is about the assembly.
    const order = new FakeTotalOrder({ clock: realClock(), members: ['n1', 'n2', 'n3'], detectMs: 20 });
    const registry = new PluginRegistry();
    registry.add(fakeOrderingRegistration(order));
    const services = await Promise.all([counterService(), counterService(), counterService()]);
    const logger = new RecordingLogger();
    const members: ServiceMember[] = [];
    for (const [i, id] of ['n1', 'n2', 'n3'].entries()) {
      members.push(
        await startServiceMember({
          stack,
          member: id,
          registry,
          logger,
          network: nullNetwork(id),
          serviceEndpoint: { host: '127.0.0.1', port: services[i]!.port },
        }),
      );
    }
    const client = await startClientInterceptor({ stack, registry, logger });
    try {
      const socket = net.connect(ports[9]!, '127.0.0.1');
      const lines: string[] = [];
      let held = '';
      socket.on('data', (d) => {
        held += d.toString();
        const parts = held.split('\n');
        held = parts.pop()!;
        lines.push(...parts);
      });
      for (let i = 1; i <= 3; i++) socket.write(`a:${i} ${i}\n`);
      await until(() => lines.length === 3);

      const status = JSON.parse((await get(ports[2]!, '/status')).body);
      expect(status).toMatchObject({ group: 'counter', self: 'n1', ordering: { role: 'member' } });
      expect(status.sessions).toHaveLength(1);
      const metrics = (await get(ports[5]!, '/metrics')).body;
      expect(metrics).toMatch(/^vcl_sessions 1$/m);
      expect(metrics).toMatch(/^vcl_deliveries_total [1-9]\d*$/m);
      expect(metrics).toMatch(/^vcl_view_changes_total 1$/m);
      expect((await get(ports[2]!, '/nope')).status).toBe(404);

      const rows = await collectStatus(stack);
      expect(rows.map((r) => [r.member, r.status?.sessions.length ?? r.error])).toEqual([
        ['n1', 1],
        ['n2', 1],
        ['n3', 'no adminPort configured'],
      ]);

      // Stop the member the session is attached to: the client connection stays up.
      const attached = status.sessions[0].attached as string;
      const victim = members.find((m) => m.id === attached)!;
      order.crash(attached);
      await victim.stop();
      for (let i = 4; i <= 6; i++) socket.write(`a:${i} ${i}\n`);
      await until(() => lines.length === 6);
      expect(lines).toEqual(['a:1 1', 'a:2 3', 'a:3 6', 'a:4 10', 'a:5 15', 'a:6 21']);
      expect(client.counters.failovers).toBe(1);
      socket.destroy();
    } finally {
      await client.stop();
      for (const m of members) await m.stop().catch(() => undefined);
      for (const s of services) s.server.close();
    }
  });

  it('vcl status prints one line per member, and vcl check reports stack problems with their path', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = {
      out: (t) => void out.push(t),
      err: (t) => void err.push(t),
      stopSignal: () => new Promise(() => undefined),
    };
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vcl-cli-'));
    const file = path.join(dir, 'stack.yaml');
    await fs.writeFile(
      file,
      `group:\n  name: g\n  members:\n    - { id: n1, host: 127.0.0.1, port: 7001, clientPort: 7002, adminPort: 1 }\nsubstrate: { plugin: tcp }\nservice: { endpoint: { host: 127.0.0.1, port: 7003 } }\nclient: { listen: { port: 7004 } }\n`,
    );
    expect(await runCli(['status', '--config', file], io)).toBe(1);
    expect(out.join('')).toMatch(/^n1\s+unreachable/m);
    await fs.writeFile(file, `group:\n  name: g\n  members: []\nsubstrate: { plugin: tcp }\n`);
    expect(await runCli(['check', '--config', file], io)).toBe(1);
    expect(err.join('')).toMatch(/group\.members/);
    expect(await runCli(['service', '--config', file], io)).toBe(2);
    expect(err.join('')).toMatch(/needs --member/);
    expect(await runCli(['frobnicate', '--config', file], io)).toBe(2);
    expect(await runCli(['help'], io)).toBe(0);
    expect(out.join('')).toMatch(/usage: vcl/);
    await fs.rm(dir, { recursive: true });
  });
});
