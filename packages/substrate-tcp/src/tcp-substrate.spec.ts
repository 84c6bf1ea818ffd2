import 'reflect-metadata';
import { container } from 'tsyringe';
import { OptionsError, resolveAll, SUBSTRATE, type Conversation } from '@vcl/core';
import { registration, tcp } from './tcp-substrate';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);

function collect(c: Conversation): { text: () => string; ended: Promise<Error | undefined> } {
  let text = '';
  c.onData((x) => (text += new TextDecoder().decode(x)));
  return { text: () => text, ended: new Promise((resolve) => c.onEnd(resolve)) };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('tcp substrate', () => {
  it('validates its options, naming the bad one', () => {
    expect(tcp().substrate.pattern).toBe('stream');
    expect(tcp({ framing: 'line' }).substrate.pattern).toBe('request-response');
    expect(() => registration.create({ framing: 'lines' })).toThrow(OptionsError);
    expect(() => registration.create({ framing: 'lines' })).toThrow(/framing/);
    expect(() => registration.create({ maxMesageBytes: 3 })).toThrow(/maxMesageBytes/);
  });

  it('registers itself under the substrate slot', () => {
    const child = container.createChildContainer();
    registration.create({ framing: 'length-prefixed' }).register(child);
    const [s] = resolveAll(child, SUBSTRATE);
    expect(s?.name).toBe('tcp');
    expect(s?.pattern).toBe('request-response');
  });

  it('listens and dials on loopback, both ways, with end propagating', async () => {
    const { substrate } = tcp({ framing: 'line' });
    const accepted: Conversation[] = [];
    const listener = await substrate.listen({ host: '127.0.0.1', port: 0 }, (c) => {
      accepted.push(c);
      c.onData((x) => c.write(new Uint8Array([...b('echo '), ...x])));
    });
    try {
      expect(listener.endpoint.port).toBeGreaterThan(0);
      const c = await substrate.dial(listener.endpoint);
      const got = collect(c);
      c.write(b('hi\n'));
      await until(() => got.text() === 'echo hi\n');
      expect(accepted[0]!.remote).toMatch(/^127\.0\.0\.1:\d+$/);
      c.end();
      expect(await got.ended).toBeUndefined();
    } finally {
      await listener.close();
    }
  });

  it('supports half-close: a client FIN is told to an input-end handler and the answer still goes out', async () => {
    const { substrate } = tcp({ framing: 'line' });
    const told: string[] = [];
    const listener = await substrate.listen({ host: '127.0.0.1', port: 0 }, (c) => {
      let got = '';
      c.onData((x) => (got += new TextDecoder().decode(x)));
      c.onInputEnd?.(() => {
        told.push(got);
        setTimeout(() => {
          c.write(b(`late answer to ${got}`));
          c.end();
        }, 20);
      });
    });
    try {
      const c = await substrate.dial(listener.endpoint);
      const got = collect(c);
      c.write(b('q\n'));
      // Half-close the dialled socket the way a client like `nc -N` does.
      (c as unknown as { socket: { end(): void } }).socket.end();
      expect(await got.ended).toBeUndefined();
      expect(told).toEqual(['q\n']);
      expect(got.text()).toBe('late answer to q\n');
    } finally {
      await listener.close();
    }
  });

  it('ends the conversation on a client FIN when nobody listens for half-closes', async () => {
    const { substrate } = tcp();
    const ended: (Error | undefined)[] = [];
    const listener = await substrate.listen({ host: '127.0.0.1', port: 0 }, (c) => c.onEnd((e) => ended.push(e)));
    try {
      const c = await substrate.dial(listener.endpoint);
      const got = collect(c);
      c.end();
      await got.ended;
      await until(() => ended.length === 1);
      expect(ended).toEqual([undefined]);
    } finally {
      await listener.close();
    }
  });

  it('rejects a dial to a closed port with a typed error naming the address', async () => {
    const { substrate } = tcp();
    const listener = await substrate.listen({ host: '127.0.0.1', port: 0 }, () => undefined);
    const port = listener.endpoint.port!;
    await listener.close();
    await expect(substrate.dial({ host: '127.0.0.1', port })).rejects.toThrow(
      `cannot reach the service at 127.0.0.1:${port}`,
    );
    await expect(substrate.dial({ command: ['x'] })).rejects.toThrow(/needs host and port/);
  });

  it('pauses and resumes reading (backpressure)', async () => {
    const { substrate } = tcp();
    let server: Conversation | undefined;
    const listener = await substrate.listen({ host: '127.0.0.1', port: 0 }, (c) => (server = c));
    try {
      const c = await substrate.dial(listener.endpoint);
      await until(() => server !== undefined);
      let received = 0;
      server!.onData((x) => (received += x.length));
      server!.pause();
      c.write(new Uint8Array(1000));
      await new Promise((r) => setTimeout(r, 50));
      expect(received).toBe(0);
      server!.resume();
      await until(() => received === 1000);
      c.destroy();
    } finally {
      await listener.close();
    }
  });
});
