import * as nodeHttp from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { PassThroughRelay } from '@vcl/core/testing';
import { createServer, type RequestListener, type Server } from '../src';
import { startService, substrate } from './fixture';

// Real HTTP clients (node:http with a keep-alive agent, fetch, a raw socket for bad input)
// against the substrate: through listen + dial (a pass-through relay in front of a node:http
// service), and against the internal API's createServer.

const handler: RequestListener = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part1,');
      setImmediate(() => res.end('part2'));
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.setHeader('x-reply', 'yes');
    res.end(JSON.stringify({ method: req.method, url: req.url, body, te: req.headers['transfer-encoding'] ?? null }));
  });
};

interface Target {
  readonly port: number;
  close(): Promise<void>;
}

async function viaRelay(): Promise<Target> {
  const service = await startService();
  service.server.removeAllListeners('request');
  service.server.on('request', handler);
  const relay = await PassThroughRelay.start({ substrate: substrate(), service: service.endpoint });
  return {
    port: relay.endpoint.port as number,
    close: async () => {
      await relay.close();
      await service.close();
    },
  };
}

async function viaInternalApi(): Promise<Target & { server: Server }> {
  const server = createServer({ maxHeaderBytes: 1024, maxBodyBytes: 4096, lingerMs: 500 }, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function request(
  agent: nodeHttp.Agent,
  port: number,
  options: nodeHttp.RequestOptions & { body?: string | string[] },
): Promise<{ status: number; headers: nodeHttp.IncomingHttpHeaders; body: string; socket: unknown }> {
  return new Promise((resolve, reject) => {
    const req = nodeHttp.request({ host: '127.0.0.1', port, agent, ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode as number,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
          socket: req.socket,
        }),
      );
    });
    req.on('error', reject);
    for (const part of [options.body ?? []].flat()) req.write(part);
    req.end();
  });
}

/** Writes raw bytes and reads everything until the server closes. */
function raw(port: number, input: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(input);
  });
}

