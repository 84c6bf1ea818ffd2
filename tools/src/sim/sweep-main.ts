// `npm run sim:sweep`: the conformance sweep at scale, for every ordering plugin and group size,
// every fault profile, in parallel worker threads. Seed s of a configuration runs fault profile
// FAULT_PROFILES[s % 5], so a failing seed is replayed with exactly one `npm run sim` command.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { FAULT_PROFILES } from '@vcl/core/testing';
import type { SweepChunk, SweepChunkResult } from './sweep-worker';

const USAGE = `usage: npm run sim:sweep -- [--seeds N] [--first S] [--ordering a,b] [--members 3,5] [--workers W] [--duration ms]
  --seeds     seeds per plugin and group size (default 20000)
  --first     first seed (default 1)
  --ordering  plugins (default sequencer,tokenring)
  --members   group sizes (default 3,5)
  --workers   worker threads (default: the machine's parallelism)
  --duration  virtual ms of faults per seed (default 10000)`;

interface Config {
  readonly ordering: string;
  readonly members: number;
  seedsRun: number;
  violations: number;
  deliveries: number;
  readonly failing: number[];
  example?: string;
}

function list(value: string | undefined, fallback: string): string[] {
  return (value ?? fallback).split(',').filter(Boolean);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      seeds: { type: 'string' },
      first: { type: 'string' },
      ordering: { type: 'string' },
      members: { type: 'string' },
      workers: { type: 'string' },
      duration: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const int = (name: string, raw: string | undefined, fallback: number, min: number): number => {
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isSafeInteger(n) || n < min)
      throw new Error(`--${name} must be an integer >= ${min}, got ${raw}\n${USAGE}`);
    return n;
  };
  const seeds = int('seeds', values.seeds, 20_000, 1);
  const first = int('first', values.first, 1, 0);
  const workers = int('workers', values.workers, availableParallelism(), 1);
  const durationMs = int('duration', values.duration, 10_000, 0);
  const configs: Config[] = [];
  for (const ordering of list(values.ordering, 'sequencer,tokenring'))
    for (const m of list(values.members, '3,5'))
      configs.push({
        ordering,
        members: int('members', m, 3, 1),
        seedsRun: 0,
        violations: 0,
        deliveries: 0,
        failing: [],
      });

  // Chunks of 50 seeds per profile, interleaved across configurations so progress is even.
  const chunks: (SweepChunk & { config: Config })[] = [];
  const CHUNK = 50;
  for (let from = first; from < first + seeds; from += CHUNK * FAULT_PROFILES.length)
    for (const config of configs)
      FAULT_PROFILES.forEach((faults, p) => {
        const list: number[] = [];
        for (let s = from; s < Math.min(first + seeds, from + CHUNK * FAULT_PROFILES.length); s++)
          if (s % FAULT_PROFILES.length === p) list.push(s);
        if (list.length)
          chunks.push({
            id: chunks.length,
            ordering: config.ordering,
            members: config.members,
            faults,
            seeds: list,
            durationMs,
            config,
          });
      });
  const total = chunks.reduce((n, c) => n + c.seeds.length, 0);
  console.log(
    `sim:sweep: ${configs.map((c) => `${c.ordering}×${c.members}`).join(', ')}; ${seeds} seeds each from ${first} ` +
      `(profile = seed % ${FAULT_PROFILES.length}: ${FAULT_PROFILES.join(', ')}); ${total} runs on ${workers} workers`,
  );
  const started = Date.now();
  let done = 0;
  let lastPrint = Date.now();
  const queue = [...chunks];
  const byId = new Map(chunks.map((c) => [c.id, c]));
  await Promise.all(
    Array.from({ length: Math.min(workers, queue.length) }, async () => {
      const worker = new Worker(join(__dirname, 'sweep-worker.js'));
      try {
        for (let chunk = queue.shift(); chunk; chunk = queue.shift()) {
          const { config: _config, ...job } = chunk;
          const r = await new Promise<SweepChunkResult>((resolve, reject) => {
            const settle = (): void => {
              worker.off('message', onMessage);
              worker.off('error', onError);
            };
            const onMessage = (m: SweepChunkResult): void => {
              settle();
              resolve(m);
            };
            const onError = (e: Error): void => {
              settle();
              reject(e);
            };
            worker.on('message', onMessage);
            worker.on('error', onError);
            worker.postMessage(job);
          });
          const c = byId.get(r.id)!.config;
          c.seedsRun += r.seedsRun;
          c.violations += r.violations;
          c.deliveries += r.deliveries;
          c.failing.push(...r.failingSeeds);
          if (r.example && !c.example) c.example = `seed ${r.failingSeeds[0]} (${chunk.faults}): ${r.example}`;
          done += r.seedsRun;
          if (Date.now() - lastPrint > 5000) {
            lastPrint = Date.now();
            const bad = configs.reduce((n, x) => n + x.failing.length, 0);
            console.log(
              `sim:sweep: ${done}/${total} runs, ${bad} failing, ${((Date.now() - started) / 1000).toFixed(0)} s`,
            );
          }
        }
      } finally {
        await worker.terminate();
      }
    }),
  );
  for (const c of configs) {
    c.failing.sort((a, b) => a - b);
    console.log(
      `sim:sweep: ordering=${c.ordering} members=${c.members} seeds=${c.seedsRun} violations=${c.violations} ` +
        `failing-seeds=${c.failing.length} deliveries=${c.deliveries}`,
    );
    if (c.failing.length) {
      console.log(`  failing: ${c.failing.slice(0, 30).join(', ')}${c.failing.length > 30 ? ', ...' : ''}`);
      console.log(`  first: ${c.example}`);
      const s = c.failing[0]!;
      console.log(
        `  replay: npm run sim -- --ordering ${c.ordering} --members ${c.members} --seeds 1 --seed ${s} ` +
          `--faults ${FAULT_PROFILES[s % FAULT_PROFILES.length]} --duration ${durationMs} --trace`,
      );
    }
  }
  const violations = configs.reduce((n, c) => n + c.violations, 0);
  console.log(`sim:sweep: runs=${done} violations=${violations} wall=${((Date.now() - started) / 1000).toFixed(0)}s`);
  return violations > 0 ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(`sim:sweep: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  },
);
