import * as net from 'node:net';
import { parseStack } from '../config/load-stack';
import type { Network } from '../contracts/network';
import { PluginRegistry } from '../registry/plugin-registry';
import { realClock } from '../runtime/real-clock';
import { freePorts } from '../testing/process/harness';
import { FakeTotalOrder, fakeOrderingRegistration } from '../testing/vcl/fake-total-order';
import { RecordingLogger } from '../testing/vcl/recording-logger';
import { startClientInterceptor, startServiceMember, type ServiceMember } from './deployment';

// Issue #20: members started before their service said nothing, and a client's first request then
// hung for over 40 s although client.failoverTimeoutMs was 10 s (a member whose session had failed
// still welcomed the client's fail-over and never answered).

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

/** Sends one line and resolves with what happened first: an answer line, or the connection closing. */
function ask(port: number, line: string): Promise<{ answer?: string; closed?: true }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`${line}\n`));
    let held = '';
    socket.on('data', (d) => {
      held += d.toString();
      if (held.includes('\n')) {
        resolve({ answer: held.split('\n')[0]! });
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ closed: true }));
  });
}

describe('a service that is not up when its members start', () => {
  it('members warn what they wait for; the first request fails after connectMs + failoverTimeoutMs with a clear error; once the service is up it is served', async () => {
    const ports = await freePorts(7);
    const servicePort = ports[6]!;
    const stack = parseStack(
      `
group:
  name: late
  members:
    - { id: n1, host: 127.0.0.1, port: ${ports[0]}, clientPort: ${ports[1]} }
    - { id: n2, host: 127.0.0.1, port: ${ports[2]}, clientPort: ${ports[3]} }
ordering: { plugin: fake }
substrate: { plugin: tcp, options: { framing: line } }
service: { endpoint: { host: 127.0.0.1, port: ${servicePort} } }
client: { listen: { host: 127.0.0.1, port: ${ports[4]} }, failoverTimeoutMs: 1500 }
timeouts: { heartbeatMs: 100, suspectMs: 2000, connectMs: 300 }
`,
      'late.yaml',
    );
    const order = new FakeTotalOrder({ clock: realClock(), members: ['n1', 'n2'], detectMs: 20 });
    const registry = new PluginRegistry();
    registry.add(fakeOrderingRegistration(order));
    const logger = new RecordingLogger();
    const members: ServiceMember[] = [];
    for (const id of ['n1', 'n2'])
      members.push(await startServiceMember({ stack, member: id, registry, logger, network: nullNetwork(id) }));
    const client = await startClientInterceptor({ stack, registry, logger });
    let service: net.Server | undefined;
    try {
      // What each member waits for, with the address and the stack field that names it.
      await until(
        () => logger.find('warn', `waiting for the service at 127.0.0.1:${servicePort} (service.endpoint)`).length >= 2,
      );

      // No service anywhere: the request is not left hanging; the client side gives up with a clear error.
      expect(await ask(ports[4]!, 'a 1')).toEqual({ closed: true });
      const gaveUp = logger.find('error', 'giving up');
      expect(gaveUp).toHaveLength(1);
      expect(String(gaveUp[0]!.fields['err'])).toMatch(
        /^no member reachable for \d+ ms \(last: member n\d refused: VCL_UNAVAILABLE: service on n\d failed/,
      );
      expect(client.counters.unavailable).toBe(1);

      // The service comes up: members say so, and the next session is served.
      service = net.createServer((s) => s.on('data', (d) => s.write(`echo ${d}`)));
      await new Promise<void>((r) => service!.listen(servicePort, '127.0.0.1', r));
      await until(() => logger.find('info', 'service is up').length >= 2, 10_000);
      expect(await ask(ports[4]!, 'b 2')).toEqual({ answer: 'echo b 2' });
    } finally {
      await client.stop();
      for (const m of members) await m.stop();
      service?.close();
    }
  }, 30_000);

  it('a member started a moment before its service retries the dial and serves the first session', async () => {
    const ports = await freePorts(5);
    const servicePort = ports[4]!;
    const stack = parseStack(
      `
group:
  name: race
  members:
    - { id: n1, host: 127.0.0.1, port: ${ports[0]}, clientPort: ${ports[1]} }
ordering: { plugin: fake }
substrate: { plugin: tcp, options: { framing: line } }
service: { endpoint: { host: 127.0.0.1, port: ${servicePort} } }
client: { listen: { host: 127.0.0.1, port: ${ports[2]} } }
timeouts: { heartbeatMs: 100, suspectMs: 2000, connectMs: 20000 }
`,
      'race.yaml',
    );
    const order = new FakeTotalOrder({ clock: realClock(), members: ['n1'], detectMs: 20 });
    const registry = new PluginRegistry();
    registry.add(fakeOrderingRegistration(order));
    const logger = new RecordingLogger();
    const member = await startServiceMember({ stack, member: 'n1', registry, logger, network: nullNetwork('n1') });
    const client = await startClientInterceptor({ stack, registry, logger });
    const service = net.createServer((s) => s.on('data', (d) => s.write(`echo ${d}`)));
    try {
      const answer = ask(ports[2]!, 'c 3');
      // The session's dial is refused at least once before the service listens.
      await until(() => logger.find('debug', 'service refused a session; retrying').length >= 1);
      await new Promise<void>((r) => service.listen(servicePort, '127.0.0.1', r));
      expect(await answer).toEqual({ answer: 'echo c 3' });
    } finally {
      await client.stop();
      await member.stop();
      service.close();
    }
  }, 30_000);
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
