import { MalformedFrameError } from '@vcl/core';
import fc from 'fast-check';
import { Reader, Writer } from './codec';

describe('Writer/Reader', () => {
  it('round-trips varints up to 2^53 - 1 and byte strings', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.maxSafeNat(), fc.uint8Array({ maxLength: 300 }))), (fields) => {
        const w = new Writer(1);
        for (const f of fields) typeof f === 'number' ? w.uint(f) : w.bytes(f);
        const r = new Reader(w.finish());
        for (const f of fields) expect(typeof f === 'number' ? r.uint() : r.bytes()).toEqual(f);
        expect(r.done).toBe(true);
      }),
    );
  });

  it('rejects negative or fractional integers when writing', () => {
    expect(() => new Writer().uint(-1)).toThrow(RangeError);
    expect(() => new Writer().uint(1.5)).toThrow('not an unsigned safe integer: 1.5');
  });

  it('names truncation and overlong varints with MalformedFrameError', () => {
    expect(() => new Reader(new Uint8Array([0x80])).uint()).toThrow(MalformedFrameError);
    expect(() => new Reader(new Uint8Array(9).fill(0xff)).uint()).toThrow('varint too long');
    expect(() => new Reader(new Uint8Array([5, 1, 2])).bytes()).toThrow('frame truncated (5 bytes expected)');
    expect(() => new Reader(new Uint8Array([])).u8()).toThrow('frame truncated (byte expected)');
    expect(() => new Reader(new Uint8Array([9])).uintMax(3, 'status')).toThrow('status 9 out of range (max 3)');
  });
});
