#!/usr/bin/env node
/**
 * `mds-server`: the mock metadata server as its own process.
 *
 *   node apps/demo/dist/bin/mds-server.js --host 127.0.0.1 --port 7000
 *
 * Logs pino-format JSON lines on standard output; the first is `listening` with the bound host
 * and port (give --port 0 to let the system choose). SIGTERM or SIGINT stop it, logging the
 * final counters and digest.
 */
import { parseArgs } from 'node:util';
import { LEVELS, jsonLogger, type LevelName } from '../mds/log';
import { DEFAULT_MAX_LINE_BYTES } from '../mds/protocol';
import { createMdsServer } from '../mds/server';

const USAGE = `usage: mds-server [--host 127.0.0.1] [--port 7000] [--name mds] [--log-level info] [--max-line-bytes ${DEFAULT_MAX_LINE_BYTES}]`;

function fail(message: string): never {
  process.stderr.write(`mds-server: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '7000' },
        name: { type: 'string', default: 'mds' },
        'log-level': { type: 'string', default: 'info' },
        'max-line-bytes': { type: 'string', default: String(DEFAULT_MAX_LINE_BYTES) },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be 0..65535, got "${values.port}"`);
  const maxLineBytes = Number(values['max-line-bytes']);
  if (!Number.isInteger(maxLineBytes) || maxLineBytes < 16)
    fail(`--max-line-bytes must be an integer >= 16, got "${values['max-line-bytes']}"`);
  const level = values['log-level'] as string;
  if (!(level in LEVELS)) fail(`--log-level must be one of ${Object.keys(LEVELS).join(', ')}, got "${level}"`);

  const log = jsonLogger({ name: values.name, level: level as LevelName });
  const server = createMdsServer({ logger: log, maxLineBytes });
  server.listen(values.host as string, port).then(
    (addr) => log.info({ host: addr.host, port: addr.port, maxLineBytes }, 'listening'),
    (err: Error) => {
      log.error({ err, host: values.host, port }, 'cannot listen');
      process.exitCode = 1;
    },
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    void server.close().then(() => {
      log.info({ signal, ...server.stats, ...server.namespace.digest() }, 'stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main();
