import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli, type CliIo } from './run';

// Issue #20: a busy client port, admin port or client.listen printed a raw Node stack trace
// (`Error: listen EADDRINUSE ... at Server.setupListenHandle`). Each must be one line naming the
// address and the stack field, exit 1, and leave nothing of the member listening.

function io(): CliIo & { readonly errText: () => string } {
  const err: string[] = [];
  return {
    out: () => undefined,
    err: (t) => void err.push(t),
    stopSignal: () => new Promise(() => undefined),
    errText: () => err.join(''),
  };
}

function listenOn(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => listenOn(0)));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

describe('a port in use', () => {
  let dir: string;
  let file: string;
  let ports: { port: number; clientPort: number; adminPort: number; listen: number; service: number };
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vcl-listen-'));
    file = path.join(dir, 'stack.yaml');
    const [port, clientPort, adminPort, listen, service, p2, p3] = await freePorts(7);
    ports = { port: port!, clientPort: clientPort!, adminPort: adminPort!, listen: listen!, service: service! };
    await fs.writeFile(
      file,
      [
        'group:',
        '  name: g',
        '  members:',
        `    - { id: n1, host: 127.0.0.1, port: ${port}, clientPort: ${clientPort}, adminPort: ${adminPort} }`,
        `    - { id: n2, host: 127.0.0.1, port: ${p2}, clientPort: ${p3} }`,
        'ordering: { plugin: sequencer }',
        'substrate: { plugin: tcp, options: { framing: line } }',
        `service: { endpoint: { host: 127.0.0.1, port: ${service} } }`,
        `client: { listen: { host: 127.0.0.1, port: ${listen} } }`,
        '',
      ].join('\n'),
    );
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it.each([
    ['port', 'group.members[0].port'],
    ['clientPort', 'group.members[0].clientPort'],
    ['adminPort', 'group.members[0].adminPort'],
  ] as const)('vcl service with its %s taken: one line naming %s, exit 1, nothing left bound', async (which, field) => {
    const taken = ports[which];
    const blocker = await listenOn(taken);
    try {
      const cli = io();
      expect(await runCli(['service', '--config', file, '--member', 'n1', '--log-level', 'silent'], cli)).toBe(1);
      const text = cli.errText();
      expect(text).toContain(`cannot listen on 127.0.0.1:${taken} (${field}`);
      expect(text).toMatch(/address already in use \(EADDRINUSE\)/);
      expect(text).not.toMatch(/\n\s+at /);
      expect(text.trimEnd().split('\n')).toHaveLength(1);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    // The parts that did start were stopped: every other port of the member is free again.
    for (const p of [ports.port, ports.clientPort, ports.adminPort]) {
      const free = await listenOn(p);
      await new Promise((r) => free.close(r));
    }
  });

  it('vcl client with client.listen taken: one line naming client.listen, exit 1', async () => {
    const blocker = await listenOn(ports.listen);
    try {
      const cli = io();
      expect(await runCli(['client', '--config', file, '--log-level', 'silent'], cli)).toBe(1);
      expect(cli.errText()).toMatch(
        new RegExp(
          `^vcl client: vcl client \\(substrate tcp\\) cannot listen on 127\\.0\\.0\\.1:${ports.listen} \\(client\\.listen\\): address already in use`,
        ),
      );
      expect(cli.errText().trimEnd().split('\n')).toHaveLength(1);
      const flag = io();
      expect(
        await runCli(
          ['client', '--config', file, '--listen', `127.0.0.1:${ports.listen}`, '--log-level', 'silent'],
          flag,
        ),
      ).toBe(1);
      expect(flag.errText()).toContain('(the --listen flag)');
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
