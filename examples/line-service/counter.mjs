#!/usr/bin/env node
// A plain line service, unmodified by VCL: `add N` adds N to a running total and answers the total;
// `get` answers it. Deterministic, so three replicas that apply the same lines in the same order agree.
import { createServer } from 'node:net';

const port = Number(process.argv[2] ?? 7411);
let total = 0;
createServer((socket) => {
  let held = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => {
    held += chunk;
    const lines = held.split('\n');
    held = lines.pop();
    for (const line of lines) {
      const [op, n] = line.trim().split(/\s+/);
      if (op === 'add' && Number.isFinite(Number(n))) total += Number(n);
      else if (op !== 'get') {
        socket.write(`error: expected "add N" or "get", got "${line.trim()}"\n`);
        continue;
      }
      socket.write(`${total}\n`);
    }
  });
  socket.on('error', () => undefined);
}).listen(port, '127.0.0.1', () => console.log(`counter listening on 127.0.0.1:${port}`));
