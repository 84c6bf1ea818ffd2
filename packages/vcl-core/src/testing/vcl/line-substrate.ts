import type { ExchangePattern, Framer, Substrate } from '../../contracts/substrate';
import { MessageTooLargeError, VclError } from '../../errors';

/**
 * A test double of a substrate with no network of its own: newline-framed request-response or a
 * raw byte stream. Engine tests pair it with in-process backends; real deployments use a real
 * substrate plugin.
 */
export function lineSubstrate(pattern: ExchangePattern = 'request-response', maxLine = 64 * 1024): Substrate {
  const framer = (): Framer => (pattern === 'stream' ? rawFramer() : newlineFramer(maxLine));
  return {
    name: 'test-line',
    pattern,
    requestFramer: framer,
    responseFramer: framer,
    listen: () => Promise.reject(new VclError('test-line substrate cannot listen')),
    dial: () => Promise.reject(new VclError('test-line substrate cannot dial')),
    errorResponse: (error) => new TextEncoder().encode(`ERR ${error.message}\n`),
  };
}

function rawFramer(): Framer {
  return { push: (chunk) => (chunk.length ? [chunk] : []), buffered: 0 };
}

function newlineFramer(max: number): Framer {
  let held = new Uint8Array(0);
  return {
    get buffered() {
      return held.length;
    },
    push(chunk: Uint8Array): Uint8Array[] {
      const data = new Uint8Array(held.length + chunk.length);
      data.set(held);
      data.set(chunk, held.length);
      const out: Uint8Array[] = [];
      let start = 0;
      for (let i = 0; i < data.length; i++)
        if (data[i] === 0x0a) {
          out.push(data.slice(start, i + 1));
          start = i + 1;
        }
      held = data.slice(start);
      if (held.length > max) throw new MessageTooLargeError(`line longer than ${max} bytes`);
      return out;
    },
  };
}
