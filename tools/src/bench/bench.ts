#!/usr/bin/env node
// `npm run bench [-- --quick] [--out bench/results]`: the paper's ping-pong benchmark (Tables 1 and
// 2) over every configuration; a progress bar on stderr; results.json, results.md and chart.svg
// under bench/results/ (the Markdown tables are also printed on stdout).
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { BenchDeployment, benchPlan, measure, type BenchProgress } from './paper-bench';
import { repoRoot } from './processes';
import { formatMarkdown, writeResults } from './report';

const USAGE = `usage: npm run bench -- [--quick] [--out <dir>]
  --quick   the one-minute version (fewer, shorter interleaved rounds)
  --out     output directory (default bench/results)`;

function bar(p: BenchProgress, startedAt: number): string {
  const width = 30;
  const filled = Math.round((width * p.done) / Math.max(1, p.total));
  const elapsed = (performance.now() - startedAt) / 1000;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round((100 * p.done) / Math.max(1, p.total))
    .toString()
    .padStart(3)}% ${elapsed.toFixed(0).padStart(4)} s  ${p.what}`;
}

async function main(): Promise<number> {
  let values: { quick?: boolean; out?: string; help?: boolean };
  try {
    values = parseArgs({
      args: process.argv.slice(2),
      options: { quick: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const quick = values.quick === true;
  const out = path.resolve(repoRoot, values.out ?? 'bench/results');
  const plan = benchPlan(quick);
  const startedAt = performance.now();
  const tty = process.stderr.isTTY === true;
  let lastTwentieth = -1;
  const progress = (p: BenchProgress): void => {
    const line = bar(p, startedAt);
    if (tty) process.stderr.write(`\r${line.padEnd(100).slice(0, Math.max(40, (process.stderr.columns ?? 100) - 1))}`);
    else if (Math.floor((20 * p.done) / p.total) !== lastTwentieth || p.what.startsWith('start')) {
      lastTwentieth = Math.floor((20 * p.done) / p.total);
      process.stderr.write(`${line}\n`);
    }
  };
  const deployment = new BenchDeployment();
  const stopAll = (): void => {
    void deployment.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopAll);
  process.once('SIGTERM', stopAll);
  try {
    // Started all at once: most of the start-up is waiting for processes and views.
    let started = 0;
    progress({ done: 0, total: plan.configs.length, what: 'starting every configuration' });
    await Promise.all(
      plan.configs.map(async (c) => {
        await deployment.start(c);
        started++;
        progress({ done: started, total: plan.configs.length, what: `started ${c.name}` });
      }),
    );
    const entries = await measure(deployment, plan, progress);
    if (tty) process.stderr.write('\n');
    const meta = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: os.cpus().length,
      quick,
      rounds: plan.rounds,
      slotMs: plan.slotMs,
      seconds: Math.round((performance.now() - startedAt) / 1000),
    };
    const files = writeResults(out, entries, meta);
    process.stdout.write(formatMarkdown(entries, meta));
    process.stderr.write(`bench: wrote ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}\n`);
    return 0;
  } finally {
    await deployment.stop();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`\nbench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
