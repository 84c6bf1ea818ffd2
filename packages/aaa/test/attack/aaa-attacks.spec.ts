import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  createLogger,
  decodeMemberFrame,
  encodeClientFrame,
  loadStack,
  startClientInterceptor,
  tcpNetwork,
  TcpLinkTransport,
  type MemberFrame,
} from '@vcl/core';
import { LineClient } from '@vcl/core/testing';
// The multi-process harness lives with vcl-core's own e2e and attack suites (not a published API).
// eslint-disable-next-line @nx/enforce-module-boundaries
import { buildForProcesses, Deployment, httpGet, logLine } from '../../../vcl-core/test/e2e/harness';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { audited } from '../../../vcl-core/test/attack/attacks';
import { hmacLinkSecurity } from '../../src/hmac';

// Attacks on a group with link integrity (hmac) and client tokens, from the same network, against
// real `vcl service` processes: a valid token hijacking another principal's session, a client with
// a wrong key, rogue members with and without the key. Each asserts the refusal, the audit event,
// that no member left the view and that the good client kept being served.

jest.setTimeout(60_000);

const root = path.resolve(__dirname, '../../../..');
const secrets = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-aaa-attack-'));
const key = Buffer.alloc(32, 7);
const write = (name: string, data: string | Buffer): string => {
  const p = path.join(secrets, name);
  fs.writeFileSync(p, data, { mode: 0o600 });
  return p;
};
const keyFile = write('group.key', key);
const tokensFile = write('tokens', 'alice: alice-token-0123456789\nmallory: mallory-token-0123456789\n');
const auditFile = path.join(secrets, 'audit.jsonl');

const d = new Deployment({
  mode: 'external',
  members: 3,
  extraYaml: `aaa:
  link: { mode: hmac, keyFile: ${keyFile} }
  clients: { mode: token, tokensFile: ${tokensFile} }
  audit: { file: ${auditFile} }
`,
});
const silent = createLogger({ name: 'attack', level: 'silent' });
const enc = new TextEncoder();

beforeAll(async () => {
  buildForProcesses();
  execFileSync('npx', ['tsc', '-b', 'packages/aaa/tsconfig.lib.json'], { cwd: root, stdio: 'inherit' });
  // The members start; `vcl client` is not needed (the clients below are in this process).
  await d.start();
}, 240_000);

afterAll(async () => {
  await d.stop();
  fs.rmSync(secrets, { recursive: true, force: true });
});

async function alice(): Promise<{ c: LineClient; session: string; stop: () => Promise<void> }> {
  const client = await startClientInterceptor({
    stack: await loadStack(d.stackFile),
    listen: false,
    logger: silent,
    credentials: enc.encode('alice-token-0123456789'),
  });
  const c = new LineClient(client.connect());
  return { c, session: client.status().sessions[0]!.id, stop: () => client.stop() };
}

/** Sends `tag` and expects its own answer (the counter is shared by every session: any total). */
async function served(c: LineClient, tag: string): Promise<void> {
  const n = c.responses.length + 1;
  c.send(tag, 1);
  const deadline = Date.now() + 10_000;
  while (c.responses.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(c.responses[n - 1]).toMatch(new RegExp(`^${tag} \\d+$`));
}

async function groupIntact(): Promise<void> {
  for (const m of d.members) {
    const shrunk = m
      .proc!.lines.map(logLine)
      .filter((f) => f?.['msg'] === 'view installed' && (f['members'] as unknown[]).length < 3);
    expect(shrunk).toEqual([]);
    const status = JSON.parse(await httpGet(m.adminPort, '/status')) as { view: { members: string[] } };
    expect(status.view.members).toHaveLength(3);
  }
}

/** A client link to member `i` with link security `security`; what it is told. */
async function link(i: number, security = hmacLinkSecurity({ key })) {
  const transport = new TcpLinkTransport({ security, connectTimeoutMs: 3000 });
  const m = d.members[i]!;
  const l = await transport.connect({ id: m.id, host: '127.0.0.1', port: m.clientPort });
  const frames: MemberFrame[] = [];
  let closed = false;
  l.onFrame((f) => frames.push(decodeMemberFrame(f)));
  l.onClose(() => (closed = true));
  return { l, frames, closed: () => closed };
}

describe('attacks on a group with hmac links and client tokens', () => {
  it('a valid token cannot hijack another principal’s session', async () => {
    const a = await alice();
    try {
      await served(a.c, 'a:1');
      for (const [i] of d.members.entries()) {
        const mallory = await link(i);
        mallory.l.send(
          encodeClientFrame({
            type: 'hello',
            session: a.session,
            credentials: enc.encode('mallory-token-0123456789'),
            lastInSeq: 0,
            lastOutSeq: 0,
          }),
        );
        const deadline = Date.now() + 5000;
        while (!mallory.closed() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        expect(mallory.frames.filter((f) => f.type !== 'ping')).toEqual([
          expect.objectContaining({ type: 'error', code: 'VCL_SESSION_HIJACK', fatal: true }),
        ]);
      }
      await new Promise((r) => setTimeout(r, 200));
      const hijacks = audited(auditFile, 'session.hijack');
      expect(hijacks.length).toBeGreaterThanOrEqual(3);
      expect(hijacks.every((e) => e['principal'] === 'mallory')).toBe(true);
      // The owner's next request is its own, answered with its own total.
      await served(a.c, 'a:2');
      await groupIntact();
    } finally {
      await a.stop();
    }
  });

  it('a client with a wrong key is refused at the link and audited; the group serves on', async () => {
    const failures = audited(auditFile, 'auth.failure').length;
    await expect(link(0, hmacLinkSecurity({ key: Buffer.alloc(32, 9) }))).rejects.toThrow();
    const deadline = Date.now() + 5000;
    while (audited(auditFile, 'auth.failure').length === failures && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(audited(auditFile, 'auth.failure').length).toBeGreaterThan(failures);
    const a = await alice();
    try {
      await served(a.c, 'w:1');
    } finally {
      await a.stop();
    }
    await groupIntact();
  });

  it.each([
    ['without the key, claiming member n1', 'n1', Buffer.alloc(32, 9), 'link authentication failed'],
    ['with the key, claiming a member id that is not configured', 'a-rogue', key, 'link refused'],
  ])('a rogue member %s never joins', async (_what, id, rogueKey, refusal) => {
    const members = d.members.map((m) => ({ id: m.id, host: '127.0.0.1', port: m.port }));
    const rogueLogs: string[] = [];
    const rogue = tcpNetwork({
      self: id,
      members:
        id === 'a-rogue'
          ? [...members, { id: 'a-rogue', host: '127.0.0.1', port: 1 }]
          : members.map((m) => (m.id === id ? { ...m, port: 1 } : m)),
      logger: silent,
      incarnation: Date.now() + 1_000_000,
      security: hmacLinkSecurity({ key: rogueKey }),
      reconnect: { initialMs: 20, maxMs: 100 },
    });
    rogue.onMessage((from) => rogueLogs.push(from));
    try {
      await rogue.start().catch(() => undefined);
      const deadline = Date.now() + 3000;
      const refused = (): boolean =>
        d.members.some((m) => m.proc!.lines.map(logLine).some((f) => f?.['msg'] === refusal));
      while (!refused() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(refused()).toBe(true);
      expect(rogueLogs).toEqual([]);
    } finally {
      await rogue.stop();
    }
    const a = await alice();
    try {
      await served(a.c, 'r:1');
    } finally {
      await a.stop();
    }
    await groupIntact();
    for (const m of d.members) expect(m.proc!.dead).toBe(false);
  });
});
