import * as net from 'node:net';
import { parseStack } from '../config/load-stack';
import type { Network } from '../contracts/network';
import { ConfigError } from '../errors';
import { PluginRegistry } from '../registry/plugin-registry';
import { realClock } from '../runtime/real-clock';
import { FakeTotalOrder, fakeOrderingRegistration } from '../testing/vcl/fake-total-order';
import { RecordingLogger } from '../testing/vcl/recording-logger';
import { startClientInterceptor, startClientInterceptors, startServiceMember, type ServiceMember } from './deployment';
import { freePorts } from '../testing/process/harness';

// Several substrates in one stack, assembled in one process: each substrate's service target and
// listen address, and the errors when one is missing. The `tcp` and `cli` plugins are loaded by
// name through the registry, as `vcl` does.

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

function fakeOrdering(order: FakeTotalOrder): PluginRegistry {
  const registry = new PluginRegistry();
  registry.add(fakeOrderingRegistration(order));
  return registry;
}

/** A line service answering `<prefix> <line>`. */
function lineService(prefix: string): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((socket) => {
    let held = '';
    socket.on('data', (chunk) => {
      held += chunk.toString();
      const lines = held.split('\n');
      held = lines.pop()!;
      for (const line of lines) socket.write(`${prefix} ${line}\n`);
    });
    socket.on('error', () => undefined);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as net.AddressInfo).port })),
  );
}

function stackText(ports: number[], substrates: string, service = 'endpoint: { host: 127.0.0.1, port: 1 }'): string {
  return `
group:
  name: multi
  members:
    - { id: n1, host: 127.0.0.1, port: ${ports[0]}, clientPort: ${ports[1]} }
ordering: { plugin: fake }
substrates:
${substrates}
service: { ${service} }
client: { listen: { host: 127.0.0.1, port: ${ports[2]} } }
timeouts: { heartbeatMs: 50, suspectMs: 400 }
`;
}

async function configError(p: Promise<unknown>): Promise<ConfigError> {
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (e instanceof ConfigError) return e;
  throw new Error(`expected a ConfigError, got ${String(e)}`);
}

