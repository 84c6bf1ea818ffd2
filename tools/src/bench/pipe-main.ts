#!/usr/bin/env node
// The floor for an interceptor written in Node: `node pipe-main.js <listenPort> <targetPort>`
// accepts connections and `socket.pipe`s each to a new connection to the target, both ways.
import * as net from 'node:net';

const [listenPort, targetPort] = process.argv.slice(2).map(Number);
const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = net.connect({ host: '127.0.0.1', port: targetPort!, noDelay: true });
  client.pipe(upstream).pipe(client);
  const close = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
});
server.listen(listenPort, '127.0.0.1', () => process.stdout.write('listening\n'));
