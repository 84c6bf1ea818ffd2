#!/usr/bin/env node
// `npm run bench:ordering -- --ordering <name>`: throughput, latency, fail-over time and idle CPU of
// an ordering plugin with each member a separate process on loopback TCP. Progress on stderr, the
// Markdown tables (or JSON with --json) on stdout.
import '@vcl/core';
import { VclError } from '@vcl/core';
import {
  formatOrderingBench,
  ORDERING_BENCH_USAGE,
  parseOrderingBenchArgs,
  runOrderingBench,
  runOrderingScenarios,
} from './ordering-bench';

async function main(): Promise<number> {
  let args;
  try {
    args = parseOrderingBenchArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err instanceof VclError ? err.message : String(err)}\n${ORDERING_BENCH_USAGE}\n`);
    return 2;
  }
  const progress = (line: string): void => void process.stderr.write(`${line}\n`);
  if (args.scenario) {
    const runs = await runOrderingScenarios(args, progress);
    if (args.json) process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
    else
      for (const [i, r] of runs.entries())
        process.stdout.write(
          `run ${i + 1}: ${r.verdict}; fail-over ${r.failoverMs.join(', ') || '-'} ms; ${r.seconds} s\n` +
            (r.report ? `${r.report}\n` : ''),
        );
    const failed = runs.filter((r) => r.verdict !== 'ok').length;
    process.stdout.write(`${args.scenario} with ${args.ordering}: ${runs.length - failed} of ${runs.length} runs ok\n`);
    return failed ? 1 : 0;
  }
  const result = await runOrderingBench(args, progress);
  process.stdout.write(`${args.json ? JSON.stringify(result, null, 2) : formatOrderingBench(result)}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench:ordering: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
