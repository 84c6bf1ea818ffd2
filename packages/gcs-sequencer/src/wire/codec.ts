import { MalformedFrameError } from '@vcl/core';

// A small local field writer/reader: unsigned varints (up to 2^53), byte strings and raw bytes.
// Kept in its own file so it can be swapped for the shared link codec of @vcl/core without
// touching the protocol.

const TWO_POW_7 = 128;

/** Appends fields to a growing byte buffer. */
export class Writer {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  /** Writes one byte. */
  u8(v: number): this {
    this.reserve(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  /** Writes an unsigned integer (0..2^53-1) as a LEB128 varint. */
  uint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not an unsigned safe integer: ${v}`);
    this.reserve(8);
    while (v >= TWO_POW_7) {
      this.buf[this.pos++] = (v % TWO_POW_7) | 0x80;
      v = Math.floor(v / TWO_POW_7);
    }
    this.buf[this.pos++] = v;
    return this;
  }

  /** Writes a length-prefixed byte string. */
  bytes(b: Uint8Array): this {
    this.uint(b.length);
    return this.raw(b);
  }

  /** Writes bytes as they are (no length). */
  raw(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** The bytes written (a copy-free view; do not write after taking it). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
}

/** Reads fields written by `Writer`; every overrun or bad field throws `MalformedFrameError`. */
export class Reader {
  private pos: number;

  constructor(
    private readonly buf: Uint8Array,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  /** Whether every byte was read. */
  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Bytes left. */
  get remaining(): number {
    return this.end - this.pos;
  }

  /** Reads one byte. */
  u8(): number {
    if (this.pos >= this.end) throw new MalformedFrameError('frame truncated (byte expected)');
    return this.buf[this.pos++]!;
  }

  /** Reads a varint. */
  uint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw new MalformedFrameError('frame truncated (varint)');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(result)) throw new MalformedFrameError('varint out of range');
        return result;
      }
      scale *= TWO_POW_7;
    }
    throw new MalformedFrameError('varint too long');
  }

  /** Reads a varint that must not exceed `max`. */
  uintMax(max: number, what: string): number {
    const v = this.uint();
    if (v > max) throw new MalformedFrameError(`${what} ${v} out of range (max ${max})`);
    return v;
  }

  /** Reads a length-prefixed byte string (copied, so the frame can be released). */
  bytes(): Uint8Array {
    const n = this.uint();
    return this.raw(n);
  }

  /** Reads `n` raw bytes (copied). */
  raw(n: number): Uint8Array {
    if (n > this.end - this.pos) throw new MalformedFrameError(`frame truncated (${n} bytes expected)`);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A reader over the next `n` bytes; this reader skips them. */
  sub(n: number): Reader {
    if (n > this.end - this.pos) throw new MalformedFrameError(`frame truncated (record of ${n} bytes)`);
    const r = new Reader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }
}
