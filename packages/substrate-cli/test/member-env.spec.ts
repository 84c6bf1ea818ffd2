import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  parseStack,
  PluginRegistry,
  realClock,
  startClientInterceptor,
  startServiceMember,
  type Network,
  type ServiceMember,
} from '@vcl/core';
import { FakeTotalOrder, fakeOrderingRegistration, freePorts, RecordingLogger } from '@vcl/core/testing';
import { execRemote, registration } from '../src';

// Issue #20: the service command got no VCL_MEMBER and the stack had no per-member command or
// working directory, so three replicas of a file-based command (sqlite3) needed three hand-made
// directories. Now `{member}` is expanded in service.command and service.cwd, the directory is
// created, and the command sees VCL_MEMBER and VCL_DATA_DIR.

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

describe('a cli service command run by each member', () => {
  it('runs in its member own directory with {member} expanded and VCL_MEMBER / VCL_DATA_DIR set', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-cli-member-'));
    const ports = await freePorts(5);
    // Every replica prints the same thing (so the replicas agree) and records what it saw in its cwd.
    const script = 'printf "%s %s %s %s\\n" "$1" "$VCL_MEMBER" "$VCL_DATA_DIR" "$STACK_ENV" > seen; echo ran "$2"';
    const stack = parseStack(
      `
group:
  name: files
  members:
    - { id: n1, host: 127.0.0.1, port: ${ports[0]}, clientPort: ${ports[1]} }
    - { id: n2, host: 127.0.0.1, port: ${ports[2]}, clientPort: ${ports[3]} }
ordering: { plugin: fake }
substrate: { plugin: cli }
service:
  command: [/bin/sh, -c, ${JSON.stringify(script)}, sh, 'arg-{member}']
  cwd: ${JSON.stringify(path.join(dir, 'work', '{member}'))}
  env: { STACK_ENV: from-stack }
  dataDir: ${JSON.stringify(path.join(dir, 'data'))}
client: { listen: { host: 127.0.0.1, port: ${ports[4]} } }
timeouts: { heartbeatMs: 100, suspectMs: 2000 }
`,
      'files.yaml',
    );
    const order = new FakeTotalOrder({ clock: realClock(), members: ['n1', 'n2'], detectMs: 20 });
    const registry = new PluginRegistry();
    registry.add(fakeOrderingRegistration(order));
    registry.add(registration);
    const logger = new RecordingLogger();
    const members: ServiceMember[] = [];
    for (const id of ['n1', 'n2'])
      members.push(await startServiceMember({ stack, member: id, registry, logger, network: nullNetwork(id) }));
    const client = await startClientInterceptor({ stack, registry, logger });
    try {
      // The directories exist before any command ran.
      for (const id of ['n1', 'n2']) expect(fs.statSync(path.join(dir, 'work', id)).isDirectory()).toBe(true);
      const result = await execRemote(
        { argv: ['hello'], stdin: new Uint8Array(0) },
        { endpoint: { host: '127.0.0.1', port: ports[4]! } },
      );
      expect(new TextDecoder().decode(result.stdout)).toBe('ran hello\n');
      expect(result.exitCode).toBe(0);
      // Both replicas ran it, each in its own directory, with its own id and data directory.
      for (const id of ['n1', 'n2']) {
        const seen = path.join(dir, 'work', id, 'seen');
        await until(() => fs.existsSync(seen) && fs.readFileSync(seen, 'utf8').endsWith('\n'));
        expect(fs.readFileSync(seen, 'utf8')).toBe(`arg-${id} ${id} ${path.join(dir, 'data', id)} from-stack\n`);
      }
    } finally {
      await client.stop();
      for (const m of members) await m.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
