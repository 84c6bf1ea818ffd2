// One worker of `npm run sim:sweep`: runs the chunks of seeds the main thread hands it and answers
// with the failing seeds of each.
import { parentPort } from 'node:worker_threads';
import { runOrderingSweep, type FaultProfile } from '@vcl/core/testing';
import { loadOrderingPlugin } from './run-sim';

/** One chunk of work: consecutive seeds of one configuration. */
export interface SweepChunk {
  readonly id: number;
  readonly ordering: string;
  readonly members: number;
  readonly faults: FaultProfile;
  readonly seeds: readonly number[];
  readonly durationMs: number;
}

/** The answer for one chunk. */
export interface SweepChunkResult {
  readonly id: number;
  readonly seedsRun: number;
  readonly violations: number;
  readonly failingSeeds: readonly number[];
  /** The first violation of the first failing seed, one line. */
  readonly example?: string;
  readonly deliveries: number;
}

parentPort!.on('message', (chunk: SweepChunk) => {
  void (async () => {
    const plugin = await loadOrderingPlugin(chunk.ordering, undefined);
    const r = await runOrderingSweep({
      plugin,
      seeds: chunk.seeds,
      members: chunk.members,
      faults: chunk.faults,
      durationMs: chunk.durationMs,
      keepFailures: 1,
    });
    const v = r.failures[0]?.violations[0];
    const result: SweepChunkResult = {
      id: chunk.id,
      seedsRun: r.seedsRun,
      violations: r.violations,
      failingSeeds: r.failingSeeds,
      ...(v ? { example: `${v.guarantee}: ${v.message}` } : {}),
      deliveries: r.totals.deliveries,
    };
    parentPort!.postMessage(result);
  })();
});
