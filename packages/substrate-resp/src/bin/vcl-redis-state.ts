#!/usr/bin/env node
import { loadRedis, resetRedis, saveRedis } from '../redis-state';

// `vcl-redis-state save|load|reset`: the `service.snapshot` and `service.resetCommand` commands for
// Redis replicas. The replica is the member's service endpoint (VCL_SERVICE_HOST/VCL_SERVICE_PORT,
// set by `vcl service`), or `--host`/`--port`.

const USAGE =
  'usage: vcl-redis-state save|load|reset [--host H] [--port P]  (default: $VCL_SERVICE_HOST:$VCL_SERVICE_PORT)';

async function main(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  const flag = (name: string): string | undefined => {
    const i = rest.indexOf(`--${name}`);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  const host = flag('host') ?? process.env['VCL_SERVICE_HOST'] ?? '127.0.0.1';
  const port = Number(flag('port') ?? process.env['VCL_SERVICE_PORT']);
  if (!Number.isInteger(port) || port <= 0 || !['save', 'load', 'reset'].includes(action ?? '')) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const endpoint = { host, port };
  if (action === 'save') {
    const { keys } = await saveRedis(endpoint, (b) => process.stdout.write(b));
    process.stderr.write(`vcl-redis-state: saved ${keys} keys from ${host}:${port}\n`);
  } else if (action === 'load') {
    const { commands } = await loadRedis(endpoint, process.stdin);
    process.stderr.write(`vcl-redis-state: replayed ${commands} commands into ${host}:${port}\n`);
  } else {
    await resetRedis(endpoint);
    process.stderr.write(`vcl-redis-state: emptied ${host}:${port}\n`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: Error) => {
    process.stderr.write(`vcl-redis-state: ${e.message}\n`);
    process.exitCode = 1;
  },
);
