import fc from 'fast-check';
import { MessageTooLargeError } from '@vcl/core';
import { framerFor, lengthPrefixedFramer, lineFramer, rawFramer } from './framers';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const t = (m: Uint8Array[]): string[] => m.map((x) => new TextDecoder().decode(x));
const lp = (body: string): Uint8Array => {
  const x = b(body);
  const out = new Uint8Array(4 + x.length);
  new DataView(out.buffer).setUint32(0, x.length);
  out.set(x, 4);
  return out;
};

describe('tcp framers', () => {
  it('raw passes chunks through', () => {
    const f = rawFramer();
    expect(t(f.push(b('ab')))).toEqual(['ab']);
    expect(f.push(new Uint8Array())).toEqual([]);
  });

  it('line cuts at newlines across chunks, newline included', () => {
    const f = lineFramer(100);
    expect(t(f.push(b('GET a\nGE')))).toEqual(['GET a\n']);
    expect(f.buffered).toBe(2);
    expect(t(f.push(b('T b\n\nx')))).toEqual(['GET b\n', '\n']);
    expect(t(f.push(b('\n')))).toEqual(['x\n']);
  });

  it('line refuses a line over the maximum, and stays refused', () => {
    const f = lineFramer(8);
    expect(t(f.push(b('1234567\n')))).toEqual(['1234567\n']);
    expect(() => f.push(b('123456789'))).toThrow(MessageTooLargeError);
    expect(() => f.push(b('\n'))).toThrow(/maxMessageBytes/);
    expect(() => lineFramer(4).push(b('123456\n'))).toThrow(MessageTooLargeError);
  });

  it('length-prefixed cuts by the u32 header, header included', () => {
    const f = lengthPrefixedFramer(100);
    const both = new Uint8Array([...lp('hello'), ...lp('')]);
    expect(f.push(both.subarray(0, 3))).toEqual([]);
    const out = f.push(both.subarray(3));
    expect(out.map((m) => m.length)).toEqual([9, 4]);
    expect(new TextDecoder().decode(out[0]!.subarray(4))).toBe('hello');
  });

  it('length-prefixed refuses an oversize announcement as soon as the header arrives', () => {
    const f = lengthPrefixedFramer(10);
    expect(() => f.push(new Uint8Array([0, 0, 0, 11]))).toThrow(/announces 11 bytes, more than maxMessageBytes 10/);
    expect(() => f.push(new Uint8Array([0]))).toThrow(MessageTooLargeError);
  });

  it.each(['line', 'length-prefixed'] as const)(
    '%s cuts identically however the stream is chunked (property)',
    (framing) => {
      fc.assert(
        fc.property(
          fc.array(
            fc.string({ maxLength: 12 }).map((s) => s.replace(/\n/g, '')),
            { maxLength: 15 },
          ),
          fc.array(fc.nat({ max: 30 }), { maxLength: 20 }),
          (msgs, cuts) => {
            const encoded = msgs.map((m) => (framing === 'line' ? b(`${m}\n`) : lp(m)));
            const stream = new Uint8Array(encoded.reduce((n, e) => n + e.length, 0));
            let o = 0;
            for (const e of encoded) {
              stream.set(e, o);
              o += e.length;
            }
            const f = framerFor(framing, 1000);
            const got: Uint8Array[] = [];
            let at = 0;
            for (const c of cuts) {
              const end = Math.min(stream.length, at + c);
              got.push(...f.push(stream.subarray(at, end)));
              at = end;
            }
            got.push(...f.push(stream.subarray(at)));
            expect(got.map((g) => [...g])).toEqual(encoded.map((e) => [...e]));
            expect(f.buffered).toBe(0);
          },
        ),
      );
    },
  );
});
