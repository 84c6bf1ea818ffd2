#!/usr/bin/env node
import { vclExec } from '../vcl-exec';

void vclExec(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
}).then((code) => {
  process.exitCode = code;
});
