import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseStack } from '../../config/load-stack';
import { ConfigError } from '../../errors';
import { PluginRegistry } from '../../registry/plugin-registry';
import { realClock } from '../../runtime/real-clock';
import { FakeTotalOrder, fakeOrderingRegistration } from '../../testing/vcl/fake-total-order';
import { lineSubstrate } from '../../testing/vcl/line-substrate';
import { RecordingLogger } from '../../testing/vcl/recording-logger';
import { handlerBackend } from '../backend';
import type { Conversation } from '../../contracts/substrate';
import { startClientInterceptor, startServiceMember, type ServiceMember } from '../deployment';
import { resolveDependencies } from './dependencies';
import { freePorts } from '../../testing/process/harness';

const base = (deps: string, members = '') => `
group:
  name: a
  members:
    - { id: n1, host: 127.0.0.1, port: 7001, clientPort: 7002 }
    - { id: n2, host: 127.0.0.1, port: 7011, clientPort: 7012 }
${members}substrate: { plugin: tcp, options: { framing: line } }
service: { endpoint: { host: 127.0.0.1, port: 7003 } }
client: { listen: { port: 7004 } }
${deps}`;

function issues(yaml: string): string[] {
  try {
    parseStack(yaml, 'a.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((i) => `${i.path}: ${i.message}${i.hint ? ` (hint: ${i.hint})` : ''}`);
  }
  return [];
}

describe('dependencies: in the stack file', () => {
  it('accepts both modes and fills the defaults', () => {
    const stack = parseStack(
      base(`dependencies:
  - { name: b, mode: replicated, members: [{ id: b1, host: 127.0.0.1, port: 9001 }], listen: { host: 127.0.0.1, port: 7100 } }
  - name: plain
    mode: exclusive
    target: { host: 127.0.0.1, port: 9100 }
    memberListen: { n2: { host: 127.0.0.1, port: 7201 } }
`),
      'a.yaml',
    );
    expect(stack.dependencies).toEqual([
      {
        name: 'b',
        mode: 'replicated',
        members: [{ id: 'b1', host: '127.0.0.1', port: 9001 }],
        listen: { host: '127.0.0.1', port: 7100 },
        idempotent: false,
      },
      {
        name: 'plain',
        mode: 'exclusive',
        target: { host: '127.0.0.1', port: 9100 },
        idempotent: false,
        memberListen: { n2: { host: '127.0.0.1', port: 7201 } },
      },
    ]);
    expect(parseStack(base(''), 'a.yaml').dependencies).toBeUndefined();
  });

  it('reports every misconfigured dependency with its path', () => {
    const found = issues(
      base(`dependencies:
  - { name: "x:y", mode: exclusive, target: { host: h, port: 1 } }
  - { name: b, mode: replicated }
  - { name: c, mode: exclusive, stack: b.yaml }
  - { name: b, mode: replicated, stack: b.yaml, target: { host: h, port: 1 } }
  - { name: e, mode: sometimes, target: { host: h, port: 1 } }
`),
    );
    const text = found.join('\n');
    expect(text).toMatch(/dependencies\[0\]\.name.*must not contain ":"/);
    expect(text).toMatch(/dependencies\[1\]\.stack.*exactly one of stack/);
    expect(text).toMatch(/dependencies\[2\]\.target.*needs target/);
    expect(text).toMatch(/dependencies\[2\]\.stack.*only applies to a replicated/);
    expect(text).toMatch(/dependencies\[3\]\.target.*only applies to an exclusive/);
    expect(text).toMatch(/dependencies\[4\]\.mode/);
    // Checks across entries run once every entry is well-formed.
    const across = issues(
      base(`dependencies:
  - { name: b, mode: replicated, stack: b.yaml }
  - { name: b, mode: exclusive, target: { host: h, port: 1 }, memberListen: { n9: { host: h, port: 2 } } }
`),
    ).join('\n');
    expect(across).toMatch(/dependencies\[1\]\.name.*duplicate dependency name "b"/);
    expect(across).toMatch(/dependencies\[1\]\.memberListen\.n9.*not a member.*n1, n2/);
  });

  it("resolves a replicated dependency's members from its stack file and a member's own listen address", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vcl-deps-'));
    try {
      await fs.writeFile(
        path.join(dir, 'b.yaml'),
        `group:\n  name: b\n  members:\n    - { id: b1, host: 127.0.0.1, port: 8001, clientPort: 8002 }\n    - { id: b2, host: 127.0.0.1, port: 8011, clientPort: 8012 }\nsubstrate: { plugin: tcp }\nservice: { endpoint: { host: 127.0.0.1, port: 8003 } }\nclient: { listen: { port: 8004 } }\n`,
      );
      const stack = parseStack(
        base(`dependencies:
  - name: b
    mode: replicated
    stack: b.yaml
    listen: { host: 127.0.0.1, port: 7100 }
    memberListen: { n2: { host: 127.0.0.1, port: 7101 } }
  - { name: plain, mode: exclusive, target: { host: 127.0.0.1, port: 9100 }, idempotent: true, failureResponse: "ERR\\n" }
`),
        'a.yaml',
      );
      const source = path.join(dir, 'a.yaml');
      const [b, plain] = await resolveDependencies(stack, 'n2', source);
      expect(b).toEqual({
        name: 'b',
        mode: 'replicated',
        members: [
          { id: 'b1', host: '127.0.0.1', port: 8002 },
          { id: 'b2', host: '127.0.0.1', port: 8012 },
        ],
        listen: { host: '127.0.0.1', port: 7101 },
      });
      expect(plain).toMatchObject({
        mode: 'exclusive',
        idempotent: true,
        failureResponse: new TextEncoder().encode('ERR\n'),
      });
      expect((await resolveDependencies(stack, 'n1', source))[0]!.listen).toEqual({ host: '127.0.0.1', port: 7100 });
    } finally {
      await fs.rm(dir, { recursive: true });
    }
  });
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('internal mode: a program with the member linked in calls a dependency through member.outbound', () => {
  it('every call lands once on a plain counter, also after the calling member stops', async () => {
    const ports = await freePorts(7);
    const yaml = `
group:
  name: a
  members:
    - { id: n1, host: 127.0.0.1, port: ${ports[0]}, clientPort: ${ports[1]} }
    - { id: n2, host: 127.0.0.1, port: ${ports[2]}, clientPort: ${ports[3]} }
    - { id: n3, host: 127.0.0.1, port: ${ports[4]}, clientPort: ${ports[5]} }
ordering: { plugin: fake }
substrate: { plugin: tcp, options: { framing: line } }
service: { endpoint: { host: 127.0.0.1, port: 1 } }
client: { listen: { host: 127.0.0.1, port: ${ports[6]} }, failoverTimeoutMs: 3000 }
timeouts: { heartbeatMs: 50, suspectMs: 400 }
dependencies:
  - { name: plain, mode: exclusive, target: { host: 127.0.0.1, port: PLAIN } }
`;
    // The plain counter: applies each call on arrival, records the tags.
    const applied: string[] = [];
    let total = 0;
    const server = net.createServer((socket) => {
      let held = '';
      socket.on('data', (d) => {
        held += d.toString();
        const lines = held.split('\n');
        held = lines.pop()!;
        for (const line of lines) {
          applied.push(line.split(' ')[0]!);
          total += Number(line.split(' ')[1]);
          socket.write(`${line.split(' ')[0]} ${total}\n`);
        }
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const stack = parseStack(yaml.replace('PLAIN', String((server.address() as net.AddressInfo).port)), 'a.yaml');
    const order = new FakeTotalOrder({ clock: realClock(), members: ['n1', 'n2', 'n3'], detectMs: 20 });
    const registry = new PluginRegistry();
    registry.add(fakeOrderingRegistration(order));
    const logger = new RecordingLogger();
    const framer = () => lineSubstrate().requestFramer();
    const members = new Map<string, ServiceMember>();
    for (const id of ['n1', 'n2', 'n3']) {
      // The replica: per request, one call on its (single) dependency connection, answered with the reply.
      let dep: Conversation | undefined;
      const waiting: ((line: string) => void)[] = [];
      let held = '';
      const backend = handlerBackend(framer, (request) => {
        if (!dep) {
          dep = members.get(id)!.outbound!.connect('plain');
          dep.onData((b) => {
            held += new TextDecoder().decode(b);
            const lines = held.split('\n');
            held = lines.pop()!;
            for (const l of lines) waiting.shift()?.(l);
          });
          dep.onEnd(() => undefined);
        }
        const answer = new Promise<Uint8Array>((resolve) =>
          waiting.push((l) => resolve(new TextEncoder().encode(`${l}\n`))),
        );
        dep.write(request);
        return answer;
      });
      members.set(
        id,
        await startServiceMember({
          stack,
          member: id,
          registry,
          logger,
          backend,
          network: nullNetwork(id),
          admin: false,
        }),
      );
    }
    const client = await startClientInterceptor({ stack, registry, logger });
    const socket = net.connect(ports[6]!, '127.0.0.1');
    try {
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
      expect(members.get('n1')!.outbound!.counters.callsSent).toBe(3);
      order.crash('n1');
      await members.get('n1')!.stop();
      for (let i = 4; i <= 6; i++) socket.write(`a:${i} ${i}\n`);
      await until(() => lines.length === 6);
      expect(lines).toEqual(['a:1 1', 'a:2 3', 'a:3 6', 'a:4 10', 'a:5 15', 'a:6 21']);
      expect(applied).toEqual(['a:1', 'a:2', 'a:3', 'a:4', 'a:5', 'a:6']);
      expect(members.get('n2')!.outbound!.counters.callsSent).toBe(3);
      expect(members.get('n3')!.outbound!.counters.callsSent).toBe(0);
    } finally {
      socket.destroy();
      await client.stop();
      for (const m of members.values()) await m.stop().catch(() => undefined);
      server.close();
    }
  });
});

function nullNetwork(self: string) {
  return {
    self,
    incarnation: 1,
    members: [],
    start: async () => undefined,
    stop: async () => undefined,
    send: () => undefined,
    onMessage: () => undefined,
    onPeerDown: () => undefined,
  };
}
