import * as net from 'node:net';
import { SocketConversation, type Clock, type Conversation, type Endpoint, type Listener } from '@vcl/core';
import { responseLimits, requestLimits } from './framers';
import type { ResolvedHttpOptions } from './options';
import { BODILESS_LINE, headerHasToken, headerValue, HttpParser, type HttpMessage } from './parser';

const MARKER = Buffer.from(`\r\n${BODILESS_LINE}`, 'latin1');
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

/** A response as the real client must see it: without the dial side's bodiless marker. */
export function delivered(m: HttpMessage | Uint8Array): Uint8Array {
  const bytes = m instanceof Uint8Array ? m : m.bytes;
  const headEnd = m instanceof Uint8Array ? Buffer.from(bytes).indexOf('\r\n\r\n') + 4 : m.head.length;
  const at = Buffer.from(bytes.buffer, bytes.byteOffset, headEnd).indexOf(MARKER);
  if (at < 0) return bytes;
  return new Uint8Array(Buffer.concat([bytes.subarray(0, at + 2), bytes.subarray(at + MARKER.length)]));
}

/**
 * The client-facing side of one HTTP connection: responses written to it are cut (so that the
 * bodiless marker can be removed and `Connection: close` honoured), and `Expect: 100-continue`
 * is answered when every earlier request has its response, since the request will be read anyway.
 */
function clientConversation(socket: net.Socket, options: ResolvedHttpOptions, clock: Clock): Conversation {
  let requestsWithHead = 0;
  let responses = 0;
  const requests = new HttpParser({
    ...requestLimits(options),
    onHead: (head) => {
      requestsWithHead++;
      const length = Number(headerValue(head, 'content-length') ?? '0');
      const chunked = headerValue(head, 'transfer-encoding') !== undefined;
      if (
        head.version === '1.1' &&
        headerHasToken(head, 'expect', '100-continue') &&
        (chunked || length > 0) &&
        length <= options.maxBodyBytes &&
        responses === requestsWithHead - 1
      )
        socket.write(CONTINUE);
    },
  });
  let inspecting = true;
  const outgoing = new HttpParser(responseLimits(options));
  return new SocketConversation(socket, {
    clock,
    lingerMs: options.lingerMs,
    inspect: (bytes) => {
      if (!inspecting) return;
      try {
        requests.push(bytes);
      } catch {
        inspecting = false; // the interceptor's own framer reports the error; nothing to answer here
      }
    },
    filter: (bytes) => {
      const out: Uint8Array[] = [];
      for (const m of outgoing.push(bytes)) {
        out.push(delivered(m));
        responses++;
        if (headerHasToken(m.head, 'connection', 'close')) return { out, end: true };
      }
      return { out, end: false };
    },
  });
}

/** Accepts real HTTP clients on `endpoint`. */
export function listenHttp(
  endpoint: Endpoint,
  options: ResolvedHttpOptions,
  clock: Clock,
  onConversation: (conversation: Conversation) => void,
): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    onConversation(clientConversation(socket, options, clock));
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
