import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { registrations as aaaRegistrations } from '@vcl/aaa';
import {
  parseStack,
  PluginRegistry,
  realClock,
  startClientInterceptor,
  startServiceMember,
  type Network,
  type ServiceMember,
} from '@vcl/core';
import { FakeTotalOrder, fakeOrderingRegistration, RecordingLogger } from '@vcl/core/testing';
import { registration as httpRegistration } from '@vcl/substrate-http';

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, async () => {
      const s = net.createServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
      return s;
    }),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** One replica of the real service: records every request it sees. */
function recordingService(): Promise<{ server: http.Server; port: number; seen: string[] }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.end('ok');
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as net.AddressInfo).port, seen })),
  );
}

function request(port: number, method: string, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
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

/** A deployed group: three members in front of three recording replicas, on a fake total order. */
interface Deployment {
  dir: string;
  ports: number[];
  registry: PluginRegistry;
  logger: RecordingLogger;
  services: { server: http.Server; port: number; seen: string[] }[];
  members: ServiceMember[];
  stackFor(member: string, aaa?: string): ReturnType<typeof parseStack>;
  audits(): { type: string; member: string; principal?: string; reason?: string }[][];
  stop(): Promise<void>;
}

/** Starts members n1..n3 with the `aaa:` section `aaa(dir)` (YAML, indented two spaces). */
async function deploy(aaa: (dir: string) => string): Promise<Deployment> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-aaa-e2e-'));
  const ports = await freePorts(8);
  const stackFor = (member: string, section = aaa(dir)): ReturnType<typeof parseStack> =>
    parseStack(
      `
group:
  name: web
  members:
    - { id: n1, host: 127.0.0.1, port: ${ports[0]}, clientPort: ${ports[1]} }
    - { id: n2, host: 127.0.0.1, port: ${ports[2]}, clientPort: ${ports[3]} }
    - { id: n3, host: 127.0.0.1, port: ${ports[4]}, clientPort: ${ports[5]} }
ordering: { plugin: fake }
substrate: { plugin: http }
service: { endpoint: { host: 127.0.0.1, port: 1 } }
client: { listen: { host: 127.0.0.1, port: ${ports[6]} }, failoverTimeoutMs: 1500 }
aaa:
${section}
  audit: { file: ${path.join(dir, `audit-${member}.log`)} }
`,
      `web-${member}.yaml`,
    );
  const order = new FakeTotalOrder({ clock: realClock(), members: ['n1', 'n2', 'n3'], detectMs: 20 });
  const registry = new PluginRegistry();
  registry.add(httpRegistration);
  for (const r of aaaRegistrations) registry.add(r);
  registry.add(fakeOrderingRegistration(order));
  const services = await Promise.all([recordingService(), recordingService(), recordingService()]);
  const logger = new RecordingLogger();
  const members: ServiceMember[] = [];
  for (const [i, id] of ['n1', 'n2', 'n3'].entries())
    members.push(
      await startServiceMember({
        stack: stackFor(id),
        member: id,
        registry,
        logger,
        network: nullNetwork(id),
        serviceEndpoint: { host: '127.0.0.1', port: services[i]!.port },
        admin: false,
      }),
    );
  return {
    dir,
    ports,
    registry,
    logger,
    services,
    members,
    stackFor,
    audits: () =>
      ['n1', 'n2', 'n3'].map((id) => {
        const f = path.join(dir, `audit-${id}.log`);
        return fs.existsSync(f)
          ? fs
              .readFileSync(f, 'utf8')
              .trim()
              .split('\n')
              .map((l) => JSON.parse(l) as { type: string; member: string; principal?: string; reason?: string })
          : [];
      }),
    async stop() {
      for (const m of members) await m.stop().catch(() => undefined);
      for (const s of services) s.server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until every replica has seen `n` requests (or 5 s). */
async function seenEverywhere(d: Deployment, n: number): Promise<void> {
  const start = Date.now();
  while (d.services.some((s) => s.seen.length < n) && Date.now() - start < 5000)
    await new Promise((r) => setTimeout(r, 20));
}

// The HTTP substrate's describeRequest gives the policy each request's method and path before the
// request enters the total order: bob may GET /items/*, nothing else.
describe('AAA end to end over the HTTP substrate and the interceptors', () => {
  it('a denied HTTP request gets 403, is audited by the member that denied it, and never reaches a replica; an allowed one reaches all', async () => {
    const d = await deploy((dir) => {
      const tokens = path.join(dir, 'tokens');
      fs.writeFileSync(tokens, 'alice: alice-secret-0123456789\nbob: bob-secret-0123456789\n', { mode: 0o600 });
      return `  clients: { mode: token, tokensFile: ${tokens} }
  policy: [{ principal: alice, http: ['* /**'] }, { principal: bob, http: ['GET /items/*'] }]`;
    });
    const { ports, registry, logger, services } = d;
    // Two clients, each with its own interceptor and token.
    const client = await startClientInterceptor({
      stack: d.stackFor('client'),
      registry,
      logger,
      credentials: new TextEncoder().encode('alice-secret-0123456789'),
    });
    const bobClient = await startClientInterceptor({
      stack: d.stackFor('client'),
      registry,
      logger,
      listen: { host: '127.0.0.1', port: ports[7]! },
      credentials: new TextEncoder().encode('bob-secret-0123456789'),
    });
    try {
      const denied = await request(ports[7]!, 'DELETE', '/items/1');
      expect(denied.status).toBe(403);
      await new Promise((r) => setTimeout(r, 200));
      for (const s of services) expect(s.seen).toEqual([]);
      const allowed = await request(ports[7]!, 'GET', '/items/7?full=1');
      expect(allowed.status).toBe(200);
      await seenEverywhere(d, 1);
      for (const s of services) expect(s.seen).toEqual(['GET /items/7?full=1']);
      const audits = d.audits();
      const denials = audits.flat().filter((e) => e.type === 'authz.denied');
      expect(denials).toHaveLength(1);
      expect(denials[0]).toMatchObject({ principal: 'bob' });
      expect(denials[0]!.reason).toMatch(/^no rule allows client bob/);
      // Audited by the member that denied it, in its own log.
      const denier = denials[0]!.member;
      expect(audits[['n1', 'n2', 'n3'].indexOf(denier)]!.some((e) => e.type === 'authz.denied')).toBe(true);
    } finally {
      await client.stop();
      await bobClient.stop();
      await d.stop();
    }
  });

  // The stack's hmac link mode covers the client-side interceptor's link too, and `vcl client`
  // takes its token from aaa.client.tokenFile.
  it('hmac interceptor links and a token file: the right key and token reach every replica; a wrong key or token never reaches one and is audited', async () => {
    const d = await deploy((dir) => {
      const tokens = path.join(dir, 'tokens');
      fs.writeFileSync(tokens, 'alice: alice-secret-0123456789\n', { mode: 0o600 });
      fs.writeFileSync(path.join(dir, 'group.key'), 'k'.repeat(48), { mode: 0o600 });
      fs.writeFileSync(path.join(dir, 'wrong.key'), 'w'.repeat(48), { mode: 0o600 });
      fs.writeFileSync(path.join(dir, 'alice.token'), 'alice-secret-0123456789\n', { mode: 0o600 });
      fs.writeFileSync(path.join(dir, 'eve.token'), 'eve-guesses-0123456789\n', { mode: 0o600 });
      return `  link: { mode: hmac, keyFile: ${path.join(dir, 'group.key')} }
  clients: { mode: token, tokensFile: ${tokens} }
  client: { tokenFile: ${path.join(dir, 'alice.token')} }`;
    });
    const { ports, registry, logger, services, dir } = d;
    const clientSection = (key: string, token: string): string =>
      `  link: { mode: hmac, keyFile: ${path.join(dir, key)} }
  clients: { mode: token, tokensFile: ${path.join(dir, 'tokens')} }
  client: { tokenFile: ${path.join(dir, token)} }`;
    const alice = await startClientInterceptor({ stack: d.stackFor('client'), registry, logger });
    const wrongKey = await startClientInterceptor({
      stack: d.stackFor('client', clientSection('wrong.key', 'alice.token')),
      registry,
      logger,
      listen: { host: '127.0.0.1', port: ports[7]! },
    });
    try {
      const ok = await request(ports[6]!, 'GET', '/a');
      expect(ok.status).toBe(200);
      await seenEverywhere(d, 1);
      for (const s of services) expect(s.seen).toEqual(['GET /a']);

      const refused = await request(ports[7]!, 'GET', '/b').catch((e: Error) => ({ status: 0, body: e.message }));
      expect(refused.status).not.toBe(200);
      await wrongKey.stop();
      const eve = await startClientInterceptor({
        stack: d.stackFor('client', clientSection('group.key', 'eve.token')),
        registry,
        logger,
        listen: { host: '127.0.0.1', port: ports[7]! },
      });
      const badToken = await request(ports[7]!, 'GET', '/c').catch((e: Error) => ({ status: 0, body: e.message }));
      await eve.stop();
      expect(badToken.status).not.toBe(200);
      await new Promise((r) => setTimeout(r, 200));
      for (const s of services) expect(s.seen).toEqual(['GET /a']);
      const failures = d
        .audits()
        .flat()
        .filter((e) => e.type === 'auth.failure');
      expect(failures.some((e) => /hmac handshake|link authentication failed|refused/.test(e.reason ?? ''))).toBe(true);
      expect(failures.some((e) => /token/.test(e.reason ?? ''))).toBe(true);
      expect(logger.find('warn', 'client link authentication failed').length).toBeGreaterThan(0);
    } finally {
      await alice.stop();
      await d.stop();
    }
  });
});
