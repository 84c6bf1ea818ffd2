// One fuzz target in a worker thread, so the harness can stop it when it hangs and cap its memory.
import { parentPort, workerData } from 'node:worker_threads';
import { fuzz } from './fuzz';
import { fuzzTargets } from './targets';

/** What the harness hands a worker. */
export interface FuzzJob {
  readonly root: string;
  readonly target: string;
  readonly runs: number;
  readonly seed: number;
  /** Where the worker copies each input before running it: 4-byte length, then the bytes. */
  readonly current: SharedArrayBuffer;
}

const job = workerData as FuzzJob;
const target = fuzzTargets(job.root).find((t) => t.name === job.target);
if (!target) throw new Error(`no fuzz target ${job.target}`);
const length = new DataView(job.current);
const bytes = new Uint8Array(job.current, 4);
const started = Date.now();
const failure = fuzz(target, {
  runs: job.runs,
  seed: job.seed,
  onProgress: (done) => parentPort!.postMessage({ type: 'progress', done, ms: Date.now() - started }),
  onInput: (input) => {
    const n = Math.min(input.length, bytes.length);
    bytes.set(input.subarray(0, n));
    length.setUint32(0, n);
  },
});
parentPort!.postMessage({ type: 'done', failure, ms: Date.now() - started });
