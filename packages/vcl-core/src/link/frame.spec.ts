import fc from 'fast-check';
import { concatBytes } from './body';
import { FrameTooLargeError, MalformedFrameError, UnsupportedVersionError, VclError, EncodingError } from '../errors';
import {
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  writeFrameHeader,
  type Frame,
  type FrameInput,
} from './frame';

const frameArb: fc.Arbitrary<FrameInput> = fc.record({
  type: fc.integer({ min: 0, max: 255 }),
  flags: fc.integer({ min: 0, max: 255 }),
  body: fc.uint8Array({ maxLength: 300 }),
});

/** Cuts `bytes` at the given points (any order, duplicates allowed: empty chunks are pushed too). */
function cut(bytes: Uint8Array, points: readonly number[]): Uint8Array[] {
  const sorted = [...points].map((p) => p % (bytes.length + 1)).sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of sorted) {
    chunks.push(bytes.slice(prev, p));
    prev = p;
  }
  chunks.push(bytes.slice(prev));
  return chunks;
}

function plain(f: Frame): { type: number; flags: number; body: number[] } {
  return { type: f.type, flags: f.flags, body: [...f.body] };
}

describe('encodeFrame', () => {
  it('writes the 9-byte header: magic VL, version 1, type, flags, u32 BE length', () => {
    const bytes = encodeFrame({ type: 7, flags: 0x81, body: new Uint8Array([1, 2, 3]) });
    expect([...bytes]).toEqual([0x56, 0x4c, 1, 7, 0x81, 0, 0, 0, 3, 1, 2, 3]);
  });

  it('defaults flags to 0 and accepts an empty body', () => {
    expect([...encodeFrame({ type: 1, body: new Uint8Array(0) })]).toEqual([0x56, 0x4c, 1, 1, 0, 0, 0, 0, 0]);
  });

  it('refuses a body over the maximum with a message naming both sizes', () => {
    expect(() => encodeFrame({ type: 1, body: new Uint8Array(11) }, 10)).toThrow(
      new FrameTooLargeError('frame of 11 bytes exceeds the maximum of 10'),
    );
  });

  it('refuses a type or flags outside 0-255', () => {
    expect(() => encodeFrame({ type: 256, body: new Uint8Array(0) })).toThrow(EncodingError);
    expect(() => encodeFrame({ type: 1, flags: -1, body: new Uint8Array(0) })).toThrow(/flags must be an integer/);
  });
});

