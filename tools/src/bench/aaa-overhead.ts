/**
 * Overhead of link security on round-trip latency over loopback: `none` against the `hmac`
 * (HMAC-SHA256 per frame) and `tls` (mutual TLS) hooks of `@vcl/aaa`, for 100 B and 1 KiB messages,
 * on a member link (`TcpNetwork`) and on a client-side interceptor link (`TcpLinkTransport`). All
 * links of one size run in interleaved rounds so that machine noise hits all alike. TLS
 * certificates are generated into a temp dir with `openssl` and deleted afterwards.
 *
 * Usage: `npm run bench:aaa -- [--round-trips 20000] [--rounds 10] [--sizes 100,1024]
 * [--links member,interceptor] [--json]`
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { hmacLinkSecurity, tlsLinkSecurity } from '@vcl/aaa';
import { TcpLinkTransport, tcpNetwork, type LinkSecurity, type Logger, type TcpNetwork } from '@vcl/core';

/** One measured link. */
interface PingPong {
  /** Sends one message of the size it was made for and resolves when the echo is back. */
  roundTrip(): Promise<void>;
  close(): Promise<void>;
}

const silent: Logger = {
  debug: () => {},
  info: () => {},
  warn: (obj, msg) => console.error('warn', msg, obj),
  error: (obj, msg) => console.error('error', msg, obj),
  child: () => silent,
};

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A CA and certificates for n1 and n2 (EC P-256), generated with openssl into `dir`. */
function makeCerts(dir: string): Record<'n1' | 'n2', { ca: string; cert: string; key: string }> {
  const run = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run('req', '-x509', ...newKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=bench-ca', '-days', '1');
  const issue = (cn: string): { ca: string; cert: string; key: string } => {
    fs.writeFileSync(path.join(dir, `${cn}.ext`), `subjectAltName=DNS:${cn}\n`);
    run('req', ...newKey, '-keyout', `${cn}.key`, '-out', `${cn}.csr`, '-subj', `/CN=${cn}`);
    run(
      'x509',
      '-req',
      '-in',
      `${cn}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${cn}.crt`,
    );
    run('x509', '-in', `${cn}.crt`, '-noout'); // fails loudly if the certificate was not written
    fs.chmodSync(path.join(dir, `${cn}.key`), 0o600);
    return { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, `${cn}.crt`), key: path.join(dir, `${cn}.key`) };
  };
  return { n1: issue('n1'), n2: issue('n2') };
}

/** Two `TcpNetwork` members with `security(id)`; n2 sends every message it gets back to n1. */
async function pair(size: number, security: (id: 'n1' | 'n2') => LinkSecurity | undefined): Promise<PingPong> {
  const members = [
    { id: 'n1', host: '127.0.0.1', port: await freePort() },
    { id: 'n2', host: '127.0.0.1', port: await freePort() },
  ];
  const n1: TcpNetwork = tcpNetwork({ self: 'n1', members, logger: silent, security: security('n1') });
  const n2: TcpNetwork = tcpNetwork({ self: 'n2', members, logger: silent, security: security('n2') });
  n2.onMessage((from, bytes) => n2.send(from, bytes));
  let done: () => void = () => {};
  n1.onMessage(() => done());
  await Promise.all([n1.start(), n2.start()]);
  while (!n1.status().every((p) => p.link === 'open')) await new Promise((r) => setTimeout(r, 5));
  const message = new Uint8Array(size).fill(1);
  return {
    roundTrip: () =>
      new Promise<void>((resolve) => {
        done = resolve;
        n1.send('n2', message);
      }),
    close: async () => {
      await Promise.all([n1.stop(), n2.stop()]);
    },
  };
}

