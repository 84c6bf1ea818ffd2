// `npm run fuzz`: every fuzz target in a worker thread, one after another (or `--jobs` at once),
// with progress lines; a target that stops making progress is stopped and reported as a hang, one
// that runs out of heap as an allocation defect. Failing inputs go into the corpus, which
// `npm test` replays.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { keepInput } from './corpus';
import type { FuzzFailure } from './fuzz';
import type { FuzzJob } from './fuzz-worker';
import { fuzzTargets } from './targets';

const USAGE = `usage: npm run fuzz -- [--runs N] [--target NAME[,NAME]] [--seed N] [--jobs N] [--hang-ms N] [--seed-corpus] [--list]

  --runs N        inputs per target (default 1000000)
  --target NAMES  only these targets (default all; --list shows them)
  --seed N        fast-check seed (default: from the clock, printed)
  --jobs N        targets fuzzed at once (default 1)
  --hang-ms N     a target with no progress for this long is a hang (default 30000)
  --seed-corpus   write every target's seeds into tools/fuzz/corpus and exit
  --list          list the targets and exit`;

interface Args {
  runs: number;
  targets?: string[];
  seed: number;
  jobs: number;
  hangMs: number;
  seedCorpus: boolean;
  list: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    runs: 1_000_000,
    seed: Date.now() % 2 ** 31,
    jobs: 1,
    hangMs: 30_000,
    seedCorpus: false,
    list: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    const int = (): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${a} takes a whole number, got ${JSON.stringify(v)}`);
      return n;
    };
    if (a === '--runs') args.runs = int();
    else if (a === '--target') args.targets = value().split(',');
    else if (a === '--seed') args.seed = int();
    else if (a === '--jobs') args.jobs = Math.max(1, int());
    else if (a === '--hang-ms') args.hangMs = int();
    else if (a === '--seed-corpus') args.seedCorpus = true;
    else if (a === '--list') args.list = true;
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
  }
  return args;
}

interface TargetResult {
  readonly target: string;
  readonly runs: number;
  readonly ms: number;
  readonly failure?: FuzzFailure | { readonly kind: 'hang'; readonly message: string; readonly input: Uint8Array };
}

function runTarget(root: string, target: string, args: Args): Promise<TargetResult> {
  const current = new SharedArrayBuffer(4 + 256 * 1024);
  const job: FuzzJob = { root, target, runs: args.runs, seed: args.seed, current };
  const worker = new Worker(join(__dirname, 'fuzz-worker.js'), {
    workerData: job,
    resourceLimits: { maxOldGenerationSizeMb: 512 },
  });
  const started = Date.now();
  let done = 0;
  let lastProgress = Date.now();
  let lastPrint = 0;
  const currentInput = (): Uint8Array => {
    const n = new DataView(current).getUint32(0);
    return new Uint8Array(current, 4, n).slice();
  };
  return new Promise((resolve) => {
    const finish = (r: TargetResult): void => {
      clearInterval(watchdog);
      resolve(r);
    };
    const watchdog = setInterval(() => {
      if (Date.now() - lastProgress < args.hangMs) return;
      const input = currentInput();
      void worker.terminate();
      finish({
        target,
        runs: done,
        ms: Date.now() - started,
        failure: { kind: 'hang', message: `no progress for ${args.hangMs} ms`, input },
      });
    }, 1000);
    worker.on('message', (m: { type: string; done?: number; failure?: FuzzFailure; ms: number }) => {
      lastProgress = Date.now();
      if (m.type === 'progress') {
        done = m.done!;
        if (Date.now() - lastPrint > 5000) {
          lastPrint = Date.now();
          const rate = Math.round(done / (m.ms / 1000));
          console.log(`fuzz: ${target} ${done}/${args.runs} inputs (${rate}/s)`);
        }
        return;
      }
      finish({ target, runs: m.failure ? done : args.runs, ms: m.ms, ...(m.failure ? { failure: m.failure } : {}) });
    });
    worker.on('error', (error) =>
      finish({
        target,
        runs: done,
        ms: Date.now() - started,
        failure: { target, kind: 'allocation', message: `worker died: ${error.message}`, input: currentInput() },
      }),
    );
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const root = join(__dirname, '..', '..', '..');
  const all = fuzzTargets(root);
  if (args.list) {
    for (const t of all) console.log(`${t.name.padEnd(16)} ${t.description}`);
    return;
  }
  const unknown = (args.targets ?? []).filter((n) => !all.some((t) => t.name === n));
  if (unknown.length) throw new Error(`unknown target ${unknown.join(', ')}; --list shows them`);
  const chosen = all.filter((t) => !args.targets || args.targets.includes(t.name));
  if (args.seedCorpus) {
    for (const t of chosen) for (const s of t.seeds()) console.log(`fuzz: kept ${keepInput(root, t.name, s, 'seed-')}`);
    return;
  }
  console.log(`fuzz: ${chosen.length} targets, ${args.runs} inputs each, seed ${args.seed}, ${args.jobs} at once`);
  const queue = chosen.map((t) => t.name);
  const results: TargetResult[] = [];
  await Promise.all(
    Array.from({ length: Math.min(args.jobs, queue.length) }, async () => {
      for (let name = queue.shift(); name; name = queue.shift()) {
        const r = await runTarget(root, name, args);
        results.push(r);
        const f = r.failure;
        if (f) {
          const file = keepInput(root, name, f.input, `${f.kind}-`);
          console.log(`fuzz: ${name} FAILED (${f.kind}) after ${r.runs} inputs: ${f.message}; input kept in ${file}`);
        } else console.log(`fuzz: ${name} clean: ${r.runs} inputs in ${(r.ms / 1000).toFixed(1)} s`);
      }
    }),
  );
  const failed = results.filter((r) => r.failure);
  console.log(
    `fuzz: seed=${args.seed} targets=${results.length} inputs=${results.reduce((n, r) => n + r.runs, 0)} failed=${failed.length}${failed.length ? ` (${failed.map((r) => r.target).join(', ')})` : ''}`,
  );
  if (failed.length) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(`fuzz: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 2;
});