describe('FrameDecoder', () => {
  it('decodes several frames from one chunk', () => {
    const a = encodeFrame({ type: 1, body: new Uint8Array([9]) });
    const b = encodeFrame({ type: 2, flags: 3, body: new Uint8Array([8, 7]) });
    const frames = new FrameDecoder().push(concatBytes([a, b]));
    expect(frames.map(plain)).toEqual([
      { type: 1, flags: 0, body: [9] },
      { type: 2, flags: 3, body: [8, 7] },
    ]);
  });

  it('decodes a frame pushed one byte at a time', () => {
    const bytes = encodeFrame({ type: 5, body: new Uint8Array([1, 2, 3, 4]) });
    const d = new FrameDecoder();
    const out: Frame[] = [];
    for (const b of bytes) out.push(...d.push(new Uint8Array([b])));
    expect(out.map(plain)).toEqual([{ type: 5, flags: 0, body: [1, 2, 3, 4] }]);
    expect(d.buffered).toBe(0);
    expect(d.position).toBe(bytes.length);
    expect(() => d.end()).not.toThrow();
  });

  it('copies small bodies out of large chunks so a retained body does not pin the chunk', () => {
    const big = new Uint8Array(4096);
    big.set(encodeFrame({ type: 1, body: new Uint8Array([1, 2]) }));
    big.set(encodeFrame({ type: 0, body: new Uint8Array(4096 - 2 * FRAME_HEADER_BYTES - 2) }), FRAME_HEADER_BYTES + 2);
    const [small, large] = new FrameDecoder().push(big);
    expect(small!.body.buffer).not.toBe(big.buffer);
    expect(small!.body.buffer.byteLength).toBe(2);
    expect(large!.body.buffer).toBe(big.buffer);
  });

  it('returns views when zeroCopy is set', () => {
    const bytes = concatBytes([encodeFrame({ type: 1, body: new Uint8Array([1]) }), new Uint8Array(100)]);
    const d = new FrameDecoder({ zeroCopy: true });
    d.feed(bytes);
    expect(d.next()!.body.buffer).toBe(bytes.buffer);
  });

  it('rejects bad magic, naming what it found and where', () => {
    const d = new FrameDecoder();
    d.push(encodeFrame({ type: 1, body: new Uint8Array([1]) }));
    expect(() => d.push(new TextEncoder().encode('GET / HTTP/1.1\r\n'))).toThrow(
      /^bad frame magic 0x4745 at stream offset 10 \(expected 0x564c\)/,
    );
  });

  it('rejects an unknown version with UnsupportedVersionError', () => {
    const bytes = encodeFrame({ type: 1, body: new Uint8Array(0) });
    bytes[2] = 9;
    expect(() => new FrameDecoder().push(bytes)).toThrow(UnsupportedVersionError);
    expect(() => new FrameDecoder().push(bytes)).toThrow(/frame version 9 at stream offset 0 is not supported/);
  });

  it('rejects an oversized frame as soon as its header arrives, before any of the body', () => {
    const header = new Uint8Array(FRAME_HEADER_BYTES);
    writeFrameHeader(header, 0, 3, 0, 20 * 1024 * 1024);
    const d = new FrameDecoder();
    expect(() => d.push(header)).toThrow(FrameTooLargeError);
    expect(() => d.push(new Uint8Array(1))).toThrow(/^frame of 20971520 bytes exceeds the maximum of 16777216/);
    expect(DEFAULT_MAX_FRAME_BYTES).toBe(16777216);
  });

  it('honours a configured maximum and a raised one', () => {
    const bytes = encodeFrame({ type: 1, body: new Uint8Array(100) });
    expect(() => new FrameDecoder({ maxFrameBytes: 99 }).push(bytes)).toThrow(FrameTooLargeError);
    const d = new FrameDecoder({ maxFrameBytes: 99 });
    d.maxFrameBytes = 100;
    expect(d.push(bytes)).toHaveLength(1);
  });

  it('reports a stream that ends inside a header or a body', () => {
    const bytes = encodeFrame({ type: 4, body: new Uint8Array(10) });
    const inHeader = new FrameDecoder();
    inHeader.push(bytes.subarray(0, 5));
    expect(() => inHeader.end()).toThrow(/inside a frame header at stream offset 0: got 5 of 9 header bytes/);
    const inBody = new FrameDecoder();
    inBody.push(bytes.subarray(0, 12));
    expect(() => inBody.end()).toThrow(/got 3 of 10 body bytes of a type 4 frame/);
  });

  it('stays failed: every later call throws the same error', () => {
    const d = new FrameDecoder();
    let first: unknown;
    try {
      d.push(new Uint8Array(FRAME_HEADER_BYTES));
    } catch (e) {
      first = e;
    }
    expect(first).toBeInstanceOf(MalformedFrameError);
    expect(() => d.push(encodeFrame({ type: 1, body: new Uint8Array(0) }))).toThrow(first as Error);
    expect(() => d.end()).toThrow(first as Error);
  });

  it('refuses bytes after end()', () => {
    const d = new FrameDecoder();
    d.end();
    expect(() => d.push(new Uint8Array(1))).toThrow(/after the end of the stream/);
  });

  it('lets a caller act on every good frame before a bad one with feed/next', () => {
    const good = encodeFrame({ type: 1, body: new Uint8Array([1]) });
    const d = new FrameDecoder();
    d.feed(concatBytes([good, good, new Uint8Array(FRAME_HEADER_BYTES)]));
    expect(d.next()?.type).toBe(1);
    expect(d.next()?.type).toBe(1);
    expect(() => d.next()).toThrow(/bad frame magic 0x0000 at stream offset 20/);
  });

  it('decodes 20k frames fed in small chunks in linear time (no quadratic copying)', () => {
    const one = encodeFrame({ type: 2, body: new Uint8Array(100) });
    const stream = new Uint8Array(one.length * 20_000);
    for (let i = 0; i < 20_000; i++) stream.set(one, i * one.length);
    const d = new FrameDecoder();
    let n = 0;
    for (let at = 0; at < stream.length; at += 7) n += d.push(stream.subarray(at, at + 7)).length;
    expect(n).toBe(20_000);
    // A 256 KiB body arriving in 1-byte chunks is assembled once when complete.
    const big = encodeFrame({ type: 3, body: new Uint8Array(1 << 18).fill(7) });
    const d2 = new FrameDecoder();
    const frames: Frame[] = [];
    for (let at = 0; at < big.length; at += 1) frames.push(...d2.push(big.subarray(at, at + 1)));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.body.every((b) => b === 7)).toBe(true);
  });

  describe('properties', () => {
    it('round-trips random frame sequences split at random points', () => {
      fc.assert(
        fc.property(
          fc.array(frameArb, { maxLength: 20 }),
          fc.array(fc.nat(), { maxLength: 30 }),
          fc.boolean(),
          (frames, points, zeroCopy) => {
            const stream = concatBytes(frames.map((f) => encodeFrame(f)));
            const d = new FrameDecoder({ zeroCopy });
            const out: Frame[] = [];
            for (const chunk of cut(stream, points)) out.push(...d.push(chunk));
            d.end();
            expect(out.map(plain)).toEqual(frames.map((f) => ({ type: f.type, flags: f.flags, body: [...f.body] })));
            expect(d.buffered).toBe(0);
          },
        ),
        { numRuns: 500 },
      );
    });

    it('random bytes only ever throw VclError subclasses and always return', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 10 }), (bytes, points) => {
          const d = new FrameDecoder({ maxFrameBytes: 1000 });
          try {
            for (const chunk of cut(bytes, points)) d.push(chunk);
            d.end();
          } catch (e) {
            expect(e).toBeInstanceOf(VclError);
            expect(e).toBeInstanceOf(MalformedFrameError);
          }
        }),
        { numRuns: 1000 },
      );
    });

    it('mutated valid streams only ever throw MalformedFrameError (or subclasses) and always return', () => {
      fc.assert(
        fc.property(
          fc.array(frameArb, { minLength: 1, maxLength: 8 }),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 5 }),
          fc.nat(),
          fc.array(fc.nat(), { maxLength: 8 }),
          (frames, mutations, truncateAt, points) => {
            const stream = concatBytes(frames.map((f) => encodeFrame(f)));
            for (const [at, value] of mutations) stream[at % stream.length] = value;
            const input = stream.subarray(0, truncateAt % (stream.length + 1));
            const d = new FrameDecoder({ maxFrameBytes: 400 });
            let frameCount = 0;
            try {
              for (const chunk of cut(input, points)) frameCount += d.push(chunk).length;
              d.end();
            } catch (e) {
              expect(e).toBeInstanceOf(MalformedFrameError);
              expect((e as Error).message.length).toBeGreaterThan(10);
            }
            expect(frameCount).toBeLessThanOrEqual(Math.floor(input.length / FRAME_HEADER_BYTES));
          },
        ),
        { numRuns: 1000 },
      );
    });
  });
});