/** A client-side interceptor link to a member (`TcpLinkTransport`) that echoes every frame. */
async function interceptorPair(
  size: number,
  security: (id: 'n1' | 'n2') => LinkSecurity | undefined,
): Promise<PingPong> {
  const memberSecurity = security('n1');
  const member = new TcpLinkTransport({ localId: 'n1', ...(memberSecurity ? { security: memberSecurity } : {}) });
  const listener = await member.listen('127.0.0.1', 0, (link) => link.onFrame((f) => link.send(f)));
  const clientSecurity = security('n2');
  const client = await new TcpLinkTransport(clientSecurity ? { security: clientSecurity } : {}).connect({
    id: 'n1',
    host: '127.0.0.1',
    port: listener.port,
  });
  let done: () => void = () => {};
  client.onFrame(() => done());
  const frame = { type: 0x22, flags: 0, body: new Uint8Array(size).fill(1) };
  return {
    roundTrip: () =>
      new Promise<void>((resolve) => {
        done = resolve;
        client.send(frame);
      }),
    close: async () => {
      client.destroy();
      await listener.close();
    },
  };
}

async function measure(p: PingPong, count: number, into: number[]): Promise<void> {
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await p.roundTrip();
    into.push(performance.now() - t0);
  }
}

function summary(samples: number[]): { p50: number; p90: number; p99: number; mean: number; perSecond: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 1000;
  const mean = (samples.reduce((a, b) => a + b, 0) / samples.length) * 1000;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), mean, perSecond: 1e6 / mean };
}

async function main(): Promise<void> {
  const roundTrips = Number(arg('round-trips', '20000'));
  const rounds = Number(arg('rounds', '10'));
  const sizes = arg('sizes', '100,1024').split(',').map(Number);
  const kinds = arg('links', 'member,interceptor').split(',');
  const makers: Record<string, typeof pair> = { member: pair, interceptor: interceptorPair };
  const perRound = Math.ceil(roundTrips / rounds);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-bench-aaa-'));
  const results: Record<string, unknown>[] = [];
  try {
    const certs = makeCerts(dir);
    const key = randomBytes(32);
    const modes: [string, (id: 'n1' | 'n2') => LinkSecurity | undefined][] = [
      ['none', () => undefined],
      ['hmac', () => hmacLinkSecurity({ key })],
      ['tls', (id) => tlsLinkSecurity(certs[id])],
    ];
    for (const size of sizes) {
      const setups = kinds.flatMap((kind) => modes.map(([mode, security]) => ({ kind, mode, security })));
      const links: PingPong[] = [];
      for (const s of setups) {
        const make = makers[s.kind];
        if (!make) throw new Error(`--links: unknown link kind ${s.kind} (member, interceptor)`);
        links.push(await make(size, s.security));
      }
      for (const link of links) await measure(link, 1000, []);
      const samples = setups.map((): number[] => []);
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < links.length; i++) await measure(links[i]!, perRound, samples[i]!);
        process.stderr.write(`\rsize ${size}: round ${r + 1}/${rounds}`);
      }
      process.stderr.write('\n');
      for (const link of links) await link.close();
      setups.forEach(({ kind, mode }, i) =>
        results.push({ size, link: kind, security: mode, roundTrips: samples[i]!.length, ...summary(samples[i]!) }),
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ node: process.version, results }, null, 2));
    return;
  }
  console.log(
    `Loopback round trips by link security (member: TcpNetwork, interceptor: TcpLinkTransport), node ${process.version}, ${rounds} interleaved rounds (µs)`,
  );
  console.log(
    'size    link         security   round trips     p50     p90     p99    mean   round trips/s   mean vs none',
  );
  for (const r of results) {
    const n = (v: unknown, w: number, d = 1): string => (v as number).toFixed(d).padStart(w);
    const none = results.find((x) => x['size'] === r['size'] && x['link'] === r['link'] && x['security'] === 'none')!;
    const extra = (r['mean'] as number) - (none['mean'] as number);
    console.log(
      `${String(r['size']).padEnd(7)} ${String(r['link']).padEnd(12)} ${String(r['security']).padEnd(9)} ${String(r['roundTrips']).padStart(12)}` +
        ` ${n(r['p50'], 7)} ${n(r['p90'], 7)} ${n(r['p99'], 7)} ${n(r['mean'], 7)} ${n(r['perSecond'], 15, 0)}` +
        `   ${extra >= 0 ? '+' : ''}${extra.toFixed(1)} µs`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
