#!/usr/bin/env node
// `npm test`: typecheck, lint and every project's Jest tests through Nx, then the Prettier check,
// then one closing line with the totals of all projects ("N passed, N failed").
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const summary = join(root, 'tmp', 'test-summary.jsonl');
rmSync(summary, { force: true });
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_SKIP_NX_CACHE: 'false' };
const started = Date.now();

function run(label, cmd, args) {
  console.log(`\n== ${label}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  return r.status ?? 1;
}

const extra = process.argv.slice(2);
let status = run('typecheck, lint, test', 'npx', [
  'nx',
  'run-many',
  '-t',
  'typecheck',
  'lint',
  'test',
  '--output-style=stream',
  ...extra,
]);
status ||= run('format', 'npx', ['prettier', '--check', '.']);

let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(summary)) {
  for (const line of readFileSync(summary, 'utf8').split('\n').filter(Boolean)) {
    const e = JSON.parse(line);
    passed += e.passed;
    failed += e.failed;
    skipped += e.skipped;
  }
}
const seconds = Math.round((Date.now() - started) / 1000);
console.log(`\nnpm test: ${status === 0 ? 'ok' : 'FAILED'} in ${seconds}s`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(status !== 0 ? status : failed > 0 ? 1 : 0);
