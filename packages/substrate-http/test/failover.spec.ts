import { execFileSync } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { checkFailover, processFailoverHarness, type ProcessStackHandle, type RunningService } from '@vcl/core/testing';
import { fixture, startService, TEST_LIMITS } from './fixture';

// End to end with real processes: three `vcl service` members (sequencer) each in front of its own
// node:http service, one `vcl client` speaking HTTP to real clients (node:http with one keep-alive
// connection, raw sockets for malformed input). One stack serves every test of this file.

jest.setTimeout(60_000);

const root = path.resolve(__dirname, '../../..');

/** Every request line each member's service saw, one entry per member. */
const seen: string[][] = [];
let stack: ProcessStackHandle;

async function recordingService(): Promise<RunningService> {
  const service = await startService();
  const lines: string[] = [];
  seen.push(lines);
  service.server.prependListener('request', (req: http.IncomingMessage) => lines.push(`${req.method} ${req.url}`));
  return service;
}

beforeAll(async () => {
  execFileSync(
    'npx',
    ['tsc', '-b', ...['vcl-core', 'gcs-sequencer', 'substrate-http'].map((p) => `packages/${p}/tsconfig.lib.json`)],
    { cwd: root, stdio: 'inherit' },
  );
  stack = await processFailoverHarness({ plugin: 'http', options: { ...TEST_LIMITS } }).start({
    substrate: () => {
      throw new Error('the process harness starts the substrate in the vcl processes');
    },
    service: recordingService,
    members: 3,
  });
}, 240_000);

afterAll(() => stack?.stop());

/** One request over `agent`; resolves with the status, the body and the socket it used. */
function request(
  agent: http.Agent,
  method: string,
  urlPath: string,
  body?: string,
): Promise<{ status: number; body: string; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: stack.endpoint.port, method, path: urlPath, agent, timeout: 20_000 },
      (res) => {
        let got = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (got += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: got, socket: req.socket as net.Socket }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: no response within 20 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Writes `raw` on a fresh connection and resolves with everything received until the server closes. */
function rawExchange(raw: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(stack.endpoint.port!, '127.0.0.1');
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (got += d));
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
    socket.setTimeout(20_000, () => socket.destroy(new Error('no end within 20 s')));
    socket.write(raw);
  });
}

async function until(what: string, test: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('http substrate behind vcl service x3 + vcl client (real processes)', () => {
  it('a node:http keep-alive client keeps its one connection across a SIGKILL of its member and gets every response exactly once, in order', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<net.Socket>();
    const requests = Array.from({ length: 10 }, (_, i) =>
      i % 2 ? { method: 'POST', path: `/f${i + 1}`, body: 'x'.repeat(i + 1) } : { method: 'GET', path: `/f${i + 1}` },
    );
    const bodies: string[] = [];
    for (const [i, r] of requests.entries()) {
      if (i === 5) await stack.killServingMember();
      const res = await request(agent, r.method, r.path, r.body);
      expect(res.status).toBe(200);
      bodies.push(res.body);
      sockets.add(res.socket);
    }
    agent.destroy();
    expect(bodies).toEqual(requests.map((r) => `${r.method} ${r.path} ${r.body?.length ?? 0}\n`));
    expect(sockets.size).toBe(1);
    expect(stack.failovers()).toBe(1);
    // Every surviving replica's service saw every request exactly once, in order.
    const lines = requests.map((r) => `${r.method} ${r.path}`);
    // (A replica that does not serve the client may still be applying the last request.)
    const survivors = stack.members.filter((m) => !m.killed).map((m) => seen[stack.members.indexOf(m)]!);
    await until('every survivor saw the last request', () => survivors.every((l) => l.length >= lines.length));
    expect(survivors).toEqual([lines, lines]);
  });

  it('a bad request line gets 400 and an oversize body 413 from the running client interceptor; a concurrent keep-alive client is served throughout', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const before = await request(agent, 'GET', '/m1');
    const bad = await rawExchange('GARBAGE\r\n\r\n');
    const mid = await request(agent, 'GET', '/m2');
    const oversize = await rawExchange(
      `POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: ${TEST_LIMITS.maxBodyBytes! + 1}\r\n\r\n${'b'.repeat(TEST_LIMITS.maxBodyBytes! + 1)}`,
    );
    const after = await request(agent, 'POST', '/m3', 'ok');
    agent.destroy();
    expect(bad).toMatch(/^HTTP\/1\.1 400 /);
    expect(oversize).toMatch(/^HTTP\/1\.1 413 /);
    expect([before, mid, after].map((r) => [r.status, r.body])).toEqual([
      [200, 'GET /m1 0\n'],
      [200, 'GET /m2 0\n'],
      [200, 'POST /m3 2\n'],
    ]);
    expect(new Set([before.socket, mid.socket, after.socket]).size).toBe(1);
    // The services never saw the rejected input.
    for (const m of stack.members.filter((x) => !x.killed))
      expect(seen[stack.members.indexOf(m)]!.filter((l) => l.includes('/big') || l.startsWith('GARBAGE'))).toEqual([]);
  });

  it("the conformance kit's fail-over check (checkFailover) passes with the process harness", async () => {
    await checkFailover({
      ...fixture,
      failover: processFailoverHarness({ plugin: 'http', options: { ...TEST_LIMITS } }),
    });
  });
});
