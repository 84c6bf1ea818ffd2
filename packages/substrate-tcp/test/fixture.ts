import * as net from 'node:net';
import type { RunningService, SubstrateConformanceFixture } from '@vcl/core/testing';
import { framerFor, TcpSubstrate, tcpOptions, type TcpFraming } from '../src';

export const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

/** Small limit, so the size checks run on small samples. */
export const MAX_MESSAGE_BYTES = 1024;

/** A TCP substrate with the test limit. */
export const substrate = (framing: TcpFraming): TcpSubstrate =>
  new TcpSubstrate(tcpOptions.parse({ framing, maxMessageBytes: MAX_MESSAGE_BYTES }, 'test'));

/** A length-prefixed frame of `body`. */
export function frame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => new Uint8Array(Buffer.concat([a, b]));

/**
 * The test service's answer: `line` prefixes the line with `ok `, `length-prefixed` prefixes the
 * body with `ok `, `raw` echoes (it must work on any piece of a stream).
 */
export function respondFor(framing: TcpFraming): (request: Uint8Array) => Uint8Array {
  if (framing === 'raw') return (request) => request;
  if (framing === 'line') return (request) => concat(bytes('ok '), request);
  return (request) => frame(concat(bytes('ok '), request.subarray(4)));
}

/** A real TCP service answering every framed request with `respondFor(framing)`. */
export async function startTcpService(framing: TcpFraming, port = 0): Promise<RunningService & { server: net.Server }> {
  const respond = respondFor(framing);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const framer = framerFor(framing, 1 << 20);
    socket.on('data', (chunk: Buffer) => {
      for (const m of framer.push(new Uint8Array(chunk))) socket.write(respond(m));
    });
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    server,
    endpoint: { host: '127.0.0.1', port: address.port },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const LINE_REQUESTS = ['GET a\n', 'SET key value with spaces\n', '\n', 'π ∑ \t\r\n', 'x\0y\n'].map(bytes);
const LINE_RESPONSES = ['ok GET a\n', 'ERR no such key\n', '\n', '+OK\r\n'].map(bytes);
const LP_REQUESTS = [new Uint8Array(0), bytes('hello'), new Uint8Array([0, 10, 13, 255, 0, 0, 0, 4])].map(frame);
const LP_RESPONSES = [bytes('ok '), new Uint8Array(0), bytes('ok\nwith\nnewlines\n')].map(frame);

/** The conformance fixture for one framing. */
export function tcpFixture(framing: TcpFraming): SubstrateConformanceFixture {
  const common = {
    name: `tcp ${framing}`,
    create: () => substrate(framing),
    malformedRequests: [],
    startService: () => startTcpService(framing),
    respond: respondFor(framing),
  };
  if (framing === 'raw')
    return {
      ...common,
      exactBoundaries: false,
      requests: [bytes('hello '), bytes('raw\nbytes\0'), new Uint8Array([255, 254, 0, 10])],
      responses: [bytes('world'), new Uint8Array([1, 2, 3]), bytes('\n\n')],
    };
  if (framing === 'line')
    return {
      ...common,
      requests: LINE_REQUESTS,
      responses: LINE_RESPONSES,
      largestRequest: bytes(`${'x'.repeat(MAX_MESSAGE_BYTES - 1)}\n`),
      oversizeRequest: bytes(`${'x'.repeat(MAX_MESSAGE_BYTES)}\n`),
      largestResponse: bytes(`${'r'.repeat(MAX_MESSAGE_BYTES - 1)}\n`),
      oversizeResponse: bytes(`${'r'.repeat(MAX_MESSAGE_BYTES)}\n`),
      maxBufferedBytes: MAX_MESSAGE_BYTES,
    };
  return {
    ...common,
    requests: LP_REQUESTS,
    responses: LP_RESPONSES,
    largestRequest: frame(new Uint8Array(MAX_MESSAGE_BYTES).fill(0x61)),
    oversizeRequest: frame(new Uint8Array(MAX_MESSAGE_BYTES + 1).fill(0x61)),
    largestResponse: frame(new Uint8Array(MAX_MESSAGE_BYTES).fill(0x62)),
    oversizeResponse: frame(new Uint8Array(MAX_MESSAGE_BYTES + 1).fill(0x62)),
    maxBufferedBytes: MAX_MESSAGE_BYTES + 4,
  };
}
