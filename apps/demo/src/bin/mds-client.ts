#!/usr/bin/env node
/**
 * `mds-client`: one request to the metadata server from the command line.
 *
 *   node apps/demo/dist/bin/mds-client.js --port 7000 mkdir /a
 *   node apps/demo/dist/bin/mds-client.js --port 7000 readdir /
 */
import { readFileSync } from 'node:fs';
import type { NamespaceSnapshot } from '../mds/namespace';
import { CLIENT_USAGE, UsageError, parseClientArgs, type ClientCommand } from '../client/cli';
import { MdsClient } from '../client/mds-client';

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${CLIENT_USAGE}\n`);
    return 0;
  }
  let command: ClientCommand;
  try {
    command = parseClientArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`mds-client: ${e.message}\n\n${CLIENT_USAGE}\n`);
    return 2;
  }
  let snapshot: NamespaceSnapshot | undefined;
  if ('restoreFrom' in command.send) {
    const from = command.send.restoreFrom;
    try {
      snapshot = JSON.parse(readFileSync(from === '-' ? 0 : from, 'utf8')) as NamespaceSnapshot;
    } catch (e) {
      process.stderr.write(
        `mds-client: cannot read a snapshot from ${from === '-' ? 'standard input' : from}: ${(e as Error).message}\n`,
      );
      return 2;
    }
  }
  let client: MdsClient;
  try {
    client = await MdsClient.connect({ host: command.host, port: command.port });
  } catch (e) {
    process.stderr.write(`mds-client: ${(e as Error).message}\n`);
    return 3;
  }
  try {
    const send = command.send;
    const response =
      'request' in send
        ? await client.send(send.request)
        : 'line' in send
          ? await client.sendLine(send.line)
          : await client.send({ op: 'restore', snapshot: snapshot! });
    if (!response.ok) {
      process.stderr.write(`mds-client: ${response.error.code}: ${response.error.message}\n`);
      return 1;
    }
    process.stdout.write(`${JSON.stringify(response.result, null, command.compact ? undefined : 2)}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`mds-client: ${(e as Error).message}\n`);
    return 3;
  } finally {
    await client.close();
  }
}

main().then((code) => {
  process.exitCode = code;
});
