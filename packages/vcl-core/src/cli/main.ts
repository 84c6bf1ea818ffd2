#!/usr/bin/env node
// The `vcl` command: `vcl service|client|status|check --config stack.yaml`.
import 'reflect-metadata';
import { runCli } from './run';

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`vcl: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
