import * as net from 'node:net';
import { SocketConversation, type Clock, type Conversation, type Endpoint, type Listener } from '@vcl/core';

/** Accepts `vcl-exec` clients on `endpoint` (TCP); each connection is one conversation. */
export function listenTcp(
  endpoint: Endpoint,
  clock: Clock,
  lingerMs: number,
  onConversation: (conversation: Conversation) => void,
): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    onConversation(new SocketConversation(socket, { clock, lingerMs }));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: endpoint.host ?? '127.0.0.1', port: endpoint.port ?? 0 }, () => {
      server.off('error', reject);
      const address = server.address() as net.AddressInfo;
      resolve({
        endpoint: { host: address.address, port: address.port },
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
