/**
 * Round-trip latency of `TcpNetwork` on loopback against a bare `net` socket ping-pong, for 100 B
 * and 1 KiB messages. The two are run in interleaved rounds so that machine noise hits both alike.
 *
 * Usage: `npm run bench:link -- [--round-trips 20000] [--rounds 10] [--sizes 100,1024] [--json]`
 */
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { tcpNetwork, type Logger, type TcpNetwork } from '@vcl/core';

/** One measured transport. */
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

/** A bare socket pair: the client writes `size` bytes, the server echoes every byte it reads. */
async function bareSocket(size: number): Promise<PingPong> {
  const server = net.createServer({ noDelay: true }, (s) => s.on('data', (chunk) => s.write(chunk)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  const client = net.connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise<void>((r) => client.once('connect', () => r()));
  const message = Buffer.alloc(size, 1);
  let awaited = 0;
  let done: () => void = () => {};
  client.on('data', (chunk) => {
    awaited -= chunk.length;
    if (awaited <= 0) done();
  });
  return {
    roundTrip: () =>
      new Promise<void>((resolve) => {
        awaited = size;
        done = resolve;
        client.write(message);
      }),
    close: async () => {
      client.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Two `TcpNetwork` members; n2 sends every message it gets back to n1. */
async function tcpNetworkPair(size: number): Promise<PingPong> {
  const members = [
    { id: 'n1', host: '127.0.0.1', port: await freePort() },
    { id: 'n2', host: '127.0.0.1', port: await freePort() },
  ];
  const n1: TcpNetwork = tcpNetwork({ self: 'n1', members, logger: silent });
  const n2: TcpNetwork = tcpNetwork({ self: 'n2', members, logger: silent });
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
  const perRound = Math.ceil(roundTrips / rounds);
  const results: Record<string, unknown>[] = [];
  for (const size of sizes) {
    const bare = await bareSocket(size);
    const link = await tcpNetworkPair(size);
    await measure(bare, 1000, []);
    await measure(link, 1000, []);
    const bareSamples: number[] = [];
    const linkSamples: number[] = [];
    for (let r = 0; r < rounds; r++) {
      await measure(bare, perRound, bareSamples);
      await measure(link, perRound, linkSamples);
    }
    await bare.close();
    await link.close();
    for (const [transport, samples] of [
      ['net socket', bareSamples],
      ['TcpNetwork', linkSamples],
    ] as const)
      results.push({ size, transport, roundTrips: samples.length, ...summary(samples) });
  }
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ node: process.version, results }, null, 2));
    return;
  }
  console.log(`loopback round trips, node ${process.version}, ${rounds} interleaved rounds (latency in µs)`);
  console.log('size    transport     round trips     p50     p90     p99    mean   round trips/s');
  for (const r of results) {
    const n = (v: unknown, w: number, d = 1): string => (v as number).toFixed(d).padStart(w);
    console.log(
      `${String(r['size']).padEnd(7)} ${String(r['transport']).padEnd(12)} ${String(r['roundTrips']).padStart(12)}` +
        ` ${n(r['p50'], 7)} ${n(r['p90'], 7)} ${n(r['p99'], 7)} ${n(r['mean'], 7)} ${n(r['perSecond'], 15, 0)}`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
