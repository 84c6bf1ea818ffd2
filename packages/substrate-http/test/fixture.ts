import * as nodeHttp from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunningService, SubstrateConformanceFixture } from '@vcl/core/testing';
import { delivered, HttpSubstrate, resolveHttpOptions, type HttpOptions } from '../src';

export const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
export const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

/** Small limits, so the size checks run on small samples. */
export const TEST_LIMITS: HttpOptions = {
  maxHeaderBytes: 1024,
  maxBodyBytes: 4096,
  maxResponseBodyBytes: 8192,
  lingerMs: 500,
};

export const substrate = (): HttpSubstrate => new HttpSubstrate(resolveHttpOptions(TEST_LIMITS));

export const REQUESTS = [
  'GET /a HTTP/1.1\r\nHost: x\r\n\r\n',
  'POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
  'PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n',
  'HEAD /d HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n',
  '\r\nDELETE /e?q=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
  'POST /f HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n',
].map(bytes);

export const RESPONSES = [
  'HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc',
  'HTTP/1.1 204 No Content\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n0\r\nExpires: never\r\n\r\n',
  'HTTP/1.1 200 OK\r\ncontent-length: 10\r\nx-vcl-bodiless: 1\r\n\r\n',
  'HTTP/1.1 304 Not Modified\r\netag: "x"\r\n\r\n',
  'HTTP/1.1 404 \r\ncontent-length: 0\r\n\r\n',
].map(bytes);

export const MALFORMED_REQUESTS = [
  'GARBAGE\r\n\r\n',
  'GET /\r\n\r\n',
  'GET / HTTP/2.0\r\nHost: x\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
  'GET / HTTP/1.1\r\nHost : x\r\n\r\n',
  'GET / HTTP/1.1\nHost: x\n\n',
  'GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n',
  'GET / HTTP/1.1\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\nabc',
  'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
  'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n',
  'CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n',
].map(bytes);

export const MALFORMED_RESPONSES = [
  'HTTP/1.1 OK\r\n\r\n',
  'HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab',
  'HTTP/1.1 200 OK\r\n\r\nbody until close',
].map(bytes);

const post = (length: number): Uint8Array =>
  bytes(`POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n${'b'.repeat(length)}`);
const ok = (length: number): Uint8Array =>
  bytes(`HTTP/1.1 200 OK\r\ncontent-length: ${length}\r\n\r\n${'r'.repeat(length)}`);

/** Decoded body length of a request sample (Content-Length or chunked). */
function bodyLength(request: string): number {
  const [head, rest = ''] = request.split(/\r\n\r\n(.*)/s);
  const cl = /content-length: (\d+)/i.exec(head as string);
  if (cl) return Number(cl[1]);
  if (!/transfer-encoding: chunked/i.test(head as string)) return 0;
  let n = 0;
  for (let at = 0; ;) {
    const eol = rest.indexOf('\r\n', at);
    const size = parseInt(rest.slice(at, eol), 16);
    if (size === 0) return n;
    n += size;
    at = eol + 2 + size + 2;
  }
}

/** The test service's answer to `request`: `<method> <target> <body length>`, 204 for DELETE. */
export function respond(request: Uint8Array): Uint8Array {
  const s = text(request).replace(/^(\r\n)+/, '');
  const [method, target] = s.split(' ') as [string, string];
  if (method === 'DELETE') return bytes('HTTP/1.1 204 No Content\r\nconnection: keep-alive\r\n\r\n');
  const body = `${method} ${target} ${bodyLength(s)}\n`;
  const head = `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: keep-alive\r\n`;
  return bytes(method === 'HEAD' ? `${head}x-vcl-bodiless: 1\r\n\r\n` : `${head}\r\n${body}`);
}

/** A node:http server answering as `respond` says (byte for byte: no Date, explicit headers). */
export async function startService(): Promise<RunningService & { server: nodeHttp.Server }> {
  const server = nodeHttp.createServer((req, res) => {
    res.sendDate = false;
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      if (req.method === 'DELETE') {
        res.writeHead(204, { connection: 'keep-alive' });
        res.end();
        return;
      }
      const body = `${req.method} ${req.url} ${n}\n`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, connection: 'keep-alive' });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    endpoint: { host: '127.0.0.1', port },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const fixture: SubstrateConformanceFixture = {
  name: 'http',
  create: substrate,
  requests: REQUESTS,
  responses: RESPONSES,
  malformedRequests: MALFORMED_REQUESTS,
  malformedResponses: MALFORMED_RESPONSES,
  largestRequest: post(4096),
  oversizeRequest: post(4097),
  largestResponse: ok(8192),
  oversizeResponse: ok(8193),
  maxBufferedBytes: 1024 + 4096,
  startService,
  respond,
  delivered,
};
