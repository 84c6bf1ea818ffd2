import { execFileSync } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { checkFailover, processFailoverHarness, type ProcessStackHandle, type RunningService } from '@vcl/core/testing';
import { MAX_MESSAGE_BYTES, startTcpService, tcpFixture } from './fixture';

// End to end with real processes: three `vcl service` members (sequencer) each in front of its own
// line service, one `vcl client`, and a real client on Node's `net`. The member the client's
// session is attached to is killed (SIGKILL) after 5 of 10 requests.

jest.setTimeout(60_000);

const root = path.resolve(__dirname, '../../..');

beforeAll(() => {
  execFileSync(
    'npx',
    ['tsc', '-b', ...['vcl-core', 'gcs-sequencer', 'substrate-tcp'].map((p) => `packages/${p}/tsconfig.lib.json`)],
    { cwd: root, stdio: 'inherit' },
  );
}, 240_000);

/** A line service that records every byte it receives (one entry per service). */
async function recordingService(seen: string[]): Promise<RunningService> {
  const service = await startTcpService('line');
  const at = seen.push('') - 1;
  service.server.prependListener('connection', (socket: net.Socket) =>
    socket.on('data', (d: Buffer) => (seen[at] += d.toString('utf8'))),
  );
  return service;
}

/** A `net` client that reads `\n`-terminated lines. */
class LineClient {
  readonly lines: string[] = [];
  ended = false;
  private held = '';
  private wake: (() => void) | undefined;

  constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      const parts = (this.held + d).split('\n');
      this.held = parts.pop()!;
      this.lines.push(...parts);
      this.wake?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  /** Sends `line` and resolves with the next line received. */
  async ask(line: string, timeoutMs = 20_000): Promise<string> {
    const want = this.lines.length + 1;
    this.socket.write(`${line}\n`);
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length < want) {
      if (this.ended) throw new Error(`connection closed waiting for the answer to ${line}`);
      if (Date.now() > deadline) throw new Error(`no answer to ${line} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 100);
      });
    }
    return this.lines[want - 1]!;
  }
}

async function until(what: string, test: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('tcp line substrate behind vcl service x3 + vcl client (real processes)', () => {
  let stack: ProcessStackHandle | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('a net client keeps its connection across a SIGKILL of its member and gets every answer exactly once, in order', async () => {
    const seen: string[] = [];
    stack = await processFailoverHarness({ plugin: 'tcp', options: { framing: 'line' } }).start({
      substrate: () => {
        throw new Error('the process harness starts the substrate in the vcl processes');
      },
      service: () => recordingService(seen),
      members: 3,
    });
    const socket = net.connect(stack.endpoint.port!, '127.0.0.1');
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new LineClient(socket);
    const requests = Array.from({ length: 10 }, (_, i) => `req ${i + 1}`);
    for (const r of requests.slice(0, 5)) await client.ask(r);
    const victim = await stack.servingMember();
    await stack.killServingMember();
    for (const r of requests.slice(5)) await client.ask(r);
    socket.end();

    expect(client.lines).toEqual(requests.map((r) => `ok ${r}`));
    expect(client.ended).toBe(false);
    expect(stack.failovers()).toBe(1);
    // Every surviving replica applied every request exactly once, in the one order.
    // (A replica that does not serve the client may still be applying the last request.)
    const survivors = (): (string | undefined)[] =>
      stack!.members.filter((m) => m.id !== victim.id).map((m) => seen[stack!.members.indexOf(m)]);
    await until('every survivor received the last request', () => survivors().every((t) => t?.includes('req 10\n')));
    expect(survivors()).toEqual([1, 2].map(() => requests.map((r) => `${r}\n`).join('')));
  });

  it("the conformance kit's fail-over check (length-prefixed framing, checkFailover) passes with the process harness", async () => {
    const fixture = tcpFixture('length-prefixed');
    await checkFailover({
      ...fixture,
      failover: processFailoverHarness({
        plugin: 'tcp',
        options: { framing: 'length-prefixed', maxMessageBytes: MAX_MESSAGE_BYTES },
      }),
    });
  });

  it('an oversize line ends that connection at the running client interceptor; other net clients are served throughout', async () => {
    const seen: string[] = [];
    stack = await processFailoverHarness({
      plugin: 'tcp',
      options: { framing: 'line', maxMessageBytes: MAX_MESSAGE_BYTES },
    }).start({
      substrate: () => {
        throw new Error('the process harness starts the substrate in the vcl processes');
      },
      service: () => recordingService(seen),
      members: 3,
    });
    const open = async (): Promise<LineClient> => {
      const socket = net.connect(stack!.endpoint.port!, '127.0.0.1');
      await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      return new LineClient(socket);
    };
    const a = await open();
    expect(await a.ask('a1')).toBe('ok a1');
    const b = await open();
    b.socket.write('y'.repeat(MAX_MESSAGE_BYTES + 1));
    await until('the oversize connection is closed', () => b.ended);
    expect(await a.ask('a2')).toBe('ok a2');
    const c = await open();
    expect(await c.ask('c1')).toBe('ok c1');
    expect(await a.ask('a3')).toBe('ok a3');
    a.socket.end();
    c.socket.end();
    expect(b.lines).toEqual([]);
    expect(a.ended).toBe(false);
    // No replica's service saw a byte of the oversize line.
    await until('every service saw the last request', () => seen.every((t) => t.includes('a3')));
    for (const t of seen) expect(t.includes('y')).toBe(false);
  });
});
