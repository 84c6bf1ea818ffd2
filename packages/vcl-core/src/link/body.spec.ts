import fc from 'fast-check';
import { EncodingError, MalformedFrameError } from '../errors';
import { BodyReader, BodyWriter } from './body';

type Field =
  | { kind: 'u8'; v: number }
  | { kind: 'bool'; v: boolean }
  | { kind: 'u16'; v: number }
  | { kind: 'u32'; v: number }
  | { kind: 'u64'; v: number }
  | { kind: 'varint'; v: number }
  | { kind: 'bytes'; v: Uint8Array }
  | { kind: 'string'; v: string };

const fieldArb: fc.Arbitrary<Field> = fc.oneof(
  fc.record({ kind: fc.constant('u8' as const), v: fc.integer({ min: 0, max: 0xff }) }),
  fc.record({ kind: fc.constant('bool' as const), v: fc.boolean() }),
  fc.record({ kind: fc.constant('u16' as const), v: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ kind: fc.constant('u32' as const), v: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ kind: fc.constant('u64' as const), v: fc.maxSafeNat() }),
  fc.record({ kind: fc.constant('varint' as const), v: fc.oneof(fc.nat(300), fc.maxSafeNat()) }),
  fc.record({ kind: fc.constant('bytes' as const), v: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({ kind: fc.constant('string' as const), v: fc.string({ unit: 'grapheme', maxLength: 20 }) }),
);

function write(w: BodyWriter, f: Field): void {
  switch (f.kind) {
    case 'bool':
      w.bool(f.v);
      break;
    case 'bytes':
      w.bytes(f.v);
      break;
    case 'string':
      w.string(f.v);
      break;
    default:
      w[f.kind](f.v);
  }
}

function read(r: BodyReader, kind: Field['kind']): unknown {
  const v = r[kind]('f');
  return v instanceof Uint8Array ? [...v] : v;
}

describe('BodyWriter / BodyReader', () => {
  it('round-trips every field type in sequence', () => {
    fc.assert(
      fc.property(fc.array(fieldArb, { maxLength: 12 }), fc.nat(10), (fields, capacity) => {
        const w = new BodyWriter(capacity);
        for (const f of fields) write(w, f);
        const body = w.finish();
        expect(w.length).toBe(body.length);
        const r = new BodyReader(body);
        for (const f of fields) expect(read(r, f.kind)).toEqual(f.v instanceof Uint8Array ? [...f.v] : f.v);
        r.end();
        expect(r.remaining).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it('encodes varints as unsigned LEB128 and u64 big-endian', () => {
    expect([...new BodyWriter().varint(0).varint(127).varint(128).varint(300).finish()]).toEqual([
      0, 127, 0x80, 1, 0xac, 2,
    ]);
    expect([...new BodyWriter().u64(2 ** 32 + 5).finish()]).toEqual([0, 0, 0, 1, 0, 0, 0, 5]);
  });

  it('names the field and the shortfall when a body is too short', () => {
    const r = new BodyReader(new Uint8Array([0, 1]), 'hello frame');
    expect(() => r.u32('incarnation')).toThrow(
      new MalformedFrameError(
        'hello frame: body too short reading incarnation (u32) at offset 0: needs 4 bytes, 2 left',
      ),
    );
  });

  it('refuses a length prefix longer than the rest of the body', () => {
    const body = new BodyWriter().varint(50).raw(new Uint8Array(3)).finish();
    expect(() => new BodyReader(body).bytes('payload')).toThrow(
      /payload \(bytes\) at offset 1: needs 50 bytes, 3 left/,
    );
  });

  it('refuses overlong, oversized and unterminated varints', () => {
    expect(() => new BodyReader(new Uint8Array([0x80, 0])).varint('n')).toThrow(/not in its shortest form/);
    expect(() => new BodyReader(new Uint8Array(9).fill(0xff)).varint('n')).toThrow(/longer than 8 bytes/);
    expect(() => new BodyReader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])).varint('n')).toThrow(
      /exceeds 2\^53-1/,
    );
    expect(() => new BodyReader(new Uint8Array([0x80])).varint('n')).toThrow(/runs past the end/);
  });

  it('refuses a u64 above 2^53-1, a bool other than 0/1, invalid UTF-8 and trailing bytes', () => {
    expect(() => new BodyReader(new Uint8Array([0, 0x20, 0, 0, 0, 0, 0, 0])).u64('n')).toThrow(MalformedFrameError);
    expect(() => new BodyReader(new Uint8Array([2])).bool('b')).toThrow(/b \(bool\) at offset 0 is 2/);
    expect(() => new BodyReader(new Uint8Array([2, 0xc3, 0x28])).string('id')).toThrow(
      /id \(string\).*not valid UTF-8/,
    );
    const r = new BodyReader(new Uint8Array([1, 2]));
    r.u8('a');
    expect(() => r.end()).toThrow(/1 unexpected trailing bytes after offset 1/);
  });

  it('refuses values a field cannot hold with EncodingError', () => {
    expect(() => new BodyWriter().u8(256)).toThrow(EncodingError);
    expect(() => new BodyWriter().u32(-1)).toThrow(/u32 field: -1 is not an integer/);
    expect(() => new BodyWriter().u64(2 ** 53)).toThrow(EncodingError);
    expect(() => new BodyWriter().varint(1.5)).toThrow(EncodingError);
  });

  it('random bodies read as any field sequence only ever throw MalformedFrameError', () => {
    const kinds = ['u8', 'bool', 'u16', 'u32', 'u64', 'varint', 'bytes', 'string'] as const;
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.array(fc.constantFrom(...kinds), { maxLength: 10 }),
        (body, sequence) => {
          const r = new BodyReader(body);
          try {
            for (const kind of sequence) read(r, kind);
            r.end();
          } catch (e) {
            expect(e).toBeInstanceOf(MalformedFrameError);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