describe('several substrates in one stack (one process)', () => {
  it('each substrate reaches its own service target; vcl client starts one listener per substrate, or only --substrate', async () => {
    const ports = await freePorts(5);
    const [main, admin] = await Promise.all([lineService('main'), lineService('admin')]);
    const stack = parseStack(
      stackText(
        ports,
        `  - { plugin: tcp, options: { framing: line }, listen: { host: 127.0.0.1, port: ${ports[3]} } }
  - plugin: tcp
    name: admin
    options: { framing: line }
    listen: { host: 127.0.0.1, port: ${ports[4]} }
    service: { endpoint: { host: 127.0.0.1, port: ${admin.port} } }`,
      ),
      'multi.yaml',
    );
    const order = new FakeTotalOrder({ clock: realClock(), members: ['n1'], detectMs: 20 });
    const registry = fakeOrdering(order);
    const logger = new RecordingLogger();
    const member: ServiceMember = await startServiceMember({
      stack,
      member: 'n1',
      registry,
      logger,
      network: nullNetwork('n1'),
      serviceEndpoint: { host: '127.0.0.1', port: main.port },
    });
    const clients = await startClientInterceptors({ stack, registry, logger });
    try {
      expect([...clients.bySubstrate.keys()]).toEqual(['tcp', 'admin']);
      expect([...clients.bySubstrate.values()].map((c) => c.endpoint?.port)).toEqual([ports[3], ports[4]]);
      const ask = (port: number, line: string): Promise<string> =>
        new Promise((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1', () => socket.write(`${line}\n`));
          socket.once('data', (d) => {
            resolve(d.toString());
            socket.end();
          });
          socket.on('error', reject);
        });
      expect(await ask(ports[3]!, 'hello')).toBe('main hello\n');
      expect(await ask(ports[4]!, 'hello')).toBe('admin hello\n');
      await clients.stop();
      const only = await startClientInterceptors({ stack, registry, logger, substrate: 'admin' });
      expect([...only.bySubstrate.keys()]).toEqual(['admin']);
      expect(await ask(ports[4]!, 'again')).toBe('admin again\n');
      await only.stop();
    } finally {
      await clients.stop();
      await member.stop();
      main.server.close();
      admin.server.close();
    }
  });

  it('several substrates need a listen address each (distinct), a known --substrate, and one choice for startClientInterceptor', async () => {
    const ports = [7001, 7002, 7003];
    const registry = fakeOrdering(new FakeTotalOrder({ clock: realClock(), members: ['n1'] }));
    const two = parseStack(
      stackText(
        ports,
        '  - { plugin: tcp, options: { framing: line } }\n  - { plugin: cli, service: { command: [x] } }',
      ),
      'multi.yaml',
    );
    const missing = await configError(startClientInterceptors({ stack: two, registry, source: 'multi.yaml' }));
    expect(missing.message).toBe(
      'multi.yaml: 2 problems\n' +
        '  - substrates[0].listen: missing; substrate "tcp" needs its own listen address: the stack has 2 substrates ' +
        '(hint: give every substrate listen: { host, port }, or start one with --substrate <name> --listen host:port)\n' +
        '  - substrates[1].listen: missing; substrate "cli" needs its own listen address: the stack has 2 substrates ' +
        '(hint: give every substrate listen: { host, port }, or start one with --substrate <name> --listen host:port)',
    );
    const same = parseStack(
      stackText(
        ports,
        '  - { plugin: tcp, listen: { host: 127.0.0.1, port: 7100 } }\n  - { plugin: cli, listen: { host: 127.0.0.1, port: 7100 }, service: { command: [x] } }',
      ),
      'multi.yaml',
    );
    expect(
      (await configError(startClientInterceptors({ stack: same, registry }))).issues.map((i) => i.message),
    ).toEqual(['127.0.0.1:7100 is also the listen address of substrate "tcp"']);
    expect(
      (await configError(startClientInterceptors({ stack: two, registry, substrate: 'ops' }))).issues[0]!.message,
    ).toBe('no substrate named "ops"; the stack has tcp, cli');
    expect(
      (await configError(startClientInterceptors({ stack: two, registry, listen: { host: '127.0.0.1', port: 0 } })))
        .issues[0]!.message,
    ).toBe('one listen address given for 2 substrates (tcp, cli)');
    expect(
      (await configError(startClientInterceptor({ stack: two, registry, listen: false }))).issues[0]!.message,
    ).toBe('the stack has 2 substrates (tcp, cli); say which one this client interceptor serves');
    // Internal mode with a chosen substrate needs no listen address at all.
    const internal = await startClientInterceptor({ stack: two, registry, listen: false, substrate: 'cli' });
    expect(internal.endpoint).toBeUndefined();
    expect(internal.options.substrateName).toBe('cli');
    await internal.stop();
  });

  it('a substrate whose service target does not fit what it dials is a ConfigError naming it, with a hint', async () => {
    const ports = [7001, 7002, 7003];
    const order = new FakeTotalOrder({ clock: realClock(), members: ['n1'] });
    const registry = fakeOrdering(order);
    const stack = parseStack(
      stackText(
        ports,
        '  - { plugin: tcp, options: { framing: line } }\n  - { plugin: cli }\n  - { plugin: tcp, name: side, options: { framing: line }, service: { command: [x] } }',
      ),
      'multi.yaml',
    );
    const e = await configError(
      startServiceMember({ stack, member: 'n1', registry, network: nullNetwork('n1'), source: 'multi.yaml' }),
    );
    expect(e.message).toBe(
      'multi.yaml: 2 problems\n' +
        '  - substrates[1].service: substrate "cli" (cli) runs a command for each request, but its service target is 127.0.0.1:1 ' +
        '(hint: give it its own target: substrates[1].service: { command: [argv] })\n' +
        '  - substrates[2].service: substrate "side" (tcp) connects to a host and port, but its service target is the command [x] ' +
        '(hint: give it its own target: substrates[2].service: { endpoint: { host, port } })',
    );
    // Two names that only clash once the plugins are loaded (a package name and a short name).
    const clash = parseStack(
      stackText(
        ports,
        '  - { plugin: tcp, options: { framing: line } }\n  - { plugin: "@vcl/substrate-tcp", options: { framing: line } }',
      ),
      'multi.yaml',
    );
    const c = await configError(
      startServiceMember({ stack: clash, member: 'n1', registry, network: nullNetwork('n1'), source: 'multi.yaml' }),
    );
    expect(c.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'substrates[1]: two substrates named "tcp" (also substrates[0])',
    ]);
  });
});
