/**
 * CPU cost of divergence detection per request at one member of a 3-member group: hashing its own
 * response (SHA-256), encoding its digest event, and decoding and comparing the three members'
 * digest events once they are ordered. Measured for several response sizes, against the cost of
 * the SHA-256 alone. (End-to-end request latency with detection on and off, on real processes:
 * `npm run measure:divergence`.)
 *
 * Usage: `npm run bench:divergence -- [--requests 200000] [--sizes 16,100,1024,16384] [--json]`
 */
import { performance } from 'node:perf_hooks';
import {
  decodeSessionEvent,
  DivergenceMonitor,
  encodeSessionEvent,
  outputHash,
  type Logger,
  type SessionEvent,
} from '@vcl/core';

const silent: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (obj, msg) => console.error('error', msg, obj),
  child: () => silent,
};

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

type Digest = Extract<SessionEvent, { type: 'digest' }>;

/** Microseconds per request for hashing alone and for the whole detection path at one member. */
async function measure(size: number, requests: number): Promise<{ hashUs: number; pathUs: number }> {
  const response = new Uint8Array(size).fill(0x61);
  const members = ['n1', 'n2', 'n3'];
  let outgoing: Uint8Array | undefined;
  const monitor = new DivergenceMonitor({
    self: 'n1',
    unit: 'request',
    members,
    logger: silent,
    auditor: { audit: () => undefined },
    appliedIn: () => 0,
    // Ordered at once: the next hash of the session is sent alone, as at low load.
    broadcast: (event) => {
      outgoing = encodeSessionEvent(event);
      return Promise.resolve();
    },
  });
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < requests; i++) sink += outputHash(response)[0]!;
  const hashUs = ((performance.now() - t0) * 1000) / requests;

  let seq = 0;
  const t1 = performance.now();
  for (let i = 1; i <= requests; i++) {
    monitor.produced('s', i, response);
    const event = decodeSessionEvent(outgoing!) as Digest;
    // The same hash from the three members (n2's and n3's events decode alike).
    for (const m of members) monitor.deliver(m, m === 'n1' ? event : (decodeSessionEvent(outgoing!) as Digest), ++seq);
    await Promise.resolve(); // lets the outbox see its broadcast settle, as the ordering would
  }
  const pathUs = ((performance.now() - t1) * 1000) / requests;
  const st = monitor.status();
  if (st.counters.compared !== requests || st.counters.divergentOutputs !== 0 || sink < 0)
    throw new Error(`bench broken: compared ${st.counters.compared} of ${requests}`);
  return { hashUs, pathUs };
}

async function main(): Promise<void> {
  const requests = Number(arg('requests', '200000'));
  const sizes = arg('sizes', '16,100,1024,16384').split(',').map(Number);
  const rows: { size: number; hashUs: number; pathUs: number }[] = [];
  for (const size of sizes) {
    await measure(size, Math.min(requests, 20000)); // warm-up
    rows.push({ size, ...(await measure(size, requests)) });
  }
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(rows));
    return;
  }
  console.log(`divergence detection CPU per request at one member of 3 (${requests} requests per size)`);
  for (const r of rows)
    console.log(
      `  response ${String(r.size).padStart(6)} B: sha-256 ${r.hashUs.toFixed(2)} µs, whole path (hash, encode, 3 decodes + compare) ${r.pathUs.toFixed(2)} µs`,
    );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
