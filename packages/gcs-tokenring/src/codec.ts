import { MalformedFrameError } from '@vcl/core';

// A small field writer/reader for the token ring's wire messages: unsigned LEB128 varints (up to
// 2^53), length-prefixed bytes. Kept apart from the message layouts (wire.ts) so it can be swapped
// for @vcl/core's link field codec once that lands on main.

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Appends fields to a growing buffer. */
export class ByteWriter {
  private buf: Uint8Array;
  private len = 0;

  constructor(capacity = 64) {
    this.buf = new Uint8Array(capacity);
  }

  /** One byte. */
  u8(v: number): this {
    this.room(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  /** A non-negative integer up to 2^53 - 1, as an unsigned LEB128 varint. */
  uint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not a non-negative safe integer: ${v}`);
    this.room(8);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
    return this;
  }

  /** A boolean as one byte. */
  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }

  /** Length-prefixed bytes. */
  bytes(v: Uint8Array): this {
    this.uint(v.length);
    this.room(v.length);
    this.buf.set(v, this.len);
    this.len += v.length;
    return this;
  }

  /** A list of non-negative integers, length-prefixed. */
  uints(vs: readonly number[]): this {
    this.uint(vs.length);
    for (const v of vs) this.uint(v);
    return this;
  }

  /** The bytes written so far (a copy-free view). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
}

/** Reads fields written by `ByteWriter`; every read is bounds-checked and throws `MalformedFrameError`. */
export class ByteReader {
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {}

  /** Bytes not read yet. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** One byte. */
  u8(): number {
    if (this.pos >= this.buf.length) throw new MalformedFrameError('token ring message truncated');
    return this.buf[this.pos++]!;
  }

  /** A varint written by `ByteWriter.uint`. */
  uint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      const b = this.u8();
      v += (b & 0x7f) * scale;
      if (v > MAX_SAFE) throw new MalformedFrameError('token ring message: integer out of range');
      if (b < 0x80) return v;
      scale *= 0x80;
      if (i >= 7) throw new MalformedFrameError('token ring message: integer too long');
    }
  }

  /** A varint that must be at most `max` (counts, indexes). */
  bounded(max: number, what: string): number {
    const v = this.uint();
    if (v > max) throw new MalformedFrameError(`token ring message: ${what} ${v} exceeds ${max}`);
    return v;
  }

  /** A boolean byte (0 or 1). */
  bool(): boolean {
    const b = this.u8();
    if (b > 1) throw new MalformedFrameError(`token ring message: bad boolean ${b}`);
    return b === 1;
  }

  /** Length-prefixed bytes (a copy, so the caller may keep it). */
  bytes(): Uint8Array {
    const n = this.uint();
    if (n > this.remaining) throw new MalformedFrameError(`token ring message: field of ${n} bytes truncated`);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A length-prefixed list of varints with at most `maxCount` entries. */
  uints(maxCount: number, what: string): number[] {
    const n = this.bounded(Math.min(maxCount, this.remaining), `${what} count`);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.uint();
    return out;
  }

  /** Throws unless every byte was read. */
  end(): void {
    if (this.pos !== this.buf.length)
      throw new MalformedFrameError(`token ring message: ${this.buf.length - this.pos} trailing bytes`);
  }
}
