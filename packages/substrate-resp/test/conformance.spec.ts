import * as net from 'node:net';
import { describeSubstrateConformance, type SubstrateConformanceFixture } from '@vcl/core/testing';
import { LineFramer, resolveRespOptions, RespSubstrate } from '../src';

// The substrate conformance kit, run on this substrate. When you change the framing, change the
// samples: well-formed requests and responses, malformed ones, and messages at and over the limit.

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const MAX = 256;

/** The test service's answer to a request line. */
const respond = (request: Uint8Array): Uint8Array => bytes(`OK ${new TextDecoder().decode(request)}`);

/** A real service for `dial`: answers every line with `respond`. */
async function startService() {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const framer = new LineFramer('request', MAX);
    socket.on('data', (chunk) => framer.push(chunk).forEach((line) => socket.write(respond(line))));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port },
    close: () => new Promise<void>((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))),
  };
}

const fixture: SubstrateConformanceFixture = {
  name: 'resp',
  create: () => new RespSubstrate(resolveRespOptions({ maxMessageBytes: MAX, lingerMs: 200 })),
  requests: ['GET key\n', '\n', 'SET key some value\n', 'ünïcode\n'].map(bytes),
  responses: ['OK value\n', '\n', 'ERROR no such key\n'].map(bytes),
  malformedRequests: ['nul \0 byte\n', '\0'].map(bytes),
  largestRequest: bytes(`${'x'.repeat(MAX - 1)}\n`),
  oversizeRequest: bytes(`${'x'.repeat(MAX * 10)}\n`),
  largestResponse: bytes(`${'y'.repeat(MAX - 1)}\n`),
  oversizeResponse: bytes(`${'y'.repeat(MAX)}\n`),
  maxBufferedBytes: MAX,
  startService,
  respond,
};

describeSubstrateConformance(fixture);
