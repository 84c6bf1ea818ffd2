#!/usr/bin/env node
// `npm run demo [-- options]`: builds what the demo needs (through Nx, cached), then runs it.
// The build's output is shown only when it fails; signals reach the demo, which stops everything
// it started.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const args = process.argv.slice(2);
// @vcl/demo's build builds its dependencies first, the ordering and substrate plugins that
// `vcl service` loads included (implicitDependencies in its package.json).
const projects = ['@vcl/demo'];

if (!args.includes('--help') && !args.includes('-h')) {
  const started = Date.now();
  process.stdout.write(`demo: building ${projects.join(', ')} ...\n`);
  const build = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '-p', ...projects, '--output-style=static'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
  });
  if (build.status !== 0) {
    process.stderr.write(`${build.stdout}${build.stderr}\ndemo: the build failed (status ${build.status})\n`);
    process.exit(1);
  }
  process.stdout.write(`demo: built in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
}

const child = spawn(process.execPath, [join(root, 'apps', 'demo', 'dist', 'bin', 'demo.js'), ...args], {
  stdio: 'inherit',
});
// Ctrl-C reaches the whole process group, the demo included; a signal sent to this process only is passed on.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.on(signal, () => {
    if (signal !== 'SIGINT') child.kill(signal);
  });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
