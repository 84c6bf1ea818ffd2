import * as net from 'node:net';
import { buildForProcesses, Deployment } from './harness';

// A stream stack (tcp, framing: raw) end to end with real processes: three replicas of the
// counter behind `vcl service`, one `vcl client`, and plain `net` clients that half-close (as
// `nc -N` does) or send and go away at once.

jest.setTimeout(120_000);

beforeAll(() => buildForProcesses(), 240_000);

/** Sends `line`, half-closes, and resolves with everything read until the connection ends. */
function halfClose(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    socket.on('data', (d) => (got += d.toString()));
    socket.on('end', () => {
      socket.end();
      resolve(got);
    });
    socket.on('error', reject);
    socket.end(`${line}\n`);
  });
}

/** Sends `line` and goes away without reading (destroyed once the bytes are handed to the kernel). */
function sendAndGo(port: number, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', reject);
    socket.write(`${line}\n`, () => {
      socket.destroy();
      resolve();
    });
  });
}

async function totals(d: Deployment, count: number): Promise<string[]> {
  const deadline = performance.now() + 20_000;
  for (;;) {
    const digests = await Promise.all(d.members.map((m) => d.digest(m)));
    const done = digests.every((x) => Number(x.split(':')[1]) >= count);
    if (done || performance.now() > deadline) return digests;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('tcp framing raw, 3 replicas', () => {
  let d: Deployment;
  afterEach(async () => {
    await d?.stop();
  });

  it('sessions: one-at-a-time: clients that half-close (nc -N) get their reply, and the replicas agree exactly', async () => {
    d = new Deployment({
      mode: 'external',
      members: 3,
      substrate: '{ plugin: tcp, options: { framing: raw }, sessions: one-at-a-time }',
    });
    await d.start();
    const replies: string[] = [];
    for (let i = 1; i <= 30; i++) replies.push(await halfClose(d.clientPort, `h${i} ${i}`));
    expect(replies).toEqual(Array.from({ length: 30 }, (_, i) => `h${i + 1} ${((i + 1) * (i + 2)) / 2}\n`));
    const digests = await totals(d, 30);
    expect(new Set(digests).size).toBe(1);
    expect(digests[0]).toMatch(/^465:30:0:/);
  });

  it('sessions: isolated: 300 clients that each send one increment and go away lose no write at any replica', async () => {
    d = new Deployment({
      mode: 'external',
      members: 3,
      substrate: '{ plugin: tcp, options: { framing: raw }, sessions: isolated }',
    });
    await d.start();
    for (let batch = 0; batch < 10; batch++)
      await Promise.all(Array.from({ length: 30 }, (_, i) => sendAndGo(d.clientPort, `g${batch}-${i} 1`)));
    const digests = await totals(d, 300);
    // Concurrent sessions of an isolated stream may be applied in different orders (the user
    // asserted their order does not matter): totals and counts agree, the order hash may not.
    for (const x of digests) expect(x).toMatch(/^300:300:0:/);
  });
});
