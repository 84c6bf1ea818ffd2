#!/usr/bin/env node
// `npm run sim -- --ordering <name> --seeds <N> ...`: the conformance sweep of an ordering plugin
// on the seeded simulator. Progress on stderr, the report on stdout, its last line the summary.
import { runSim } from './run-sim';

const tty = process.stderr.isTTY;
let last = 0;
void runSim(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  progress: (text) => {
    if (text === '\n') {
      if (tty) process.stderr.write('\n');
      return;
    }
    if (tty) process.stderr.write(`\r${text}`);
    else if (Date.now() - last > 2000) {
      last = Date.now();
      process.stderr.write(`${text}\n`);
    }
  },
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`sim: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 2;
  },
);