describe.each([
  ['listen + dial through a relay, node:http service', viaRelay],
  ['internal API createServer', viaInternalApi],
])('HTTP clients against the substrate: %s', (_name, start) => {
  let target: Target;
  beforeAll(async () => {
    target = await start();
  });
  afterAll(() => target.close());

  it('node:http with a keep-alive agent: several requests on one connection, fixed-length and chunked bodies', async () => {
    const agent = new nodeHttp.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const a = await request(agent, target.port, { method: 'GET', path: '/a?x=1' });
      const b = await request(agent, target.port, {
        method: 'POST',
        path: '/b',
        headers: { 'content-length': 5 },
        body: 'hello',
      });
      const c = await request(agent, target.port, { method: 'PUT', path: '/c', body: ['chunk-1,', 'chunk-2'] });
      expect([a.status, b.status, c.status]).toEqual([200, 200, 200]);
      expect(JSON.parse(a.body)).toEqual({ method: 'GET', url: '/a?x=1', body: '', te: null });
      expect(JSON.parse(b.body)).toEqual({ method: 'POST', url: '/b', body: 'hello', te: null });
      expect(JSON.parse(c.body)).toEqual({ method: 'PUT', url: '/c', body: 'chunk-1,chunk-2', te: 'chunked' });
      expect(a.headers['x-reply']).toBe('yes');
      expect(a.socket).toBe(c.socket); // kept alive
    } finally {
      agent.destroy();
    }
  });

  it('HEAD gets the headers, no body and no VCL marker', async () => {
    const agent = new nodeHttp.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const head = await request(agent, target.port, { method: 'HEAD', path: '/h' });
      const after = await request(agent, target.port, { method: 'GET', path: '/after-head' });
      expect(head.status).toBe(200);
      expect(head.body).toBe('');
      expect(head.headers['x-reply']).toBe('yes');
      expect(head.headers['x-vcl-bodiless']).toBeUndefined();
      expect(JSON.parse(after.body).url).toBe('/after-head');
    } finally {
      agent.destroy();
    }
  });

  it('a streamed response arrives whole (chunked)', async () => {
    const res = await fetch(`http://127.0.0.1:${target.port}/stream`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('part1,part2');
  });

  it('fetch: GET and POST with a JSON body, several at once', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        fetch(`http://127.0.0.1:${target.port}/f/${i}`, { method: 'POST', body: JSON.stringify({ i }) }).then((r) =>
          r.json(),
        ),
      ),
    );
    expect(results).toEqual(
      Array.from({ length: 5 }, (_, i) => ({ method: 'POST', url: `/f/${i}`, body: `{"i":${i}}`, te: null })),
    );
  });

  it('Expect: 100-continue gets its 100 and then the response', async () => {
    const res = await new Promise<string>((resolve, reject) => {
      const req = nodeHttp.request({
        host: '127.0.0.1',
        port: target.port,
        method: 'POST',
        path: '/expect',
        headers: { expect: '100-continue', 'content-length': 4 },
      });
      req.on('continue', () => req.end('body'));
      req.on('response', (r) => {
        let s = '';
        r.on('data', (c: Buffer) => (s += c));
        r.on('end', () => resolve(s));
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(JSON.parse(res)).toMatchObject({ url: '/expect', body: 'body' });
  });

  it('a bad request line gets 400 with the reason, the connection closes, and serving goes on', async () => {
    const reply = await raw(target.port, 'HELLO THERE\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(reply).toContain('malformed request line "HELLO THERE"');
    expect(await (await fetch(`http://127.0.0.1:${target.port}/still-serving`)).json()).toMatchObject({
      url: '/still-serving',
    });
  });

  it('an oversize body gets 413 from its Content-Length before the body is read; serving goes on', async () => {
    const body = Buffer.alloc(200_000, 0x61);
    const reply = await raw(
      target.port,
      Buffer.concat([Buffer.from(`POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`), body]),
    );
    expect(reply).toMatch(/^HTTP\/1\.1 413 Content Too Large\r\n/);
    expect(reply).toContain('request body of 200000 bytes (Content-Length) exceeds the maximum of 4096 bytes');
    const res = await fetch(`http://127.0.0.1:${target.port}/after-413`, { method: 'POST', body: 'x'.repeat(4096) });
    expect(((await res.json()) as { body: string }).body).toHaveLength(4096);
  });

  it('an oversize chunked body gets 413 via fetch (streamed body); a header section too large gets 431', async () => {
    const res = await fetch(`http://127.0.0.1:${target.port}/big-chunked`, {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 10; i++) controller.enqueue(new Uint8Array(1000));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    const big = await fetch(`http://127.0.0.1:${target.port}/h`, { headers: { 'x-big': 'v'.repeat(2000) } });
    expect(big.status).toBe(431);
    expect((await fetch(`http://127.0.0.1:${target.port}/ok`)).status).toBe(200);
  });
});

describe('internal API: node:http compatibility', () => {
  it('switching the import keeps the behaviour: the same handler answers alike under node:http and @vcl/substrate-http', async () => {
    const ours = await viaInternalApi();
    const theirs = nodeHttp.createServer(handler);
    await new Promise<void>((resolve) => theirs.listen(0, '127.0.0.1', resolve));
    try {
      const ask = async (port: number) => {
        const res = await fetch(`http://127.0.0.1:${port}/same?q=1`, { method: 'PATCH', body: 'same body' });
        return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
      };
      expect(await ask(ours.port)).toEqual(await ask((theirs.address() as AddressInfo).port));
    } finally {
      await ours.close();
      await new Promise((resolve) => theirs.close(resolve));
    }
  });

  it('emits listening and close, reports its address, and reports a port in use as an error event', async () => {
    const server = createServer(handler);
    const events: string[] = [];
    server.on('close', () => events.push('close'));
    await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, () => resolve()));
    expect(server.listening).toBe(true);
    const address = server.address() as AddressInfo;
    expect(address).toEqual({ address: '127.0.0.1', family: 'IPv4', port: expect.any(Number) });
    const second = createServer(handler);
    const error = await new Promise<Error>((resolve) => {
      second.on('error', resolve);
      second.listen(address.port, '127.0.0.1');
    });
    expect((error as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(events).toEqual(['close']);
    expect(server.listening).toBe(false);
  });

  it('answers without a Date header by default (replicas must answer alike), with one when sendDate is set', async () => {
    for (const sendDate of [false, true]) {
      const server = createServer({ sendDate }, (_req, res) => res.end('x'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(res.headers.has('date')).toBe(sendDate);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('conversation(): request messages in, response messages out, as a service-side interceptor uses it', async () => {
    const server = createServer(handler);
    const conversation = server.conversation();
    const responses: string[] = [];
    const framer = substrate().responseFramer();
    conversation.onData((bytes) =>
      framer.push(bytes).forEach((m) => responses.push(Buffer.from(m).toString('latin1'))),
    );
    conversation.write(
      new Uint8Array(Buffer.from('GET /one HTTP/1.1\r\nHost: x\r\n\r\nHEAD /two HTTP/1.1\r\nHost: x\r\n\r\n')),
    );
    conversation.write(new Uint8Array(Buffer.from('GET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')));
    conversation.write(new Uint8Array(Buffer.from('GET /four HTTP/1.1\r\nHost: x\r\n\r\n')));
    const ended = new Promise<Error | undefined>((resolve) => conversation.onEnd(resolve));
    await new Promise((resolve) => setTimeout(resolve, 200));
    conversation.end();
    expect(await ended).toBeUndefined();
    expect(responses.map((r) => r.split('\r\n')[0])).toEqual(Array(4).fill('HTTP/1.1 200 OK'));
    expect(responses[1]).toContain('x-vcl-bodiless: 1');
    expect(responses.map((r) => (/"url":"([^"]+)"/.exec(r) ?? [])[1])).toEqual(['/one', undefined, '/three', '/four']);
  });
});
