import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { buildForProcesses, Deployment, httpGet, logLine } from '../e2e/harness';
import { announce, attack, audited, lineClient, openFrame, rssMiB, trickle } from './attacks';

// Attacks from the same network on every listening port of a running group (real processes):
// each asserts the refusal, its audit event, that no member left the view and that a good
// client kept being served.

jest.setTimeout(60_000);

const d = new Deployment({
  mode: 'external',
  members: 3,
  extraYaml: `limits:
  maxConnectionsPerAddress: 24
  handshakeTimeoutMs: 1500
  partialRequestTimeoutMs: 1500
  adminRequestTimeoutMs: 1500
aaa:
  audit: { file: $DIR/audit.jsonl }
`,
});
const auditFile = (): string => path.join(d.dir, 'audit.jsonl');

/** A good client asking all along; every answer must be right. */
let good: Awaited<ReturnType<typeof lineClient>>;
let asked = 0;
const wrong: string[] = [];
let stopGood = false;
let goodLoop: Promise<void>;

beforeAll(async () => {
  buildForProcesses();
  // The audit trail is the aaa package's file auditor, loaded by the members at run time.
  execFileSync('npx', ['tsc', '-b', 'packages/aaa/tsconfig.lib.json'], {
    cwd: path.resolve(__dirname, '../../../..'),
    stdio: 'inherit',
  });
  await d.start();
  good = await lineClient(d.clientPort);
  goodLoop = (async () => {
    let total = 0;
    while (!stopGood) {
      const i = ++asked;
      total += i;
      const [answer] = await good.ask(`g:${i} ${i}`);
      if (answer !== `g:${i} ${total}`) wrong.push(answer);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
}, 240_000);

afterAll(async () => {
  stopGood = true;
  await goodLoop;
  good.close();
  await d.stop();
});

/** No member installed a view without all three; the good client was served throughout. */
async function groupIntact(askedBefore: number): Promise<void> {
  for (const m of d.members) {
    const shrunk = m
      .proc!.lines.map(logLine)
      .filter((f) => f?.['msg'] === 'view installed' && (f['members'] as unknown[]).length < 3);
    expect(shrunk).toEqual([]);
    const status = JSON.parse(await httpGet(m.adminPort, '/status')) as { view: { members: string[] } };
    expect(status.view.members).toHaveLength(3);
  }
  const target = asked + 3;
  while (asked < target) await new Promise((r) => setTimeout(r, 20));
  expect(asked).toBeGreaterThan(askedBefore);
  expect(wrong).toEqual([]);
}

describe('attacks on the member client port', () => {
  it('oversized frames before OPEN are refused at the header; memory stays bounded', async () => {
    const before = asked;
    const n1 = d.members[0]!;
    const rss0 = rssMiB(n1.proc!.child.pid!);
    // The flood: connections announcing 16 MiB and sending 1 MiB of it before any OPEN.
    const floods = await Promise.all(
      Array.from({ length: 8 }, () =>
        attack(n1.clientPort, (s) => {
          s.write(announce(16 * 1024 * 1024));
          s.write(Buffer.alloc(1024 * 1024));
        }),
      ),
    );
    const rss1 = rssMiB(n1.proc!.child.pid!);
    for (const f of floods) {
      expect(f.closed).toBe(true);
      expect(f.frames.filter((x) => x.type !== 'ping')).toEqual([
        expect.objectContaining({ type: 'error', code: 'VCL_FRAME_TOO_LARGE' }),
      ]);
    }
    const malformed = await attack(n1.clientPort, (s) => void s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(malformed.frames.filter((x) => x.type !== 'ping')).toEqual([
      expect.objectContaining({ type: 'error', code: 'VCL_MALFORMED_FRAME' }),
    ]);
    expect(audited(auditFile(), 'limit.refused').length).toBeGreaterThanOrEqual(8);
    // Bound stated in docs/security.md: 64 KiB of input per unauthenticated link.
    expect(rss1 - rss0).toBeLessThan(64);
    console.log(`member RSS before/after an 8 x 16 MiB pre-OPEN flood: ${rss0.toFixed(0)} / ${rss1.toFixed(0)} MiB`);
    await groupIntact(before);
  });

  it('a connection flood is capped per address with a typed error, and idle handshakes time out', async () => {
    const before = asked;
    const n1 = d.members[0]!;
    const flood = await Promise.all(Array.from({ length: 40 }, () => attack(n1.clientPort, () => undefined, 5000)));
    const refused = flood.filter((f) =>
      f.frames.some((x) => x.type === 'error' && x.code === 'VCL_LIMIT' && /maxConnectionsPerAddress/.test(x.message)),
    );
    // The rest are admitted and then cut off for sending no whole frame (or no OPEN) in time.
    const timedOut = flood.filter((f) =>
      f.frames.some((x) => x.type === 'error' && (x.code === 'VCL_TIMEOUT' || /handshakeTimeoutMs/.test(x.message))),
    );
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused.length + timedOut.length).toBe(40);
    expect(flood.every((f) => f.closed)).toBe(true);
    await groupIntact(before);
  });

  it('slowloris on the member client port, the vcl client port and the admin port is cut off', async () => {
    const before = asked;
    const [member, client, admin] = await Promise.all([
      attack(d.members[1]!.clientPort, (s) => trickle(s, openFrame('slow'), 200), 10_000),
      attack(d.clientPort, (s) => trickle(s, Buffer.from('slowloris:1 1 ' + 'x'.repeat(100)), 200), 10_000, false),
      attack(
        d.members[2]!.adminPort,
        (s) => trickle(s, Buffer.from('GET /status HTTP/1.1\r\nHost: x\r\n'), 200),
        10_000,
        false,
      ),
    ]);
    expect(member.closed).toBe(true);
    expect(member.frames.filter((f) => f.type !== 'ping')).toEqual([
      expect.objectContaining({ type: 'error', code: expect.stringMatching(/^VCL_(LIMIT|TIMEOUT)$/) }),
    ]);
    expect(client.closed).toBe(true);
    expect(admin.closed).toBe(true);
    // A raw TCP protocol has no error message of its own: the connection is closed (FIN, not a
    // reset) and vcl client says why.
    const dropped = d.client!.lines.map(logLine).filter((f) => f?.['msg'] === 'client connection dropped at a limit');
    expect(dropped).toHaveLength(1);
    expect(dropped[0]!['err']).toMatch(/partialRequestTimeoutMs/);
    await groupIntact(before);
  });

  it('malformed input on the admin port is answered and the endpoint keeps serving', async () => {
    const before = asked;
    const garbage = await attack(
      d.members[0]!.adminPort,
      (s) => void s.write('\x00\x01\x02 nonsense\r\n\r\n'),
      5000,
      false,
    );
    expect(garbage.closed).toBe(true);
    expect(garbage.text).toMatch(/^HTTP\/1\.1 400/);
    await groupIntact(before);
  });

  it('refusals are logged rate-limited, never one line per attacker', async () => {
    const n1 = d.members[0]!;
    const refusals = n1.proc!.lines.map(logLine).filter((f) => f?.['msg'] === 'refused at a limit');
    // 8 + 40 connections refused so far at n1: at most 5 lines per 10 s window, then counts.
    expect(refusals.length).toBeLessThanOrEqual(10);
  });
});
