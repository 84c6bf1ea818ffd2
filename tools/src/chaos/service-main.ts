#!/usr/bin/env node
// `node service-main.js <port>`: one replica of the chaos harness's register service on 127.0.0.1.
import * as net from 'node:net';
import { RegisterService } from './register-service';

const service = new RegisterService();
const server = net.createServer({ noDelay: true }, (socket) => {
  let held = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    held += chunk;
    const lines = held.split('\n');
    held = lines.pop()!;
    for (const line of lines) socket.write(`${service.apply(line)}\n`);
  });
  socket.on('error', () => undefined);
});
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('listening\n'));
