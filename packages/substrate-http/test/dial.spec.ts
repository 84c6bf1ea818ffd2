import * as net from 'node:net';
import { UnavailableError, type Conversation } from '@vcl/core';
import { ConversationReader } from '@vcl/core/testing';
import { bytes, substrate, text } from './fixture';

// The service side against raw TCP services that close connections, answer close-delimited, or
// die mid-request: the dial conversation reconnects where HTTP allows it and breaks where it must.

interface RawService {
  readonly port: number;
  readonly connections: () => number;
  close(): Promise<void>;
}

/** A raw TCP service: `onRequest(text, socket)` for every chunk received. */
async function rawService(onRequest: (request: string, socket: net.Socket) => void): Promise<RawService> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('data', (b) => onRequest(b.toString('latin1'), socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))),
  };
}

async function dial(port: number): Promise<{ conversation: Conversation; reader: ConversationReader }> {
  const s = substrate();
  const conversation = await s.dial({ host: '127.0.0.1', port });
  return { conversation, reader: new ConversationReader(conversation, s.responseFramer()) };
}

describe('HTTP dial against a raw service', () => {
  it('opens a fresh connection for the request after one the service closed (Connection: close), in order', async () => {
    const service = await rawService((request, socket) => {
      const path = request.split(' ')[1];
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${path!.length}\r\nconnection: close\r\n\r\n${path}`);
      socket.end();
    });
    const { conversation, reader } = await dial(service.port);
    try {
      for (const path of ['/1', '/22', '/333']) conversation.write(bytes(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
      await reader.until(() => reader.messages.length === 3, '3 responses');
      expect(reader.messages.map((m) => text(m).split('\r\n\r\n')[1])).toEqual(['/1', '/22', '/333']);
      expect(service.connections()).toBe(3);
      expect(reader.ended).toBeUndefined();
    } finally {
      conversation.destroy();
      await service.close();
    }
  });

  it('hands on a body delimited by the connection end as a Content-Length response', async () => {
    const service = await rawService((_request, socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil ');
      setTimeout(() => socket.end('close'), 20);
    });
    const { conversation, reader } = await dial(service.port);
    try {
      conversation.write(bytes('GET / HTTP/1.0\r\n\r\n'));
      await reader.until(() => reader.messages.length === 1, 'the response');
      expect(text(reader.messages[0]!)).toBe(
        'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 11\r\n\r\nuntil close',
      );
    } finally {
      conversation.destroy();
      await service.close();
    }
  });

  it('breaks with UnavailableError when the service drops the connection with a request unanswered', async () => {
    const service = await rawService((_request, socket) => socket.destroy());
    const { conversation, reader } = await dial(service.port);
    try {
      conversation.write(bytes('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      const error = await reader.untilEnd();
      expect(error).toBeInstanceOf(UnavailableError);
      expect(error?.message).toContain('closed the connection with 1 requests unanswered');
    } finally {
      await service.close();
    }
  });

  it('answers a malformed service response with 502 and goes on with a fresh connection', async () => {
    let n = 0;
    const service = await rawService((_request, socket) => {
      socket.write(n++ === 0 ? 'SPAM\r\n\r\n' : 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const { conversation, reader } = await dial(service.port);
    try {
      conversation.write(bytes('GET /a HTTP/1.1\r\nHost: x\r\n\r\n'));
      await reader.until(() => reader.messages.length === 1, 'the 502');
      conversation.write(bytes('GET /b HTTP/1.1\r\nHost: x\r\n\r\n'));
      await reader.until(() => reader.messages.length === 2, 'the second response');
      expect(reader.messages.map((m) => text(m).split('\r\n')[0])).toEqual([
        'HTTP/1.1 502 Bad Gateway',
        'HTTP/1.1 200 OK',
      ]);
      expect(text(reader.messages[0]!)).toContain('malformed status line "SPAM"');
      expect(service.connections()).toBe(2);
    } finally {
      conversation.destroy();
      await service.close();
    }
  });

  it('rejects with UnavailableError when nothing listens', async () => {
    const service = await rawService(() => undefined);
    await service.close();
    await expect(substrate().dial({ host: '127.0.0.1', port: service.port })).rejects.toThrow(UnavailableError);
  });
});
