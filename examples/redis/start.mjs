#!/usr/bin/env node
// Starts 3 redis-server replicas behind VCL on this machine, from a stack file: one redis-server and
// one `vcl service` member per group member, and the `vcl client` that Redis clients connect to.
// Ctrl-C (or SIGTERM) stops everything it started.
//
//   node examples/redis/start.mjs [--stack examples/redis/stack.yaml] [--redis-ports 6391,6392,6393] [--no-build]
//   redis-cli -p 6390 INCR visits          # in another terminal
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const stackFile = path.resolve(flag('stack', path.join(root, 'examples/redis/stack.yaml')));
const stack = YAML.parse(fs.readFileSync(stackFile, 'utf8'));
const members = stack.group.members;
const redisPorts = flag('redis-ports', '6391,6392,6393').split(',').map(Number);
if (redisPorts.length !== members.length) {
  console.error(`start: ${members.length} members but ${redisPorts.length} --redis-ports`);
  process.exit(2);
}
const say = (line) => console.log(`redis-example: ${line}`);

if (!args.includes('--no-build')) {
  say('building @vcl/core, @vcl/gcs-sequencer and @vcl/substrate-resp');
  const libs = ['vcl-core', 'gcs-sequencer', 'substrate-resp'].map((p) => `packages/${p}/tsconfig.lib.json`);
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', ...libs], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) process.exit(2);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vcl-redis-example-'));
const children = [];
let stopping = false;

/** Spawns `command`, keeps its output in `<dir>/<name>.log`, resolves `until` once a line matches. */
function start(name, command, argv, until) {
  const log = fs.createWriteStream(path.join(dir, `${name}.log`));
  const child = spawn(command, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  child.stderr.pipe(log);
  let held = '';
  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      log.write(d);
      held += d;
      const lines = held.split('\n');
      held = lines.pop();
      if (lines.some(until)) resolve();
    });
    child.on('exit', (code, signal) => {
      if (!stopping) say(`${name} exited (${signal ?? code}); its log: ${path.join(dir, `${name}.log`)}`);
      reject(new Error(`${name} exited before it was ready`));
    });
  });
  ready.catch(() => undefined);
  return { child, ready };
}

const json = (line) => {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
};

async function stop(code) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
  say('stopped');
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

try {
  const cli = path.join(root, 'packages/vcl-core/dist/cli/main.js');
  await Promise.all(
    members.map((m, i) => {
      const data = path.join(dir, `redis-${m.id}`);
      fs.mkdirSync(data);
      return start(
        `redis-${m.id}`,
        'redis-server',
        ['--port', String(redisPorts[i]), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', data,
          '--enable-debug-command', 'local'],
        (l) => l.includes('Ready to accept connections'),
      ).ready; // prettier-ignore
    }),
  );
  say(`redis-server replicas on ${redisPorts.join(', ')}`);
  await Promise.all(
    members.map(
      (m, i) =>
        start(
          m.id,
          process.execPath,
          [cli, 'service', '--config', stackFile, '--member', m.id, '--service-endpoint', `127.0.0.1:${redisPorts[i]}`],
          (l) => json(l)?.msg === 'view installed' && json(l).members.length === members.length,
        ).ready,
    ),
  );
  say(`vcl service members ${members.map((m) => m.id).join(', ')} up, one view`);
  await start(
    'vcl-client',
    process.execPath,
    [cli, 'client', '--config', stackFile],
    (l) => json(l)?.msg === 'client interceptor listening',
  ).ready;
  const listen = stack.client.listen;
  say(`ready: redis-cli -h ${listen.host} -p ${listen.port}   (logs in ${dir}; Ctrl-C stops everything)`);
} catch (e) {
  say(`failed: ${e.message}`);
  await stop(1);
}
