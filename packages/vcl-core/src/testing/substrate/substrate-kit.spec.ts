import { AssertionError } from 'node:assert';
import * as net from 'node:net';
import type { Conversation, Endpoint, Framer, Listener, Substrate } from '../../contracts/substrate';
import { FramingError, MessageTooLargeError } from '../../errors';
import { describeSubstrateConformance } from './conformance';
import { checkListen } from './conversation-checks';
import type { SubstrateConformanceFixture } from './fixture';
import {
  checkErrorResponses,
  checkEverySplitPoint,
  checkMalformed,
  checkMaximumSize,
  checkRoundTrip,
  type FramingSample,
} from './framing-checks';
import { connectTcp, socketConversation } from './tcp-client';

// A minimal line protocol (one request line, one response line, at most MAX bytes each) run
// through the kit as a known-good substrate, and broken variants of it that each check must reject.

const MAX = 64;
const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

class LineFramer implements Framer {
  private parts: Uint8Array[] = [];
  private size = 0;
  private failed?: Error;
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failed) throw this.failed;
    const out: Uint8Array[] = [];
    let from = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, nl + 1)) {
      const line = Buffer.concat([...this.parts, chunk.subarray(from, nl + 1)]);
      this.parts = [];
      this.size = 0;
      from = nl + 1;
      this.check(line.length, line.includes(0));
      out.push(new Uint8Array(line));
    }
    this.parts.push(chunk.subarray(from));
    this.size += chunk.length - from;
    this.check(this.size, chunk.subarray(from).includes(0));
    return out;
  }
  get buffered(): number {
    return this.size;
  }
  private check(size: number, nul: boolean): void {
    if (size > MAX) throw (this.failed = new MessageTooLargeError(`line longer than ${MAX} bytes`));
    if (nul) throw (this.failed = new FramingError('NUL byte in a line'));
  }
}

function listenTcp(
  endpoint: Endpoint,
  on: (c: Conversation) => void,
  wrap = (c: Conversation) => c,
): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    on(wrap(socketConversation(s)));
  });
  return new Promise((resolve) =>
    server.listen(endpoint.port ?? 0, endpoint.host ?? '127.0.0.1', () =>
      resolve({
        endpoint: { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port },
        close: () => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))),
      }),
    ),
  );
}

function lineSubstrate(overrides: Partial<Substrate> = {}): Substrate {
  return {
    name: 'line',
    pattern: 'request-response',
    requestFramer: () => new LineFramer(),
    responseFramer: () => new LineFramer(),
    listen: (endpoint, on) => listenTcp(endpoint, on),
    dial: async (endpoint, signal) => {
      if (signal?.aborted) throw new Error('aborted');
      return connectTcp(endpoint);
    },
    errorResponse: (e) => b(`ERR ${e.message}\n`),
    ...overrides,
  };
}

const OVERSIZE = b(`${'x'.repeat(MAX * 20)}\n`);
const respond = (r: Uint8Array): Uint8Array => b(`OK ${Buffer.from(r).toString('latin1')}`);

const fixture = (overrides: Partial<Substrate> = {}): SubstrateConformanceFixture => ({
  name: 'line (kit self-test)',
  create: () => lineSubstrate(overrides),
  requests: [b('get a\n'), b('\n'), b('set a 1\n')],
  responses: [b('OK 1\n'), b('\n'), b('ERR no\n')],
  malformedRequests: [b('nul\0\n')],
  largestRequest: b(`${'x'.repeat(MAX - 1)}\n`),
  oversizeRequest: OVERSIZE,
  maxBufferedBytes: MAX,
  respond,
  startService: async () => {
    const listener = await listenTcp({ host: '127.0.0.1', port: 0 }, (c) => {
      const f = new LineFramer();
      c.onData((bytes) => f.push(bytes).forEach((m) => c.write(respond(m))));
    });
    return listener;
  },
});

describeSubstrateConformance(fixture());

// A raw byte stream (pattern `stream`): messages are whatever arrived; only bytes and order count.
const rawFramer = (): Framer => ({ push: (c) => (c.length ? [new Uint8Array(c)] : []), buffered: 0 });
describeSubstrateConformance({
  name: 'raw stream (kit self-test)',
  create: () => lineSubstrate({ name: 'raw', pattern: 'stream', requestFramer: rawFramer, responseFramer: rawFramer }),
  exactBoundaries: false,
  requests: [b('any bytes'), b('\0\xff'), b('more\n')],
  responses: [b('echo'), b('\n')],
  malformedRequests: [],
  respond: (r) => r,
  startService: async () =>
    listenTcp({ host: '127.0.0.1', port: 0 }, (c) => c.onData((bytes) => c.write(new Uint8Array(bytes)))),
});

