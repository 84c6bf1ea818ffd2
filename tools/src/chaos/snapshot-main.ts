#!/usr/bin/env node
// `node snapshot-main.js save|load|reset`: the chaos register service's `service.snapshot` and
// `service.resetCommand` commands. They talk to the member's own replica at VCL_SERVICE_HOST:
// VCL_SERVICE_PORT (set by the member) directly, bypassing VCL: `save` prints the state on stdout,
// `load` reads a saved state on stdin, `reset` loads the initial state. A refused load exits 1.
import * as net from 'node:net';
import { emptyRegisterState } from './register-service';

function ask(line: string): Promise<string> {
  const host = process.env['VCL_SERVICE_HOST'] ?? '127.0.0.1';
  const port = Number(process.env['VCL_SERVICE_PORT']);
  if (!Number.isInteger(port) || port <= 0) return Promise.reject(new Error('VCL_SERVICE_PORT is not set'));
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    let got = '';
    socket.setEncoding('utf8');
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer from ${host}:${port}`)));
    socket.on('data', (d: string) => {
      got += d;
      const nl = got.indexOf('\n');
      if (nl >= 0) {
        socket.destroy();
        resolve(got.slice(0, nl));
      }
    });
    socket.on('error', reject);
    socket.write(`${line}\n`);
  });
}

async function readStdin(): Promise<string> {
  let s = '';
  for await (const chunk of process.stdin) s += String(chunk);
  return s.trim();
}

async function main(): Promise<void> {
  const verb = process.argv[2];
  if (verb === 'save') process.stdout.write(`${await ask('?save')}\n`);
  else if (verb === 'load' || verb === 'reset') {
    const state = verb === 'load' ? await readStdin() : JSON.stringify(emptyRegisterState());
    const answer = await ask(`?load ${state}`);
    if (answer !== 'ok') throw new Error(answer);
  } else throw new Error(`usage: snapshot-main.js save|load|reset, got ${String(verb)}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`chaos snapshot: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