const sample = (framer: () => Framer, exact = true): FramingSample => ({ direction: 'request', framer, exact });
const good = fixture().requests;

describe('the substrate kit rejects broken substrates', () => {
  it('a framer that drops the line end fails the round trip', () => {
    const dropping = (): Framer => {
      const f = new LineFramer();
      return {
        push: (c) => f.push(c).map((m) => m.subarray(0, m.length - 1)),
        get buffered() {
          return f.buffered;
        },
      };
    };
    expect(() => checkRoundTrip(sample(dropping), good)).toThrow(AssertionError);
  });

  it('a framer that cuts at chunk boundaries fails the split-point check but not the one-chunk round trip', () => {
    const chunky = (): Framer => {
      const f = new LineFramer();
      return {
        push: (c) => {
          const out = f.push(c);
          const rest = (f as unknown as { parts: Uint8Array[] }).parts.splice(0);
          (f as unknown as { size: number }).size = 0;
          return [...out, ...rest.filter((p) => p.length)];
        },
        buffered: 0,
      };
    };
    expect(() => checkRoundTrip(sample(chunky), good)).not.toThrow();
    expect(() => checkEverySplitPoint(sample(chunky), good)).toThrow(/split at byte/);
  });

  it('a framer without a size limit fails the maximum-size check', () => {
    const unlimited = (): Framer => {
      const f = new LineFramer();
      (f as unknown as { check: () => void }).check = () => undefined;
      return f;
    };
    expect(() => checkMaximumSize(sample(unlimited), good[0]!, OVERSIZE, MAX)).toThrow(/expected MessageTooLargeError/);
  });

  it('a framer that buffers a whole oversize message before rejecting it fails the early-rejection check', () => {
    const late = (): Framer => {
      let size = 0;
      let failed: Error | undefined;
      return {
        push: (c) => {
          if (failed) throw failed;
          size += c.length;
          if (c.includes(0x0a) && size > MAX) throw (failed = new MessageTooLargeError('too long'));
          return [];
        },
        get buffered() {
          return size;
        },
      };
    };
    expect(() => checkMaximumSize(sample(late), b(''), OVERSIZE, MAX)).toThrow(AssertionError);
  });

  it('a framer that takes malformed input, or throws a plain Error for it, fails the malformed check', () => {
    const lenient = (): Framer => {
      const f = new LineFramer();
      (f as unknown as { check: (n: number) => void }).check = (n) => {
        if (n > MAX) throw new MessageTooLargeError('too long');
      };
      return f;
    };
    expect(() => checkMalformed(sample(lenient), fixture().malformedRequests, good)).toThrow(/expected FramingError/);
    const plain = (): Framer => ({
      push: () => {
        throw new Error('bad');
      },
      buffered: 0,
    });
    expect(() => checkMalformed(sample(plain), fixture().malformedRequests, [])).toThrow(/expected FramingError/);
  });

  it('a framer that stays usable after an oversize message fails the maximum-size check', () => {
    const forgetful = (): Framer => {
      let f = new LineFramer();
      return {
        push: (c) => {
          try {
            return f.push(c);
          } catch (e) {
            f = new LineFramer();
            throw e;
          }
        },
        get buffered() {
          return f.buffered;
        },
      };
    };
    expect(() => checkMaximumSize(sample(forgetful), good[0]!, OVERSIZE, MAX)).toThrow(/stay failed/);
  });

  it('an error reply that is two messages fails the error-reply check', () => {
    const substrate = lineSubstrate({ errorResponse: () => b('ERR\nERR\n') });
    expect(() => checkErrorResponses(substrate, [new FramingError('x')])).toThrow(/exactly one/);
  });

  it('a listener whose conversations lose a byte of each response fails the listen check', async () => {
    const lossy = (c: Conversation): Conversation => ({ ...c, write: (bytes) => c.write(bytes.subarray(1)) });
    const broken = lineSubstrate({ listen: (endpoint, on) => listenTcp(endpoint, on, lossy) });
    await expect(
      checkListen({ ...fixture(), create: () => broken, conversations: 2, timeoutMs: 500 }),
    ).rejects.toThrow();
  });
});
